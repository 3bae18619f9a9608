package search

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Registry holds the search parameters of every supported resource type,
// with their expressions compiled for extraction. Build it once with [Load];
// it is read-only afterwards and safe for concurrent use.
type Registry struct {
	// own maps a resource type to its own parameters by code.
	own map[string]map[string]*Param
	// common holds the parameters of every type (_id, _lastUpdated), whose
	// values the store keeps in its own fields.
	common map[string]*Param
	// plans lists, per resource type, the parameters to extract at write
	// time with their compiled expressions, sorted by code.
	plans map[string][]plan
	types []string
}

// plan is one parameter to extract and its compiled expression.
type plan struct {
	param *Param
	expr  expression
}

// commonCodes are the only codes allowed with base Resource: the store maps
// them to its own fields, so extraction never computes them.
var commonCodes = map[string]bool{"_id": true, "_lastUpdated": true}

// definition is the part of a SearchParameter resource the registry reads.
type definition struct {
	ResourceType string   `json:"resourceType"`
	URL          string   `json:"url"`
	Code         string   `json:"code"`
	Base         []string `json:"base"`
	Type         string   `json:"type"`
	Expression   string   `json:"expression"`
	Target       []string `json:"target"`
	Description  string   `json:"description"`
}

// Load reads every *.json file of fsys (walking subdirectories) as an R4
// SearchParameter resource and builds a Registry. Each definition must have
// one base type, a supported type (token, reference, date, string, uri) and
// an expression in the subset documented in extract.go. A resource type
// with two definitions of the same code is an error, as is a definition
// with base Resource other than _id and _lastUpdated.
func Load(fsys fs.FS) (*Registry, error) {
	r := &Registry{
		own:    make(map[string]map[string]*Param),
		common: make(map[string]*Param),
		plans:  make(map[string][]plan),
	}

	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(name) != ".json" {
			return nil
		}

		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		if err := r.add(b); err != nil {
			return fmt.Errorf("search parameter %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load search parameters: %w", err)
	}

	for typ, plans := range r.plans {
		slices.SortFunc(plans, func(a, b plan) int {
			return strings.Compare(a.param.Code, b.param.Code)
		})
		r.types = append(r.types, typ)
	}
	slices.Sort(r.types)
	return r, nil
}

// add parses and checks one definition and registers it.
func (r *Registry) add(b []byte) error {
	var d definition
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}

	switch {
	case d.ResourceType != "SearchParameter":
		return fmt.Errorf("resourceType %q is not SearchParameter", d.ResourceType)
	case d.Code == "" || d.URL == "" || d.Expression == "":
		return fmt.Errorf("code, url and expression are required")
	case len(d.Base) != 1 || !isTypeName(d.Base[0]):
		return fmt.Errorf("want exactly one base resource type, got %q", d.Base)
	}

	p := &Param{
		Code:        d.Code,
		Resource:    d.Base[0],
		Type:        ParamType(d.Type),
		Expression:  d.Expression,
		Targets:     d.Target,
		URL:         d.URL,
		Description: d.Description,
	}
	switch p.Type {
	case TypeToken, TypeReference, TypeDate, TypeString, TypeURI:
	default:
		return fmt.Errorf("%s: unsupported type %q", p.Code, d.Type)
	}
	if len(p.Targets) > 0 && p.Type != TypeReference {
		return fmt.Errorf("%s: only reference parameters have targets", p.Code)
	}
	for _, t := range p.Targets {
		if !isTypeName(t) {
			return fmt.Errorf("%s: target %q is not a resource type", p.Code, t)
		}
	}

	e, err := parseExpression(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Code, err)
	}

	if p.Resource == "Resource" {
		if !commonCodes[p.Code] {
			return fmt.Errorf("%s: base Resource is only for _id and _lastUpdated", p.Code)
		}
		if r.common[p.Code] != nil {
			return fmt.Errorf("duplicate parameter %s for Resource", p.Code)
		}
		r.common[p.Code] = p
		return nil
	}
	if commonCodes[p.Code] || r.own[p.Resource][p.Code] != nil {
		return fmt.Errorf("duplicate parameter %s for %s", p.Code, p.Resource)
	}
	if r.own[p.Resource] == nil {
		r.own[p.Resource] = make(map[string]*Param)
	}
	r.own[p.Resource][p.Code] = p
	r.plans[p.Resource] = append(r.plans[p.Resource], plan{param: p, expr: e})
	return nil
}

// Params returns the search parameters of resourceType: _id and
// _lastUpdated (shared values whose Resource is "Resource") when they were
// loaded, then the type's own parameters sorted by code. The slice is the
// caller's to keep; the Params are shared and must not be modified.
func (r *Registry) Params(resourceType string) []*Param {
	var ps []*Param
	for _, code := range []string{"_id", "_lastUpdated"} {
		if p := r.common[code]; p != nil {
			ps = append(ps, p)
		}
	}
	for _, pl := range r.plans[resourceType] {
		ps = append(ps, pl.param)
	}
	return ps
}

// Lookup returns the parameter code of resourceType, or nil when there is
// none. _id and _lastUpdated are found for any resource type.
func (r *Registry) Lookup(resourceType, code string) *Param {
	if p := r.common[code]; p != nil {
		return p
	}
	return r.own[resourceType][code]
}

// Types returns the resource types that have parameters of their own,
// sorted.
func (r *Registry) Types() []string {
	return slices.Clone(r.types)
}

// isTypeName reports whether s looks like a FHIR resource or data type name
// (an upper-case letter then letters and digits).
func isTypeName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
