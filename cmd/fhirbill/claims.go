package main

import (
	"context"
	"net/http"
	"strings"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"
)

// Canonical URLs of the claim operations' definitions: $submit is R4's,
// the others fhirbill's own (profiles/operationdefinitions).
const (
	opClaim  = "https://fhirbill.dev/fhir/OperationDefinition/Encounter-claim"
	opSubmit = "http://hl7.org/fhir/OperationDefinition/Claim-submit"
	opRemit  = "https://fhirbill.dev/fhir/OperationDefinition/Claim-remit"
)

// registerClaims registers the operations that build, submit and
// adjudicate Claims. Each names what a caller writes through it, so that
// its token must allow writing those types: $claim the Claim, $submit the
// Claim and its ClaimResponse, $remit the payer's ClaimResponse. The
// Invoice and the accumulator Account that $remit rewrites follow from
// the payer's answer by billing's rules, as the Invoice $bill writes
// follows from the Encounter: an insurer's token, which sees only
// Claims, ClaimResponses and Coverage, needs no scope on them. $remit is
// invoked on the Claim, so the caller must be able to read it: an
// insurer's client answers only the claims sent to it. While each runs,
// rest holds its reads and writes of the types it names to the caller's
// access (rest.Operation.Writes): $submit of a Claim under the
// identifier of a Claim the caller cannot update is refused, and so is a
// Claim or ClaimResponse it would store outside the caller's access.
//
// A Claim those operations stored and the ClaimResponse at the id they
// give its answer change only through them (billing.CheckClaimWrite,
// billing.CheckClaimResponseWrite), no client creates a Claim or a
// ClaimResponse at an id they give (billing.CheckClaimCreate,
// billing.CheckClaimResponseCreate), and a payer's adjudication of such
// a Claim is taken only by $remit.
func registerClaims(api *rest.Server, b *billing.Biller) {
	api.RegisterWriteCheck("Claim", billing.CheckClaimWrite)
	api.RegisterWriteCheck("ClaimResponse", billing.CheckClaimResponseWrite)
	api.RegisterCreateCheck("ClaimResponse", billing.CheckClaimResponseCreate)
	api.RegisterCreateCheck("Claim", billing.CheckClaimCreate)
	api.RegisterOperation(&rest.Operation{
		Name: "claim", Definition: opClaim, Types: []string{"Encounter"}, Instance: true,
		NotForPatients: true,
		Writes:         []string{"Claim"},
		Handle: func(ctx context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
			in, err := postParameters(req, []string{"coverage"})
			if err != nil {
				return nil, err
			}
			cov := ""
			if in["coverage"] != nil {
				typ, id, ok := strings.Cut(in.ref("coverage"), "/")
				if !ok || typ != "Coverage" || !resource.ValidID(id) {
					return nil, resource.Errorf(http.StatusBadRequest, resource.IssueInvalid,
						"Parameters.parameter.where(name = 'coverage')",
						"coverage is a reference of the form Coverage/[id]")
				}
				cov = id
			}
			res, err := b.BuildClaim(ctx, req.ID, cov)
			if err != nil {
				return nil, err
			}
			body, err := billing.ClaimResultParameters(res)
			if err != nil {
				return nil, err
			}
			return &rest.OperationResponse{Status: http.StatusOK, Body: body}, nil
		},
	})

	api.RegisterOperation(&rest.Operation{
		Name: "submit", Definition: opSubmit, Types: []string{"Claim"}, Type: true,
		NotForPatients: true,
		Writes:         []string{"Claim", "ClaimResponse"},
		Handle: func(ctx context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
			r, err := resourceInput(req, "Claim")
			if err != nil {
				return nil, err
			}
			cr, err := b.Submit(ctx, r)
			if err != nil {
				return nil, err
			}
			// The only output is "return", a resource: R4 answers it as
			// the body (https://hl7.org/fhir/R4/operations.html#response).
			return resourceResponse(cr)
		},
	})

	api.RegisterOperation(&rest.Operation{
		Name: "remit", Definition: opRemit, Types: []string{"Claim"}, Instance: true,
		NotForPatients: true,
		Writes:         []string{"ClaimResponse"},
		Handle: func(ctx context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
			r, err := resourceInput(req, "ClaimResponse")
			if err != nil {
				return nil, err
			}
			res, err := b.Remit(ctx, req.ID, r)
			if err != nil {
				return nil, err
			}
			body, err := billing.RemitResultParameters(res)
			if err != nil {
				return nil, err
			}
			return &rest.OperationResponse{Status: http.StatusOK, Body: body}, nil
		},
	})
}

// resourceInput reads the "resource" input of an operation posted with a
// resource of type typ (alone, in a Bundle, or in Parameters).
func resourceInput(req *rest.OperationRequest, typ string) (*resource.Resource, error) {
	if req.Method != http.MethodPost {
		return nil, resource.Errorf(http.StatusMethodNotAllowed, resource.IssueNotSupported, "",
			"$%s changes data and is invoked with POST", req.Name)
	}
	if len(req.Query) > 0 {
		return nil, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, "",
			"$%s takes its input in the body", req.Name)
	}
	return billing.OperationResource(req.Body, "resource", typ)
}
