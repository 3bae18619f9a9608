package billing

import (
	"encoding/json"
	"errors"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// ClaimResultParameters prints the output of Encounter/$claim as an R4
// Parameters resource (profiles/operationdefinitions/Encounter-claim.json):
// "claim" (the Claim as stored) and "outcome", an OperationOutcome with an
// error per claim edit the Claim fails and the informational notes ("All
// OK" when there are none).
func ClaimResultParameters(res *ClaimResult) ([]byte, error) {
	if res == nil || res.Claim == nil {
		return nil, errors.New("billing: no claim to print")
	}
	b, err := res.Claim.Marshal()
	if err != nil {
		return nil, err
	}
	issues := append(EditIssues(res.Edits), res.Notes...)
	return json.Marshal(parametersJSON{ResourceType: "Parameters", Parameter: []parameter{
		{Name: "claim", Resource: b},
		{Name: "outcome", Resource: resource.Outcome(issues...)},
	}})
}

// RemitResultParameters prints the output of Claim/[id]/$remit
// (profiles/operationdefinitions/Claim-remit.json):
// "claimResponse" and "invoice", as stored.
func RemitResultParameters(res *RemitResult) ([]byte, error) {
	if res == nil || res.ClaimResponse == nil || res.Invoice == nil {
		return nil, errors.New("billing: no remittance to print")
	}
	cr, err := res.ClaimResponse.Marshal()
	if err != nil {
		return nil, err
	}
	inv, err := res.Invoice.Marshal()
	if err != nil {
		return nil, err
	}
	return json.Marshal(parametersJSON{ResourceType: "Parameters", Parameter: []parameter{
		{Name: "claimResponse", Resource: cr},
		{Name: "invoice", Resource: inv},
	}})
}
