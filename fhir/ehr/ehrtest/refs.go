package ehrtest

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// conditionalRef matches a conditional reference, Type?search
// (https://hl7.org/fhir/R4/http.html#trules, "Conditional References").
var conditionalRef = regexp.MustCompile(`^([A-Z][A-Za-z]+)\?(.+)$`)

// bundleRefs resolves the references of the resources of one Bundle as
// they are loaded: a fullUrl of the Bundle becomes the Type/id of its
// entry; in a transaction, a conditional reference becomes the one
// resource it matches among those the EHR holds and those of the Bundle,
// as a FHIR server processing the transaction resolves it. The EHR holds
// its data at rest, where no conditional reference is left.
type bundleRefs struct {
	fullURLs    map[string]string // fullUrl → Type/id
	transaction bool
	base        string // the EHR's FHIR base and a slash; "" before SetURL
	held        map[string]map[string]*stored
	bundle      []map[string]any
	resolved    map[string]string // conditional reference → Type/id
}

// rewrite resolves every Reference.reference of v, a resource at path
// (its type), in place.
func (b *bundleRefs) rewrite(v any, path string) error {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			s, ok := val.(string)
			if !ok || k != "reference" {
				if err := b.rewrite(val, path+"."+k); err != nil {
					return err
				}
				continue
			}
			local, err := b.resolve(s, path)
			if err != nil {
				return err
			}
			x[k] = local
		}
	case []any:
		for i, val := range x {
			if err := b.rewrite(val, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolve returns what ref, the reference at path, becomes. The errors
// name the element and the type searched, not the search: its
// identifier may be a patient's.
func (b *bundleRefs) resolve(ref, path string) (string, error) {
	if local, ok := b.fullURLs[ref]; ok {
		return local, nil
	}
	rel := ref
	if b.base != "" {
		rel = strings.TrimPrefix(ref, b.base)
	}
	m := conditionalRef.FindStringSubmatch(rel)
	if m == nil {
		return ref, nil
	}
	if !b.transaction {
		return "", fmt.Errorf("%s: a conditional reference is resolved only in a "+
			"transaction Bundle", path)
	}
	if local, ok := b.resolved[rel]; ok {
		return local, nil
	}
	typ := m[1]
	match, err := identifierSearch(m[2])
	if err != nil {
		return "", fmt.Errorf("%s: conditional reference to a %s: %w", path, typ, err)
	}
	ids := b.matches(typ, match)
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("%s: the conditional reference matches no %s the EHR holds "+
			"or the Bundle has", path, typ)
	case 1:
		local := typ + "/" + ids[0]
		b.resolved[rel] = local
		return local, nil
	}
	return "", fmt.Errorf("%s: the conditional reference matches %d resources of type %s, not one",
		path, len(ids), typ)
}

// matches returns the ids of the resources of typ, held or in the
// Bundle (one id counted once), for which match holds.
func (b *bundleRefs) matches(typ string, match func(map[string]any) bool) []string {
	var ids []string
	seen := map[string]bool{}
	for _, r := range b.bundle {
		id, _ := r["id"].(string)
		if r["resourceType"] == typ && !seen[id] {
			seen[id] = true
			if match(r) {
				ids = append(ids, id)
			}
		}
	}
	for id, r := range b.held[typ] {
		if !seen[id] && match(r.body) { // a Bundle's entry replaces what is held
			ids = append(ids, id)
		}
	}
	return ids
}

// identifierSearch compiles the search of a conditional reference. Only
// identifier is supported, as a token: system|value, |value (no system),
// value (any system) or system| (any value), a comma between values
// meaning or; several identifier parameters must all match.
func identifierSearch(query string) (func(map[string]any) bool, error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, errors.New("the search is not a query string")
	}
	var tests []func(map[string]any) bool
	for k, vals := range q {
		if k != "identifier" {
			return nil, fmt.Errorf("search parameter %q is not supported "+
				"(the test EHR resolves identifier only)", k)
		}
		for _, v := range vals {
			alts := strings.Split(v, ",")
			tests = append(tests, func(r map[string]any) bool {
				for _, a := range alts {
					if hasIdentifier(r, a) {
						return true
					}
				}
				return false
			})
		}
	}
	if len(tests) == 0 {
		return nil, errors.New("the search is empty")
	}
	return func(r map[string]any) bool {
		for _, t := range tests {
			if !t(r) {
				return false
			}
		}
		return true
	}, nil
}

// hasIdentifier reports whether r has an identifier the token tok
// matches.
func hasIdentifier(r map[string]any, tok string) bool {
	system, value, hasSystem := strings.Cut(tok, "|")
	if !hasSystem {
		system, value = "", tok
	}
	ids, _ := r["identifier"].([]any)
	for _, v := range ids {
		id, _ := v.(map[string]any)
		s, _ := id["system"].(string)
		val, _ := id["value"].(string)
		switch {
		case !hasSystem && val == value:
			return true
		case hasSystem && s == system && (value == "" || val == value):
			return true
		}
	}
	return false
}
