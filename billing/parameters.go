package billing

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// The output Parameters of $bill and $translate are printed here as JSON
// rather than built as protos: google/fhir/go v0.7.4 cannot print (or
// parse) a Parameters whose parameter holds a resource, because it keeps
// Parameters.parameter.resource as an Any it only expands for
// "contained".

// parameter is one Parameters.parameter as printed.
type parameter struct {
	Name         string          `json:"name"`
	Resource     json.RawMessage `json:"resource,omitempty"`
	ValueBoolean *bool           `json:"valueBoolean,omitempty"`
	ValueCode    string          `json:"valueCode,omitempty"`
	ValueString  string          `json:"valueString,omitempty"`
	ValueURI     string          `json:"valueUri,omitempty"`
	ValueCoding  *codingJSON     `json:"valueCoding,omitempty"`
	Part         []parameter     `json:"part,omitempty"`
}

type codingJSON struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type parametersJSON struct {
	ResourceType string      `json:"resourceType"`
	Parameter    []parameter `json:"parameter"`
}

// BillResultParameters prints the output of Encounter/$bill as an R4
// Parameters resource (profiles/operationdefinitions/Encounter-bill.json):
// "invoice" (the Invoice), one "chargeItem" per ChargeItem in line order,
// and "outcome", an OperationOutcome with a warning per service not billed
// and the result's informational notes ("All OK" when there are none).
func BillResultParameters(res *Result) ([]byte, error) {
	if res == nil || res.Invoice == nil {
		return nil, errors.New("billing: no result to print")
	}
	out := parametersJSON{ResourceType: "Parameters"}
	b, err := res.Invoice.Marshal()
	if err != nil {
		return nil, err
	}
	out.Parameter = append(out.Parameter, parameter{Name: "invoice", Resource: b})
	for _, ci := range res.ChargeItems {
		b, err := ci.Marshal()
		if err != nil {
			return nil, err
		}
		out.Parameter = append(out.Parameter, parameter{Name: "chargeItem", Resource: b})
	}

	var issues []resource.Issue
	for _, u := range res.NotBilled {
		issues = append(issues, resource.Issue{
			Severity: resource.SeverityWarning, Code: resource.IssueProcessing,
			Expression:  []string{"ChargeItem"},
			Diagnostics: fmt.Sprintf("ChargeItem/%s was not billed: %s", u.ChargeItemID, u.Reason),
		})
	}
	issues = append(issues, res.Notes...)
	out.Parameter = append(out.Parameter, parameter{Name: "outcome", Resource: resource.Outcome(issues...)})
	return json.Marshal(out)
}

// TranslateParameters prints the output of ConceptMap/$translate
// (profiles/operationdefinitions/ConceptMap-translate.json): "result"
// (true when there is a translation), a "message" when there is none, and
// one "match" per translation, best first, with its equivalence, concept
// and source ConceptMap.
func TranslateParameters(ts []Translation) ([]byte, error) {
	ok := len(ts) > 0
	out := parametersJSON{ResourceType: "Parameters"}
	out.Parameter = append(out.Parameter, parameter{Name: "result", ValueBoolean: &ok})
	if !ok {
		out.Parameter = append(out.Parameter, parameter{Name: "message",
			ValueString: "no ConceptMap translates this code to the target system"})
	}
	for _, t := range ts {
		out.Parameter = append(out.Parameter, parameter{Name: "match", Part: []parameter{
			{Name: "equivalence", ValueCode: t.Equivalence},
			{Name: "concept", ValueCoding: &codingJSON{System: t.System, Code: t.Code, Display: t.Display}},
			{Name: "source", ValueURI: t.ConceptMap},
		}})
	}
	return json.Marshal(out)
}
