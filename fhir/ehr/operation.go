package ehr

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

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
	name := req.Query.Get("ehr")
	if name == "" && len(req.Body) > 0 {
		name = parameter(req.Body, "ehr")
	}
	if name == "" {
		return nil, resource.Errorf(http.StatusBadRequest, resource.IssueRequired, "Parameters.parameter",
			"name the connection with the ehr parameter")
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

// parameter returns the valueString of the named parameter of a
// Parameters body.
func parameter(body []byte, name string) string {
	var p struct {
		Parameter []struct {
			Name        string `json:"name"`
			ValueString string `json:"valueString"`
		} `json:"parameter"`
	}
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	for _, x := range p.Parameter {
		if x.Name == name {
			return x.ValueString
		}
	}
	return ""
}
