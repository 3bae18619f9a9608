package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Search parameter expressions are a small subset of FHIRPath
// (https://hl7.org/fhir/R4/fhirpath.html), evaluated directly over the
// decoded JSON of a resource. [Load] rejects anything else. The grammar:
//
//	expression = term *( " | " term )          ; union of the terms' values
//	term       = path [ ".where(resolve() is " Type ")" ]
//	           / "(" path " as " type ")"
//	path       = Base 1*( "." element )        ; Base is the parameter's base
//
// Semantics:
//
//   - A path walks the JSON from the resource root, element by element;
//     arrays are flattened at every step, so Claim.item.encounter yields the
//     encounter of every item.
//   - A choice element is written without its type suffix:
//     ChargeItem.occurrence matches occurrenceDateTime, occurrencePeriod and
//     occurrenceTiming: when the element itself is absent, any key made of
//     its name and an R4 type name matches. The matched type is kept to skip
//     values a parameter cannot index (Procedure.performedString for a
//     date).
//   - (path as type) keeps only the choice of that type: (ConceptMap.source
//     as uri) matches sourceUri and not sourceCanonical.
//   - .where(resolve() is Type) keeps the references to Type, known from the
//     reference ("Type/id", or an absolute URL ending in Type/id) or from
//     Reference.type. It applies to reference parameters only.
//
// Nothing else (functions, indexes, comparisons, constants) is supported.

// term is one compiled operand of a union.
type term struct {
	// path holds the element names after the base type name.
	path []string
	// as is the capitalized type suffix of "(path as type)", or "".
	as string
	// target is the type of ".where(resolve() is Type)", or "".
	target string
}

// expression is a compiled union of terms.
type expression []term

const whereResolve = ".where(resolve() is "

// parseExpression compiles the expression of p.
func parseExpression(p *Param) (expression, error) {
	var e expression
	for _, s := range strings.Split(p.Expression, "|") {
		t, err := parseTerm(strings.TrimSpace(s), p)
		if err != nil {
			return nil, err
		}
		e = append(e, t)
	}
	return e, nil
}

func parseTerm(s string, p *Param) (term, error) {
	var t term
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		path, typ, ok := strings.Cut(s[1:len(s)-1], " as ")
		if !ok || !isElementName(typ) {
			return t, fmt.Errorf("expression %q: want (path as type)", s)
		}
		s, t.as = path, strings.ToUpper(typ[:1])+typ[1:]
	} else if i := strings.Index(s, whereResolve); i >= 0 {
		typ, ok := strings.CutSuffix(s[i+len(whereResolve):], ")")
		if !ok || !isTypeName(typ) {
			return t, fmt.Errorf("expression %q: want .where(resolve() is Type)", s)
		}
		if p.Type != TypeReference {
			return t, fmt.Errorf("expression %q: resolve() needs a reference parameter", s)
		}
		if len(p.Targets) > 0 && !slices.Contains(p.Targets, typ) {
			return t, fmt.Errorf("expression %q: %s is not a target", s, typ)
		}
		s, t.target = s[:i], typ
	}

	names := strings.Split(s, ".")
	if len(names) < 2 || names[0] != p.Resource {
		return t, fmt.Errorf("expression %q: want a path starting with %s.", s, p.Resource)
	}
	for _, n := range names[1:] {
		if !isElementName(n) {
			return t, fmt.Errorf("expression %q: %q is not an element name", s, n)
		}
	}
	t.path = names[1:]
	return t, nil
}

// isElementName reports whether s is a FHIR element name: a lower-case
// letter, then letters and digits.
func isElementName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

// node is one value an expression selected: a decoded JSON value, and its
// FHIR type when a choice suffix named it ("DateTime", "Period"), else "".
type node struct {
	v   any
	typ string
}

// eval appends to out the values t selects from root.
func (t term) eval(root map[string]any, out []node) []node {
	cur := []node{{v: root}}
	for i, name := range t.path {
		last := i == len(t.path)-1
		var next []node
		for _, n := range cur {
			m, ok := n.v.(map[string]any)
			if !ok {
				continue
			}
			if last && t.as != "" {
				next = appendValues(next, m[name+t.as], t.as)
				continue
			}
			if v, ok := m[name]; ok {
				next = appendValues(next, v, "")
				continue
			}
			for k, v := range m {
				if suffix, ok := strings.CutPrefix(k, name); ok && choiceTypes[suffix] {
					next = appendValues(next, v, suffix)
				}
			}
		}
		if last {
			return append(out, next...)
		}
		cur = next
	}
	return out
}

// appendValues appends v, or each element of v when it is an array.
func appendValues(out []node, v any, typ string) []node {
	switch v := v.(type) {
	case nil:
	case []any:
		for _, e := range v {
			if e != nil {
				out = append(out, node{v: e, typ: typ})
			}
		}
	default:
		out = append(out, node{v: v, typ: typ})
	}
	return out
}

// choiceTypes are the type suffixes of R4 choice elements
// (https://hl7.org/fhir/R4/formats.html#choice).
var choiceTypes = map[string]bool{
	"Base64Binary": true, "Boolean": true, "Canonical": true, "Code": true,
	"Date": true, "DateTime": true, "Decimal": true, "Id": true,
	"Instant": true, "Integer": true, "Markdown": true, "Oid": true,
	"PositiveInt": true, "String": true, "Time": true, "UnsignedInt": true,
	"Uri": true, "Url": true, "Uuid": true, "Address": true, "Age": true,
	"Annotation": true, "Attachment": true, "CodeableConcept": true,
	"Coding": true, "ContactPoint": true, "Count": true, "Distance": true,
	"Duration": true, "HumanName": true, "Identifier": true, "Money": true,
	"Period": true, "Quantity": true, "Range": true, "Ratio": true,
	"Reference": true, "SampledData": true, "Signature": true, "Timing": true,
	"ContactDetail": true, "Contributor": true, "DataRequirement": true,
	"Expression": true, "ParameterDefinition": true, "RelatedArtifact": true,
	"TriggerDefinition": true, "UsageContext": true, "Dosage": true,
	"Meta": true,
}

// Extract computes the search values of a resource of type resourceType
// from body, its canonical FHIR JSON. base is the server's public base URL:
// absolute references under base + "/" are indexed as local ones. Every
// parameter of the type is evaluated over one decoding of body; _id and
// _lastUpdated are left to the store. A parameter with no value is absent
// from the Index. A type with no parameters gives an empty Index.
//
// Errors mean body is not a valid resource of that type (malformed JSON, a
// date that does not parse); they name the parameter, never a value.
func (r *Registry) Extract(resourceType string, body []byte, base string) (Index, error) {
	idx := make(Index)
	plans := r.plans[resourceType]
	if len(plans) == 0 {
		return idx, nil
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("extract %s: decode: %w", resourceType, err)
	}
	if rt, _ := root["resourceType"].(string); rt != resourceType {
		return nil, fmt.Errorf("extract %s: %w", resourceType, errWrongType)
	}

	var nodes []node
	for _, pl := range plans {
		var f Field
		for _, t := range pl.expr {
			nodes = t.eval(root, nodes[:0])
			for _, n := range nodes {
				if err := f.add(pl.param, t, n, base); err != nil {
					return nil, fmt.Errorf("extract %s %s: %w", resourceType, pl.param.Code, err)
				}
			}
		}
		if len(f.Keys) > 0 || len(f.Ranges) > 0 {
			idx[pl.param.Code] = f
		}
	}
	return idx, nil
}

var errWrongType = errors.New("body holds another resource type")
