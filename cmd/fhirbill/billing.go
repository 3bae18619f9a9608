package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/profiles"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	parpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/parameters_go_proto"
)

// This file connects the billing domain to the REST API: billing reads and
// writes through the API's own validated paths (records), and its
// operations are registered as FHIR operations.

// records gives billing the REST server's reads, searches and commits.
type records struct {
	api *rest.Server
	st  *store.Store
}

// Read reads through the API; for a resource whose current version is a
// delete it also gives that version, which a Change writing over the
// delete names as its Prev (billing.Records), from the store, since the
// API's read gives none.
func (r records) Read(ctx context.Context, typ, id string) (*resource.Resource, int64, error) {
	res, v, err := r.api.ReadResource(ctx, typ, id)
	if errors.Is(err, resource.ErrDeleted) {
		rec, derr := r.st.Read(ctx, typ, id)
		if errors.Is(derr, resource.ErrDeleted) && rec != nil {
			return nil, rec.Version, err
		}
	}
	return res, v, err
}

func (r records) Search(ctx context.Context, typ string, params url.Values) ([]*resource.Resource, error) {
	return r.api.SearchResources(ctx, typ, params)
}

func (r records) Commit(ctx context.Context, changes []billing.Change) error {
	cs := make([]rest.Change, len(changes))
	for i, c := range changes {
		cs[i] = rest.Change{Resource: c.Resource, Prev: c.Prev}
	}
	_, err := r.api.Commit(ctx, cs)
	return err
}

// Canonical URLs of the operations' definitions (profiles/operationdefinitions).
const (
	opBill      = "https://fhirbill.dev/fhir/OperationDefinition/Encounter-bill"
	opIssue     = "https://fhirbill.dev/fhir/OperationDefinition/Invoice-issue"
	opCancel    = "https://fhirbill.dev/fhir/OperationDefinition/Invoice-cancel"
	opApply     = "http://hl7.org/fhir/OperationDefinition/ChargeItemDefinition-apply"
	opTranslate = "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate"
)

// registerBilling registers the billing operations on api, and the rules
// that keep clients from changing an Invoice past draft by other means,
// and the plan year's accumulator Account and the ChargeItems billing
// captured by any.
func registerBilling(api *rest.Server, b *billing.Biller) {
	api.RegisterWriteCheck("Invoice", billing.CheckInvoiceWrite)
	api.RegisterCreateCheck("Invoice", billing.CheckInvoiceCreate)
	api.RegisterWriteCheck("Account", billing.CheckAccountWrite)
	api.RegisterCreateCheck("Account", billing.CheckAccountCreate)
	api.RegisterWriteCheck("ChargeItem", billing.CheckChargeItemWrite)
	api.RegisterCreateCheck("ChargeItem", billing.CheckChargeItemCreate)
	// Each operation names what it writes, so that a caller needs create
	// and update access to it (rest.Operation.Writes): $bill stores the
	// ChargeItems, the Invoice and the plan year's Account.
	api.RegisterOperation(&rest.Operation{
		Name: "bill", Definition: opBill, Types: []string{"Encounter"}, Instance: true, NotForPatients: true,
		Writes: []string{"ChargeItem", "Invoice", "Account"},
		Handle: func(ctx context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
			if _, err := postParameters(req, nil); err != nil {
				return nil, err
			}
			res, err := b.Bill(ctx, req.ID)
			if err != nil {
				return nil, err
			}
			body, err := billing.BillResultParameters(res)
			if err != nil {
				return nil, err
			}
			return &rest.OperationResponse{Status: http.StatusOK, Body: body}, nil
		},
	})

	status := func(name, def, status string, params, writes []string) *rest.Operation {
		return &rest.Operation{
			Name: name, Definition: def, Types: []string{"Invoice"}, Instance: true, Writes: writes,
			NotForPatients: true,
			Handle: func(ctx context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
				in, err := postParameters(req, params)
				if err != nil {
					return nil, err
				}
				inv, err := b.SetInvoiceStatus(ctx, req.ID, status, in.str("reason"))
				if err != nil {
					return nil, err
				}
				return resourceResponse(inv)
			},
		}
	}
	// $issue updates the Invoice (no Writes: update of the type invoked
	// on); $cancel also gives the deductible back to the Account, and
	// cancels the Invoice's Claims not yet adjudicated. Those follow from
	// the Invoice by billing's rules, as $remit's Invoice follows from the
	// payer's answer: no Claim scope is asked of the caller, and the
	// Claims it cannot see are still found, so that no adjudicated one
	// escapes the refusal to cancel a remitted Invoice.
	api.RegisterOperation(status("issue", opIssue, "issued", nil, nil))
	api.RegisterOperation(status("cancel", opCancel, "cancelled", []string{"reason"}, []string{"Invoice", "Account"}))

	// $apply prices a ChargeItem without storing it: a read of the
	// definition and of the ChargeItem, which the caller must be allowed.
	api.RegisterOperation(&rest.Operation{
		Name: "apply", Definition: opApply, Types: []string{"ChargeItemDefinition"}, Instance: true, ReadOnly: true,
		Handle: func(ctx context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
			if req.Method != http.MethodPost {
				// http://hl7.org/fhir/R4/operations.html: only an
				// operation that does not affect state is invoked with GET.
				return nil, resource.Errorf(http.StatusMethodNotAllowed, resource.IssueNotSupported, "",
					"$apply is invoked with POST: R4 defines it as affecting state (OperationDefinition "+
						"ChargeItemDefinition-apply, affectsState true), though fhirbill stores nothing")
			}
			in, err := postParameters(req, []string{"chargeItem", "account"})
			if err != nil {
				return nil, err
			}
			ref := in.ref("chargeItem")
			typ, id, ok := strings.Cut(ref, "/")
			if !ok || typ != "ChargeItem" || !resource.ValidID(id) {
				return nil, resource.Errorf(http.StatusBadRequest, resource.IssueRequired, "Parameters.parameter.where(name = 'chargeItem')",
					"$apply needs the parameter chargeItem, a reference of the form ChargeItem/[id]")
			}
			def, _, err := api.ReadResource(ctx, "ChargeItemDefinition", req.ID)
			if err != nil {
				return nil, err
			}
			ci, _, err := api.ReadAsCaller(ctx, "ChargeItem", id)
			if err != nil {
				return nil, notFoundAs(err, "Parameters.parameter.where(name = 'chargeItem')", ref)
			}
			priced, err := b.Apply(ctx, def, ci)
			if err != nil {
				return nil, err
			}
			return resourceResponse(priced)
		},
	})

	api.RegisterOperation(&rest.Operation{
		Name: "translate", Definition: opTranslate, Types: []string{"ConceptMap"}, Type: true, ReadOnly: true,
		Handle: func(ctx context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
			in, err := translateInput(req)
			if err != nil {
				return nil, err
			}
			system, code := in.str("system"), in.str("code")
			if c := in.coding("coding"); c != nil {
				if code != "" || system != "" {
					return nil, resource.Errorf(http.StatusBadRequest, resource.IssueInvalid, "coding",
						"give either coding or system and code, not both")
				}
				system, code = c.GetSystem().GetValue(), c.GetCode().GetValue()
			}
			ts, err := b.Translate(ctx, system, code, in.str("targetsystem"))
			if err != nil {
				return nil, err
			}
			body, err := billing.TranslateParameters(ts)
			if err != nil {
				return nil, err
			}
			return &rest.OperationResponse{Status: http.StatusOK, Body: body}, nil
		},
	})
}

// resourceResponse answers 200 with r.
func resourceResponse(r *resource.Resource) (*rest.OperationResponse, error) {
	body, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	return &rest.OperationResponse{Status: http.StatusOK, Body: body}, nil
}

// notFoundAs turns a missing resource named by a parameter into a 400 that
// names the parameter; other errors pass.
func notFoundAs(err error, expression, ref string) error {
	var re *resource.Error
	if errors.As(err, &re) && re.Status == http.StatusNotFound || errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted) {
		return resource.Errorf(http.StatusBadRequest, resource.IssueNotFound, expression, "%s does not exist", ref)
	}
	return err
}

// opInput is the input Parameters of an operation, by name.
type opInput map[string]*parpb.Parameters_Parameter

func (in opInput) str(name string) string {
	p := in[name]
	if p == nil {
		return ""
	}
	v := p.GetValue()
	switch {
	case v.GetStringValue() != nil:
		return v.GetStringValue().GetValue()
	case v.GetCode() != nil:
		return v.GetCode().GetValue()
	case v.GetUri() != nil:
		return v.GetUri().GetValue()
	}
	return ""
}

func (in opInput) ref(name string) string {
	return resource.ReferenceString(in[name].GetValue().GetReference())
}

func (in opInput) coding(name string) *dtpb.Coding {
	return in[name].GetValue().GetCoding()
}

// postParameters checks an operation that changes state: it is invoked
// with POST, and its body is empty or a Parameters resource holding at
// most once each of the allowed parameters.
func postParameters(req *rest.OperationRequest, allowed []string) (opInput, error) {
	if req.Method != http.MethodPost {
		return nil, resource.Errorf(http.StatusMethodNotAllowed, resource.IssueNotSupported, "",
			"$%s changes data and is invoked with POST", req.Name)
	}
	if len(req.Query) > 0 {
		return nil, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, "",
			"$%s takes its parameters in the body", req.Name)
	}
	if len(strings.TrimSpace(string(req.Body))) == 0 {
		return opInput{}, nil
	}
	return parseParameters(req.Body, allowed)
}

// translateInput reads the input of $translate: from the query string on
// GET, from a Parameters body on POST.
func translateInput(req *rest.OperationRequest) (opInput, error) {
	allowed := []string{"system", "code", "coding", "targetsystem"}
	unsupported := "url, conceptMap, conceptMapVersion, version, source, target, codeableConcept, dependency and reverse are not supported: give system and code (or coding) and, optionally, targetsystem"
	if req.Method == http.MethodPost {
		if len(req.Query) > 0 {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, "",
				"$translate with POST takes its parameters in the body")
		}
		in, err := parseParameters(req.Body, allowed)
		if err != nil {
			var re *resource.Error
			if errors.As(err, &re) && re.Issues[0].Code == resource.IssueNotSupported {
				re.Issues[0].Diagnostics += "; " + unsupported
			}
		}
		return in, err
	}
	in := opInput{}
	for name, vs := range req.Query {
		if !slices.Contains(allowed, name) || name == "coding" {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, name,
				"parameter %s: %s", name, unsupported)
		}
		if len(vs) != 1 {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueInvalid, name,
				"parameter %s is given more than once", name)
		}
		in[name] = &parpb.Parameters_Parameter{Value: &parpb.Parameters_Parameter_ValueX{
			Choice: &parpb.Parameters_Parameter_ValueX_StringValue{StringValue: &dtpb.String{Value: vs[0]}}}}
	}
	return in, nil
}

// parseParameters parses body as a Parameters resource whose parameters
// are among allowed, each at most once.
func parseParameters(body []byte, allowed []string) (opInput, error) {
	if err := refuseResources(body, allowed); err != nil {
		return nil, err
	}
	r, err := resource.Parse(body)
	if err != nil {
		return nil, err
	}
	ps, ok := r.Proto().(*parpb.Parameters)
	if !ok {
		return nil, resource.Errorf(http.StatusBadRequest, resource.IssueInvalid, "",
			"the body must be a Parameters resource, not %s", r.Type())
	}
	in := opInput{}
	for i, p := range ps.GetParameter() {
		name := p.GetName().GetValue()
		expr := "Parameters.parameter[" + strconv.Itoa(i) + "]"
		if !slices.Contains(allowed, name) {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, expr,
				"parameter %q is not an input of this operation", name)
		}
		if in[name] != nil {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueInvalid, expr,
				"parameter %q is given more than once", name)
		}
		in[name] = p
	}
	return in, nil
}

// refuseResources refuses, in order, a parameter that is not among
// allowed and one holding a resource: none of the inputs parseParameters
// reads is a resource, and jsonformat, which cannot parse a resource in a
// Parameters (billing/parameters.go), would call its resourceType an
// unknown element. Other faults are left to resource.Parse.
func refuseResources(body []byte, allowed []string) error {
	var ps struct {
		Parameter []struct {
			Name     string          `json:"name"`
			Resource json.RawMessage `json:"resource"`
		} `json:"parameter"`
	}
	if json.Unmarshal(body, &ps) != nil {
		return nil
	}
	for i, p := range ps.Parameter {
		expr := "Parameters.parameter[" + strconv.Itoa(i) + "]"
		switch {
		case !slices.Contains(allowed, p.Name):
			return resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, expr,
				"parameter %q is not an input of this operation", p.Name)
		case len(p.Resource) > 0:
			return resource.Errorf(http.StatusBadRequest, resource.IssueInvalid, expr+".resource",
				"parameter %q takes a value (valueReference, valueString, ...), not a resource", p.Name)
		}
	}
	return nil
}

// startBilling stores fhirbill's conformance resources, builds the
// Biller over api and st and registers its operations.
func startBilling(ctx context.Context, api *rest.Server, st *store.Store, currency string, logger *slog.Logger) (*billing.Biller, error) {
	if err := seedConformance(ctx, api); err != nil {
		return nil, err
	}
	b := billing.NewBiller(billing.Config{
		Records:      records{api: api, st: st},
		FeeSchedules: newFeeSchedules(st),
		Currency:     currency,
		Logger:       logger,
	})
	registerBilling(api, b)
	registerClaims(api, b)
	// A patient's app shows these; billing, its staff, EHRs and payers
	// change them, never the patient (DESIGN.md, "Who uses it").
	api.RegisterReadOnlyForPatients("ChargeItem", "Invoice", "Account", "Claim", "ClaimResponse")
	return b, nil
}

// seedConformance stores the conformance resources of profiles.Conformance
// (the extensions, code systems and OperationDefinitions the
// CapabilityStatement names), so that their canonical URLs resolve on this
// server. One left as shipped is not written again; a replica starting at
// the same moment may win the write.
func seedConformance(ctx context.Context, api *rest.Server) error {
	return fs.WalkDir(profiles.Conformance, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(profiles.Conformance, name)
		if err != nil {
			return err
		}
		r, err := resource.Parse(body)
		if err != nil {
			return fmt.Errorf("conformance resource %s: %w", name, err)
		}
		_, v, err := api.ReadResource(ctx, r.Type(), r.ID())
		if err != nil && !errors.Is(err, resource.ErrNotFound) && !errors.Is(err, resource.ErrDeleted) {
			return fmt.Errorf("conformance resource %s: %w", name, err)
		}
		_, err = api.Commit(ctx, []rest.Change{{Resource: r, Prev: v}})
		if err != nil && !errors.Is(err, resource.ErrConflict) {
			return fmt.Errorf("conformance resource %s: %w", name, err)
		}
		return nil
	})
}
