package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// References between the entries of a Bundle
// (https://hl7.org/fhir/R4/http.html#trules): a transaction rewrites the
// references to the fullUrls of its entries and resolves conditional
// references (Patient?identifier=...); a batch does neither
// (https://hl7.org/fhir/R4/http.html#brules), so an entry of a batch that
// refers to a urn is refused rather than stored with a reference to
// nothing.

// decodeJSON decodes a resource body, keeping numbers as written.
func decodeJSON(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, badRequest("resource", "the resource is not a valid JSON object")
	}
	return m, nil
}

// encodeJSON prints what decodeJSON decoded, without escaping HTML.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("re-encode resource: %w", err)
	}
	return buf.Bytes(), nil
}

// refVisitor is told of each Reference.reference (a member "reference"
// holding a string) and each narrative (text.div) of a decoded resource,
// with their paths, and returns the value to keep in their place.
type refVisitor struct {
	ref func(path, ref string) (string, error)
	div func(div string) string // nil: narratives are left alone
}

// visit walks v, at path, and reports whether anything was replaced.
func (rv refVisitor) visit(v any, path string) (bool, error) {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			p := path + "." + k
			s, isString := val.(string)
			switch {
			case isString && k == "reference":
				got, err := rv.ref(p, s)
				if err != nil {
					return false, err
				}
				if got != s {
					x[k], changed = got, true
				}
			case isString && k == "div" && rv.div != nil && strings.HasSuffix(path, ".text"):
				if got := rv.div(s); got != s {
					x[k], changed = got, true
				}
			default:
				c, err := rv.visit(val, p)
				if err != nil {
					return false, err
				}
				changed = changed || c
			}
		}
	case []any:
		for i, val := range x {
			c, err := rv.visit(val, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
	}
	return changed, nil
}

// visitResource applies rv to a resource body and returns the body, printed
// again when something changed.
func visitResource(body []byte, rv refVisitor) ([]byte, error) {
	m, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	typ, _ := m["resourceType"].(string)
	if !resource.Known(typ) {
		typ = "resource"
	}
	changed, err := rv.visit(m, typ)
	if err != nil || !changed {
		return body, err
	}
	return encodeJSON(m)
}

// isURN reports a reference to a fullUrl that only a Bundle can resolve.
func isURN(ref string) bool {
	return strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:")
}

// conditionalRef splits a conditional reference, Type?search relative to
// the base (or under it), into its type and query. An empty query
// ("Patient?") is one too: its search then fails as selecting nothing.
func (s *Server) conditionalRef(ref string) (typ, query string, ok bool) {
	ref = strings.TrimPrefix(ref, s.base+"/")
	typ, query, ok = strings.Cut(ref, "?")
	return typ, query, ok && resource.Known(typ)
}

// TODO(#2): uri, url, oid and uuid elements naming a fullUrl are not rewritten (R4 trules asks it); this JSON walk knows no element types.

// transactionBody prepares the resource of a transaction entry: references
// to fullUrls of the Bundle become the ids assigned (refs), and so do the
// links to them in the narrative (<a href>, <img src>); conditional
// references are resolved by a search (cache keeps the answers for the
// transaction); a urn that names no entry is refused.
func (s *Server) transactionBody(ctx context.Context, body []byte, refs, cache map[string]string) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return body, nil
	}
	rv := refVisitor{
		ref: func(path, ref string) (string, error) {
			if local, ok := refs[ref]; ok {
				return local, nil
			}
			if isURN(ref) {
				return "", badRequest(path,
					"the reference names a urn that is not the fullUrl of any entry of the transaction")
			}
			if typ, query, ok := s.conditionalRef(ref); ok {
				return s.resolveConditional(ctx, path, ref, typ, query, cache)
			}
			return ref, nil
		},
		div: func(div string) string { return rewriteLinks(div, refs) },
	}
	return visitResource(body, rv)
}

// resolveConditional resolves a conditional reference as R4 says
// (http.html#trules, "Conditional References"): a search, whose one match
// replaces it; none or several fail the transaction with a 412.
func (s *Server) resolveConditional(ctx context.Context, path, ref, typ, query string, cache map[string]string) (string, error) {
	if local, ok := cache[ref]; ok {
		return local, nil
	}
	matches, err := s.matchOne(ctx, typ, query, InteractionSearch, "a conditional reference")
	if err != nil {
		return "", at(path, err)
	}
	switch len(matches) {
	case 0:
		return "", resource.Errorf(http.StatusPreconditionFailed, resource.IssueNotFound, path,
			"the conditional reference matches no %s", typ)
	case 1:
		local := typ + "/" + matches[0].ID
		cache[ref] = local
		return local, nil
	}
	return "", resource.Errorf(http.StatusPreconditionFailed, resource.IssueMultipleMatch, path,
		"the conditional reference matches more than one %s", typ)
}

// at names path first in the expressions of a client error.
func at(path string, err error) error {
	var re *resource.Error
	if !errors.As(err, &re) {
		return err
	}
	out := &resource.Error{Status: re.Status, Err: err}
	for _, is := range re.Issues {
		is.Expression = append([]string{path}, is.Expression...)
		out.Issues = append(out.Issues, is)
	}
	return out
}

// checkBatchRefs refuses a batch entry's resource that refers to a urn:
// a batch does not resolve references between its entries.
func checkBatchRefs(body []byte) error {
	return checkURNRefs(body, "a batch does not resolve references between its entries "+
		"(R4 http.html#brules): send a transaction, or refer to the resource by its id")
}

// checkWriteRefs refuses a resource of type typ, created or updated on
// its own, that refers to a urn: only a transaction resolves one, to the
// entry whose fullUrl it is; kept, it would refer to nothing. A Bundle's
// entries may refer to each other's fullUrls, and so are let be.
func checkWriteRefs(typ string, body []byte) error {
	if typ == "Bundle" {
		return nil
	}
	return checkURNRefs(body, "a reference to a urn: is resolved only in a transaction, to the entry "+
		"whose fullUrl it is (R4 http.html#trules): send a transaction, or refer to the resource by its id")
}

// checkURNRefs refuses, with detail, a resource body that refers to a urn.
func checkURNRefs(body []byte, detail string) error {
	if !bytes.Contains(body, []byte(`"urn:uuid:`)) && !bytes.Contains(body, []byte(`"urn:oid:`)) {
		return nil
	}
	_, err := visitResource(body, refVisitor{ref: func(path, ref string) (string, error) {
		if isURN(ref) {
			return "", badRequest(path, "%s", detail)
		}
		return ref, nil
	}})
	return err
}

// linkAttr matches an href or src attribute of a narrative and its value,
// in double or single quotes.
var linkAttr = regexp.MustCompile(`(\s(?:href|src)\s*=\s*)(?:"([^"]*)"|'([^']*)')`)

// rewriteLinks replaces the links of a narrative that name a fullUrl of
// the Bundle with the reference it now stands for.
func rewriteLinks(div string, refs map[string]string) string {
	if len(refs) == 0 || !strings.Contains(div, "=") {
		return div
	}
	return linkAttr.ReplaceAllStringFunc(div, func(m string) string {
		sub := linkAttr.FindStringSubmatch(m)
		q, v := `"`, sub[2]
		if strings.HasPrefix(m[len(sub[1]):], "'") {
			q, v = "'", sub[3]
		}
		local, ok := refs[v]
		if !ok {
			return m
		}
		return sub[1] + q + local + q
	})
}

// addRef maps a fullUrl to the local reference it now stands for. An
// absolute fullUrl also maps its relative Type/id form.
func addRef(refs map[string]string, fullURL, local string) {
	refs[fullURL] = local
	if strings.HasPrefix(fullURL, "urn:") {
		return
	}
	parts := strings.Split(strings.TrimSuffix(fullURL, "/"), "/")
	if len(parts) >= 2 {
		refs[parts[len(parts)-2]+"/"+parts[len(parts)-1]] = local
	}
}

// withID sets the id of a resource body (a conditional update without one).
func withID(body []byte, id string) []byte {
	m, err := decodeJSON(body)
	if err != nil {
		return body
	}
	m["id"] = id
	b, err := encodeJSON(m)
	if err != nil {
		return body
	}
	return b
}
