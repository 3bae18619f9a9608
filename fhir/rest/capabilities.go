package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
)

// The interactions every resource type supports, as the routes in
// routes.go serve them. The CapabilityStatement is built from this list,
// the search registry and the registered operations, so it cannot drift
// from what the server does.
var typeInteractions = []string{"read", "vread", "update", "delete", "history-instance", "history-type", "create", "search-type"}

// AuthOffNotice is what the CapabilityStatement says when the server runs
// without an Authorizer.
const AuthOffNotice = "AUTHORIZATION IS OFF: every request is served without a token; for local trials only"

type capabilityJSON struct {
	ResourceType   string        `json:"resourceType"`
	Status         string        `json:"status"`
	Date           string        `json:"date"`
	Publisher      string        `json:"publisher"`
	Kind           string        `json:"kind"`
	Software       *softwareJSON `json:"software"`
	Implementation *implJSON     `json:"implementation"`
	FHIRVersion    string        `json:"fhirVersion"`
	Format         []string      `json:"format"`
	Rest           []restJSON    `json:"rest"`
}

type softwareJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type implJSON struct {
	Description string `json:"description"`
	URL         string `json:"url"`
}

type restJSON struct {
	Mode          string          `json:"mode"`
	Documentation string          `json:"documentation,omitempty"`
	Security      json.RawMessage `json:"security,omitempty"`
	Resource      []capResource   `json:"resource"`
	Interaction   []codeJSON      `json:"interaction"`
	SearchParam   []capSearch     `json:"searchParam,omitempty"`
	Operation     []capOperation  `json:"operation,omitempty"`
}

type codeJSON struct {
	Code string `json:"code"`
}

type capResource struct {
	Type              string         `json:"type"`
	Interaction       []codeJSON     `json:"interaction"`
	Versioning        string         `json:"versioning"`
	ReadHistory       bool           `json:"readHistory"`
	UpdateCreate      bool           `json:"updateCreate"`
	ConditionalCreate bool           `json:"conditionalCreate"`
	ConditionalRead   string         `json:"conditionalRead"`
	ConditionalUpdate bool           `json:"conditionalUpdate"`
	ConditionalDelete string         `json:"conditionalDelete"`
	SearchParam       []capSearch    `json:"searchParam,omitempty"`
	Operation         []capOperation `json:"operation,omitempty"`
}

type capSearch struct {
	Name          string `json:"name"`
	Definition    string `json:"definition,omitempty"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

type capOperation struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

// handleCapabilities serves GET [base]/metadata
// (https://hl7.org/fhir/R4/http.html#capabilities).
func (s *Server) handleCapabilities(c echo.Context) error {
	return writeJSON(c, http.StatusOK, mustJSON(s.capabilities()))
}

func (s *Server) capabilities() *capabilityJSON {
	cs := &capabilityJSON{
		ResourceType:   "CapabilityStatement",
		Status:         "active",
		Date:           instant(s.started),
		Publisher:      "fhirbill",
		Kind:           "instance",
		Software:       &softwareJSON{Name: "fhirbill", Version: s.version},
		Implementation: &implJSON{Description: "fhirbill FHIR billing server", URL: s.base},
		FHIRVersion:    "4.0.1",
		Format:         []string{"json", "application/fhir+json"},
	}
	rest := restJSON{
		Mode:          "server",
		Documentation: s.limitsDoc(),
		Interaction:   []codeJSON{{"transaction"}, {"batch"}},
	}
	switch {
	case s.auth == nil:
		// Said where every client looks: the server serves anyone.
		rest.Security = json.RawMessage(`{"description":"` + AuthOffNotice + `"}`)
		cs.Implementation.Description += " (" + AuthOffNotice + ")"
	case len(s.secJSON) > 0:
		rest.Security = s.secJSON
	}
	var interactions []codeJSON
	for _, code := range typeInteractions {
		interactions = append(interactions, codeJSON{code})
	}
	for _, typ := range resource.Types() {
		r := capResource{
			Type:              typ,
			Interaction:       interactions,
			Versioning:        "versioned-update",
			ReadHistory:       true,
			UpdateCreate:      true,
			ConditionalCreate: true,
			ConditionalRead:   "full-support",
			ConditionalUpdate: true,
			ConditionalDelete: "single",
		}
		for _, p := range s.reg.Params(typ) {
			if p.Resource != typ {
				continue // the common ones are listed once, below
			}
			r.SearchParam = append(r.SearchParam, capParam(p))
		}
		for _, op := range s.sortedOps() {
			if op.invokable(typ, "") || op.invokable(typ, "x") {
				r.Operation = append(r.Operation, capOperation{Name: op.Name, Definition: op.Definition})
			}
		}
		rest.Resource = append(rest.Resource, r)
	}
	for _, p := range s.reg.Params("Resource") {
		if p.Resource == "Resource" {
			rest.SearchParam = append(rest.SearchParam, capParam(p))
		}
	}
	for _, op := range s.sortedOps() {
		if len(op.Types) == 0 {
			rest.Operation = append(rest.Operation, capOperation{Name: op.Name, Definition: op.Definition})
		}
	}
	cs.Rest = []restJSON{rest}
	return cs
}

func capParam(p *search.Param) capSearch {
	return capSearch{Name: p.Code, Definition: p.URL, Type: string(p.Type), Documentation: p.Description}
}

func (s *Server) sortedOps() []*Operation {
	ops := make([]*Operation, 0, len(s.ops))
	for _, op := range s.ops {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Name < ops[j].Name })
	return ops
}

// limitsDoc states, in CapabilityStatement.rest.documentation (R4 has no
// element for them), the limits a request must keep to.
func (s *Server) limitsDoc() string {
	return fmt.Sprintf("Limits: a request body of at most %d bytes; a batch or transaction Bundle of at most %d "+
		"entries; at most %d JSON values in a resource and %d in a Bundle; decimals of at most %d digits "+
		"before the point and %d after. Past a limit the answer is a 4xx OperationOutcome.",
		s.maxBody, s.maxEnts, resource.MaxValues, resource.MaxBundleValues,
		resource.MaxIntegerDigits, resource.MaxFractionDigits)
}
