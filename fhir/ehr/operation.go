package ehr

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"
)

// OperationName is the system operation that runs a sync over HTTP:
// POST [base]/$ehr-sync?ehr=NAME.
const OperationName = "ehr-sync"

// Operation returns $ehr-sync, to register with
// [rest.Server.RegisterOperation]. It runs one sync of the connection
// named by the ehr parameter (in the URL or a Parameters body) and
// answers a Parameters resource with the summary's counts. A sync already
// running is a 409. It creates and updates resources of every type it
// pulls, and whatever billing them writes: a caller needs search, create
// and update on every type (system/*.crus, or v1 system/*.*).
func (s *Syncer) Operation() *rest.Operation {
	return &rest.Operation{
		Name:       OperationName,
		Definition: "urn:fhirbill:OperationDefinition/ehr-sync",
		Writes:     []string{"*"},
		// A sync is the server's own work, asked for by staff.
		NotForPatients: true,
		Handle:         s.handleOperation,
	}
}

func (s *Syncer) handleOperation(ctx context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
	if req.Method != http.MethodPost {
		return nil, resource.Errorf(http.StatusMethodNotAllowed, resource.IssueNotSupported, "",
			"$%s changes data: use POST", OperationName)
	}
	name, err := syncInput(req)
	if err != nil {
		return nil, err
	}

	sum, err := s.Sync(ctx, name, nil)
	switch {
	case errors.Is(err, ErrUnknown):
		return nil, resource.Errorf(http.StatusNotFound, resource.IssueNotFound, "Parameters.parameter",
			"no EHR connection has that name")
	case errors.Is(err, ErrBusy):
		return nil, resource.Errorf(http.StatusConflict, resource.IssueConflict, "",
			"a sync of this connection is already running")
	case err != nil:
		return nil, resource.Errorf(http.StatusBadGateway, resource.IssueException, "",
			"the sync stopped before the end; what was stored stays, and the next sync resumes: %s", syncFault(err))
	}

	type param struct {
		Name         string `json:"name"`
		ValueString  string `json:"valueString,omitempty"`
		ValueInteger *int   `json:"valueInteger,omitempty"`
	}
	n := func(name string, v int) param { return param{Name: name, ValueInteger: &v} }
	out := struct {
		ResourceType string  `json:"resourceType"`
		Parameter    []param `json:"parameter"`
	}{ResourceType: "Parameters", Parameter: []param{
		{Name: "ehr", ValueString: name},
		n("pulled", sum.PulledTotal()), n("created", sum.Created), n("updated", sum.Updated),
		n("unchanged", sum.Unchanged), n("billed", sum.Billed), n("skipped", len(sum.Skipped)),
	}}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &rest.OperationResponse{Status: http.StatusOK, Body: body}, nil
}

// syncFault is what a client is told of a failed sync: the EHR's status,
// never an internal error's text.
func syncFault(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Error()
	}
	return "see the server log"
}

// syncInput reads the one input of $ehr-sync, the ehr parameter, from the
// URL or a Parameters body. As $translate does, it refuses any other
// parameter and one given twice (in the URL, the body or both), rather
// than guess which was meant.
func syncInput(req *rest.OperationRequest) (string, error) {
	var names []string
	for k, vs := range req.Query {
		if k != "ehr" {
			return "", resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, truncate(k),
				"parameter %s is not an input of $%s, which takes ehr", truncate(k), OperationName)
		}
		names = append(names, vs...)
	}
	if len(req.Body) > 0 {
		ps, err := bodyParameters(req.Body)
		if err != nil {
			return "", err
		}
		for i, p := range ps {
			expr := "Parameters.parameter[" + strconv.Itoa(i) + "]"
			if p.Name != "ehr" {
				return "", resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, expr,
					"parameter %q is not an input of $%s, which takes ehr", truncate(p.Name), OperationName)
			}
			if p.ValueString == nil || len(p.Resource) > 0 {
				return "", resource.Errorf(http.StatusBadRequest, resource.IssueInvalid, expr,
					"parameter ehr is a valueString, the name of the connection, not a resource or another type")
			}
			names = append(names, *p.ValueString)
		}
		// Validated as any resource is, once its parameters are known
		// to hold no resource, which jsonformat cannot parse there.
		if _, err := resource.Parse(req.Body); err != nil {
			return "", err
		}
	}
	switch {
	case len(names) == 0 || len(names) == 1 && names[0] == "":
		return "", resource.Errorf(http.StatusBadRequest, resource.IssueRequired, "Parameters.parameter",
			"name the connection with the ehr parameter")
	case len(names) > 1:
		return "", resource.Errorf(http.StatusBadRequest, resource.IssueInvalid, "ehr",
			"parameter ehr is given more than once")
	}
	return names[0], nil
}

type bodyParameter struct {
	Name        string          `json:"name"`
	ValueString *string         `json:"valueString"`
	Resource    json.RawMessage `json:"resource"`
}

// bodyParameters reads the parameters of a Parameters body as JSON.
func bodyParameters(body []byte) ([]bodyParameter, error) {
	var p struct {
		ResourceType string          `json:"resourceType"`
		Parameter    []bodyParameter `json:"parameter"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		if _, perr := resource.Parse(body); perr != nil {
			return nil, perr
		}
		return nil, resource.Errorf(http.StatusBadRequest, resource.IssueStructure, "Parameters",
			"the body is not a valid Parameters resource")
	}
	if p.ResourceType != "Parameters" {
		return nil, resource.Errorf(http.StatusBadRequest, resource.IssueInvalid, "resourceType",
			"the body of $%s is a Parameters resource", OperationName)
	}
	return p.Parameter, nil
}

// truncate shortens a client's string for a message.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
