package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// transaction runs a transaction Bundle all or nothing
// (https://hl7.org/fhir/R4/http.html#trules). MongoDB multi-document
// transactions are not used (FerretDB v1 has none): every entry is planned
// and validated first, against the stored versions, and only then are the
// writes stored as one group by store.PutAll, which undoes the ones already
// made if a later one fails. GET entries run after the writes.
func (s *Server) transaction(ctx context.Context, entries []inEntry, minimal bool) (*bundleJSON, error) {
	targets := make([]target, len(entries))
	plans := make([]*plan, len(entries))
	refs := make(map[string]string) // fullUrl (and its relative form) → Type/id

	// Resolve the ids first: those the server assigns, and those conditional
	// creates and updates find, so references between entries can be
	// rewritten before anything is validated.
	ids := make([]string, len(entries))
	for i, e := range entries {
		t, err := s.parseTarget(e.Request.URL)
		if err != nil {
			return nil, entryError(i, err)
		}
		targets[i] = t
		id, err := s.resolveID(ctx, e, t)
		if err != nil {
			return nil, entryError(i, err)
		}
		ids[i] = id
		if id != "" && e.FullURL != "" {
			addRef(refs, e.FullURL, t.typ+"/"+id)
		}
	}

	// Plan every write, in the order the spec gives: DELETE, POST, PUT.
	seen := make(map[string]int)
	var writes []store.Write
	for _, method := range []string{http.MethodDelete, http.MethodPost, http.MethodPut} {
		for i, e := range entries {
			if e.Request.Method != method {
				continue
			}
			body, err := rewriteRefs(e.Resource, refs)
			if err != nil {
				return nil, entryError(i, err)
			}
			if bytes.Contains(body, []byte(`"urn:uuid:`)) || bytes.Contains(body, []byte(`"urn:oid:`)) {
				if ref := danglingURN(body); ref != "" {
					return nil, entryError(i, badRequest("resource",
						"a reference names a urn that is not the fullUrl of any entry of the transaction"))
				}
			}
			p, err := s.planTransactionEntry(ctx, e, targets[i], ids[i], body)
			if err != nil {
				return nil, entryError(i, err)
			}
			plans[i] = p
			if p.write == nil {
				continue
			}
			key := p.write.Record.Type + "/" + p.write.Record.ID
			if j, dup := seen[key]; dup {
				return nil, entryError(i, badRequest("", "entry %d already writes the same resource", j))
			}
			seen[key] = i
			writes = append(writes, *p.write)
		}
	}

	if err := s.store.PutAll(ctx, writes); err != nil {
		if errors.Is(err, resource.ErrConflict) {
			return nil, resource.Errorf(http.StatusConflict, resource.IssueConflict, "",
				"a resource in the transaction was changed by another request; nothing was stored")
		}
		return nil, fmt.Errorf("transaction of %d writes: %w", len(writes), err)
	}
	recs := make([]*store.Record, len(writes))
	for i := range writes {
		recs[i] = writes[i].Record
	}
	s.committed(ctx, recs...)

	out := s.newBundle("transaction-response")
	for i, e := range entries {
		if e.Request.Method == http.MethodGet {
			res, err := s.getEntry(ctx, targets[i])
			if err != nil {
				res = errorEntry(err)
			}
			out.Entry = append(out.Entry, res)
			continue
		}
		out.Entry = append(out.Entry, s.entryResult(plans[i], minimal))
	}
	s.logger.InfoContext(ctx, "transaction stored", "request_id", requestID(ctx),
		"entries", len(entries), "writes", len(writes))
	return out, nil
}

// resolveID returns the id an entry will write: a new one for a create, the
// match of a conditional create or update, the url's for an update.
func (s *Server) resolveID(ctx context.Context, e inEntry, t target) (string, error) {
	switch {
	case e.Request.Method == http.MethodPost && !t.cond && t.id == "":
		if e.Request.IfNoneExist != "" {
			matches, err := s.matchOne(ctx, t.typ, strings.TrimPrefix(e.Request.IfNoneExist, t.typ+"?"), InteractionCreate, "ifNoneExist")
			if err != nil {
				return "", err
			}
			switch len(matches) {
			case 0:
			case 1:
				return matches[0].ID, nil
			default:
				return "", preconditionFailed("ifNoneExist matches more than one resource")
			}
		}
		return newID(), nil
	case e.Request.Method == http.MethodPut && t.cond:
		matches, err := s.matchOne(ctx, t.typ, t.query, InteractionUpdate, "the conditional update")
		if err != nil {
			return "", err
		}
		switch len(matches) {
		case 0:
			id, err := idInBody(e.Resource)
			if err != nil {
				return "", err
			}
			if id != "" {
				return id, nil
			}
			return newID(), nil
		case 1:
			return matches[0].ID, nil
		}
		return "", preconditionFailed("the conditional update matches more than one resource")
	case e.Request.Method == http.MethodPut:
		return t.id, nil
	}
	return "", nil
}

// planTransactionEntry plans one write of a transaction with its resolved id.
func (s *Server) planTransactionEntry(ctx context.Context, e inEntry, t target, id string, body []byte) (*plan, error) {
	switch e.Request.Method {
	case http.MethodPost:
		if t.cond || t.id != "" {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, "request.url",
				"POST takes a resource type as url")
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueRequired, "resource", "a POST entry needs a resource")
		}
		if e.Request.IfNoneExist != "" {
			if rec, err := s.store.Read(ctx, t.typ, id); err == nil {
				return s.matched(ctx, rec)
			}
		}
		return s.planNew(ctx, t.typ, id, body, http.MethodPost)
	case http.MethodPut:
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueRequired, "resource", "a PUT entry needs a resource")
		}
		if t.vid != 0 {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, "request.url", "PUT takes Type/id or Type?search")
		}
		if t.cond {
			if bodyID, _ := idInBody(body); bodyID == "" {
				body = withID(body, id)
			}
		}
		return s.planUpdate(ctx, t.typ, id, body, e.Request.IfMatch, !t.cond)
	}
	return s.planEntry(ctx, e, t)
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

// rewriteRefs replaces every Reference.reference that names a fullUrl of
// the Bundle with the id assigned to it. Numbers keep their digits
// (json.Number).
func rewriteRefs(body []byte, refs map[string]string) ([]byte, error) {
	if len(refs) == 0 || len(body) == 0 {
		return body, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badRequest("resource", "the resource is not valid JSON")
	}
	if !replaceRefs(v, refs) {
		return body, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("re-encode resource: %w", err)
	}
	return buf.Bytes(), nil
}

func replaceRefs(v any, refs map[string]string) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "reference" {
				if local, ok := refs[s]; ok {
					x[k] = local
					changed = true
				}
				continue
			}
			if replaceRefs(val, refs) {
				changed = true
			}
		}
	case []any:
		for _, val := range x {
			if replaceRefs(val, refs) {
				changed = true
			}
		}
	}
	return changed
}

// danglingURN returns a reference.reference that is still a urn after the
// rewrite: it names no entry of the transaction.
func danglingURN(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return ""
	}
	var find func(any) string
	find = func(v any) string {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if s, ok := val.(string); ok && k == "reference" &&
					(strings.HasPrefix(s, "urn:uuid:") || strings.HasPrefix(s, "urn:oid:")) {
					return s
				}
				if r := find(val); r != "" {
					return r
				}
			}
		case []any:
			for _, val := range x {
				if r := find(val); r != "" {
					return r
				}
			}
		}
		return ""
	}
	return find(v)
}

// withID sets the id of a resource body (a conditional update without one).
func withID(body []byte, id string) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return body
	}
	m["id"] = id
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return body
	}
	return buf.Bytes()
}
