package billing

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// OperationResource reads the one resource input of an operation such as
// Claim/$submit: a Parameters resource whose only parameter is name
// holding a resource, or that resource posted as the body (R4 lets an
// operation whose only input is a resource take it as the body), or a
// Bundle holding exactly one resource of type typ among its entries (the
// others, referenced resources, are not stored: the server must have
// them). The resource found must be of type typ. Errors are 400s naming
// the element at fault.
//
// The Parameters are read as JSON here: google/fhir/go v0.7.4 cannot
// parse a Parameters whose parameter holds a resource (see parameters.go).
func OperationResource(body []byte, name, typ string) (*resource.Resource, error) {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, resource.Errorf(statusBadRequest, resource.IssueRequired, "",
			"the body must hold a %s, a Bundle holding it, or Parameters with %q", typ, name)
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, badRequest("", "the body is not a FHIR JSON resource")
	}
	switch head.ResourceType {
	case "Parameters":
		return parameterResource(body, name, typ)
	case "Bundle":
		return bundleResource(body, typ, "Bundle")
	}
	r, err := resource.Parse(body)
	if err != nil {
		return nil, err
	}
	if r.Type() != typ {
		return nil, badRequest("resourceType", "the body holds a %s; this operation takes a %s", r.Type(), typ)
	}
	return r, nil
}

// parameterResource takes the resource of parameter name out of a
// Parameters body.
func parameterResource(body []byte, name, typ string) (*resource.Resource, error) {
	var ps struct {
		Parameter []struct {
			Name     string          `json:"name"`
			Resource json.RawMessage `json:"resource"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(body, &ps); err != nil {
		return nil, badRequest("Parameters", "the Parameters resource is not valid")
	}
	var raw json.RawMessage
	for i, p := range ps.Parameter {
		expr := "Parameters.parameter[" + strconv.Itoa(i) + "]"
		switch {
		case p.Name != name:
			return nil, resource.Errorf(statusBadRequest, resource.IssueNotSupported, expr,
				"parameter %q is not an input of this operation", truncated(p.Name))
		case raw != nil:
			return nil, badRequest(expr, "parameter %q is given more than once", name)
		case len(p.Resource) == 0:
			return nil, resource.Errorf(statusBadRequest, resource.IssueRequired, expr+".resource",
				"parameter %q must hold a resource", name)
		}
		raw = p.Resource
	}
	if raw == nil {
		return nil, resource.Errorf(statusBadRequest, resource.IssueRequired,
			"Parameters.parameter.where(name = '"+name+"')", "the parameter %q is required", name)
	}
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	_ = json.Unmarshal(raw, &head)
	if head.ResourceType == "Bundle" {
		return bundleResource(raw, typ, "Parameters.parameter[0].resource")
	}
	r, err := resource.Parse(raw)
	if err != nil {
		return nil, err
	}
	if r.Type() != typ {
		return nil, badRequest("Parameters.parameter[0].resource",
			"parameter %q holds a %s; this operation takes a %s", name, r.Type(), typ)
	}
	return r, nil
}

// bundleResource takes the one resource of type typ out of a Bundle.
func bundleResource(body []byte, typ, at string) (*resource.Resource, error) {
	if _, err := resource.Parse(body); err != nil {
		return nil, err
	}
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, badRequest(at, "the Bundle is not valid")
	}
	var found json.RawMessage
	for i, e := range b.Entry {
		var head struct {
			ResourceType string `json:"resourceType"`
		}
		if json.Unmarshal(e.Resource, &head) != nil || head.ResourceType != typ {
			continue
		}
		if found != nil {
			// TODO(#6): a batch of several Claims in one Bundle is refused; one Claim per $submit.
			return nil, resource.Errorf(statusBadRequest, resource.IssueNotSupported,
				at+".entry["+strconv.Itoa(i)+"]", "the Bundle holds more than one %s: submit one at a time", typ)
		}
		found = e.Resource
	}
	if found == nil {
		return nil, resource.Errorf(statusBadRequest, resource.IssueRequired, at+".entry",
			"the Bundle holds no %s", typ)
	}
	return resource.Parse(found)
}

// truncated shortens a client's string for a message.
func truncated(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// escapeToken escapes a search value's \ , | and $
// (https://hl7.org/fhir/R4/search.html#escaping).
func escapeToken(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `|`, `\|`, `$`, `\$`)
	return r.Replace(s)
}
