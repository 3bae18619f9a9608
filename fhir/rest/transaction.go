package rest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
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
	// rewritten before anything is validated. Conditional creates with the
	// same condition that match nothing stored make one resource: the
	// later ones answer with the first's (sameAs).
	ids := make([]string, len(entries))
	sameAs := make(map[int]int)
	conds := make(map[string]int) // a conditional create's condition → its entry
	for i, e := range entries {
		t, err := s.parseTarget(e.Request.URL)
		if err != nil {
			return nil, entryError(i, err)
		}
		targets[i] = t
		id, created, err := s.resolveID(ctx, e, t)
		if err != nil {
			return nil, entryError(i, err)
		}
		if created && e.Request.IfNoneExist != "" {
			key := conditionKey(t.typ, e.Request.IfNoneExist)
			if j, ok := conds[key]; ok {
				id, sameAs[i] = ids[j], j
			} else {
				conds[key] = i
			}
		}
		ids[i] = id
		if id != "" && e.FullURL != "" {
			addRef(refs, e.FullURL, t.typ+"/"+id)
		}
	}

	// Plan every write, in the order the spec gives: DELETE, POST, PUT.
	// No two entries may touch one resource, whether or not they write
	// it (R4 http.html#trules: if resource identities, including those
	// conditional updates and deletes resolve to, overlap, the
	// transaction fails).
	seen := make(map[string]int)
	cache := make(map[string]string) // conditional reference → Type/id
	var writes []store.Write
	for _, method := range []string{http.MethodDelete, http.MethodPost, http.MethodPut} {
		for i, e := range entries {
			if e.Request.Method != method {
				continue
			}
			if j, ok := sameAs[i]; ok {
				plans[i] = &plan{status: http.StatusOK, rec: plans[j].rec}
				continue
			}
			body, err := s.transactionBody(ctx, e.Resource, refs, cache)
			if err != nil {
				return nil, entryError(i, err)
			}
			p, err := s.planTransactionEntry(ctx, e, targets[i], ids[i], body)
			if err != nil {
				return nil, entryError(i, err)
			}
			plans[i] = p
			if key := identity(e.Request.Method, targets[i], ids[i], p); key != "" {
				if j, dup := seen[key]; dup {
					return nil, entryError(i, badRequest("", "entry %d already touches the same resource: "+
						"the entries of a transaction may not overlap (R4 http.html#trules)", j))
				}
				seen[key] = i
			}
			if p.write != nil {
				writes = append(writes, *p.write)
			}
		}
	}
	if err := s.checkConditionalCreates(entries, targets, plans); err != nil {
		return nil, err
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
// created reports a create that matched nothing stored.
func (s *Server) resolveID(ctx context.Context, e inEntry, t target) (id string, created bool, err error) {
	switch {
	case e.Request.Method == http.MethodPost && !t.cond && t.id == "":
		if e.Request.IfNoneExist != "" {
			matches, err := s.matchOne(ctx, t.typ, strings.TrimPrefix(e.Request.IfNoneExist, t.typ+"?"), InteractionCreate, "ifNoneExist")
			if err != nil {
				return "", false, err
			}
			switch len(matches) {
			case 0:
			case 1:
				return matches[0].ID, false, nil
			default:
				return "", false, preconditionFailed("ifNoneExist matches more than one resource")
			}
		}
		return newID(), true, nil
	case e.Request.Method == http.MethodPut && t.cond:
		matches, err := s.matchOne(ctx, t.typ, t.query, InteractionUpdate, "the conditional update")
		if err != nil {
			return "", false, err
		}
		switch len(matches) {
		case 0:
			id, err := idInBody(e.Resource)
			if err != nil {
				return "", false, err
			}
			if id != "" {
				return id, false, nil
			}
			return newID(), false, nil
		case 1:
			return matches[0].ID, false, nil
		}
		return "", false, preconditionFailed("the conditional update matches more than one resource")
	case e.Request.Method == http.MethodPut:
		return t.id, false, nil
	}
	return "", false, nil
}

// identity is the Type/id a planned entry touches: the id it writes or
// deletes, whether or not that changes anything (a DELETE of what does
// not exist, an unchanged PUT, a conditional create's match); for a
// conditional delete, the resource it matched. "" when it touches none.
func identity(method string, t target, id string, p *plan) string {
	switch {
	case method == http.MethodDelete && t.cond:
		if p.write == nil {
			return ""
		}
		return p.write.Record.Type + "/" + p.write.Record.ID
	case method == http.MethodDelete:
		return t.typ + "/" + t.id
	case id != "":
		return t.typ + "/" + id
	}
	return ""
}

// conditionKey is the condition of a conditional create in a canonical
// form: the same search written twice gives the same key.
func conditionKey(typ, ifNoneExist string) string {
	q := ifNoneExist
	if _, after, ok := strings.Cut(q, "?"); ok {
		q = after
	}
	if vals, err := url.ParseQuery(q); err == nil {
		q = vals.Encode()
	}
	return typ + "?" + q
}

// checkConditionalCreates fails a transaction in which a conditional
// create makes a resource that the condition of another would also match,
// or whose condition another entry's resource meets: after the
// transaction the condition would match two resources, which a
// conditional create exists to prevent. Clauses the search values cannot
// decide (dates) are not compared.
func (s *Server) checkConditionalCreates(entries []inEntry, targets []target, plans []*plan) error {
	for i, e := range entries {
		if e.Request.Method != http.MethodPost || e.Request.IfNoneExist == "" || plans[i].write == nil {
			continue
		}
		typ := targets[i].typ
		q, err := s.conditionQuery(typ, e.Request.IfNoneExist, "ifNoneExist")
		if err != nil {
			return entryError(i, err)
		}
		f := search.Filter{q.Clauses}
		for j, p := range plans {
			if j == i || p == nil || p.write == nil {
				continue
			}
			rec := p.write.Record
			if rec.Type == typ && !rec.Deleted && f.Match(rec.ID, rec.Index) {
				return entryError(i, resource.Errorf(http.StatusPreconditionFailed, resource.IssueMultipleMatch,
					"", "the ifNoneExist condition also matches the %s entry %d writes: after the transaction "+
						"it would match two", typ, j))
			}
		}
	}
	return nil
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
		p, err := s.planUpdate(ctx, t.typ, id, body, e.Request.IfMatch, !t.cond)
		if err != nil {
			return nil, err
		}
		if err := checkIfNoneMatch(e.Request.IfNoneMatch, p); err != nil {
			return nil, err
		}
		return p, nil
	}
	return s.planEntry(ctx, e, t)
}
