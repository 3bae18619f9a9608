package rest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// A write is planned first (read the current version, check preconditions,
// validate, build the record), then committed with store.Put, or with
// store.PutAll for every entry of a transaction at once.

// plan is a planned write and the answer to give once it is stored.
type plan struct {
	write  *store.Write // nil: nothing to store (a match of a conditional create, a no-op update)
	status int          // 200, 201, 204
	rec    *store.Record
	// ifMatch is set when the client named the version it replaces: a
	// conflict is then a 412, and never retried.
	ifMatch bool
	// noBody answers without rec's content: the match of a conditional
	// create that the caller may not read.
	noBody bool
	// retry rebuilds the plan after a conflict (nil: not retryable).
	retry func(ctx context.Context) (*plan, error)
}

// current returns the version a planned write replaces, and whether a
// current (not deleted) version exists.
func (p *plan) current() (int64, bool) {
	switch {
	case p.write == nil && p.rec != nil && !p.rec.Deleted:
		return p.rec.Version, true // unchanged, or a conditional create's match
	case p.write == nil, p.status == http.StatusCreated:
		return 0, false
	}
	return p.write.Prev, true
}

// location is the versioned URL of the record, for the Location header.
func (s *Server) location(rec *store.Record) string {
	return fmt.Sprintf("%s/%s/%s/_history/%d", s.base, rec.Type, rec.ID, rec.Version)
}

// checkType refuses a resource type google/fhir/go does not know.
func checkType(typ string) error {
	if !resource.Known(typ) {
		return resource.Errorf(http.StatusNotFound, resource.IssueNotSupported, "",
			"unknown resource type %q", truncate(typ, 64))
	}
	return nil
}

// checkID refuses an id that is not a FHIR id.
func checkID(id string) error {
	if !resource.ValidID(id) {
		return badRequest("", "%q is not a valid id (1-64 of A-Z a-z 0-9 - .)", truncate(id, 64))
	}
	return nil
}

// withArticle puts "a" or "an" before a resource type name, as it is
// read: an Invoice, a Patient.
func withArticle(typ string) string {
	if typ != "" && strings.ContainsRune("AEIOU", rune(typ[0])) {
		return "an " + typ
	}
	return "a " + typ
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// buildRecord validates body as a resource of type typ and returns the
// record of version version, with id and meta set by the server.
func (s *Server) buildRecord(typ, id string, body []byte, version int64, now time.Time) (*store.Record, *resource.Resource, error) {
	r, err := resource.Parse(body)
	if err != nil {
		return nil, nil, err
	}
	if r.Type() != typ {
		return nil, nil, badRequest("resourceType", "the body holds %s; this endpoint takes %s",
			withArticle(r.Type()), withArticle(typ))
	}
	r.SetID(id)
	r.Stamp(version, now)
	b, err := r.Marshal()
	if err != nil {
		return nil, nil, err
	}
	idx, err := s.reg.Extract(typ, b, s.base)
	if err != nil {
		return nil, nil, fmt.Errorf("index %s/%s: %w", typ, id, err)
	}
	return &store.Record{Type: typ, ID: id, Version: version, Updated: now, Body: b, Index: idx}, r, nil
}

// unchanged reports whether r, stamped as cur, prints exactly as cur: an
// update that would store the same content again.
func unchanged(r *resource.Resource, cur *store.Record) bool {
	if cur == nil || cur.Deleted {
		return false
	}
	r.Stamp(cur.Version, cur.Updated)
	b, err := r.Marshal()
	return err == nil && bytes.Equal(b, cur.Body)
}

// retryFor bounds how long a write without If-Match is planned again after
// losing races; each pause is random, up to maxBackoff, so that racing
// writers spread out. Twenty writers of one resource at once take well
// under a second on the embedded store; a write that still loses after
// retryFor is a 409.
const (
	retryFor   = 10 * time.Second
	maxBackoff = 100 * time.Millisecond
)

// commit stores a planned write. A conflict is retried, planned again on
// the version that won, for up to retryFor when the client did not name a
// version; with If-Match (or If-None-Match) it is a 412.
func (s *Server) commit(ctx context.Context, p *plan) (*plan, error) {
	deadline := time.Now().Add(retryFor)
	for attempt := 0; ; attempt++ {
		if p.write == nil {
			return p, nil
		}
		err := s.store.Put(ctx, *p.write)
		if err == nil {
			s.committed(ctx, p.write.Record)
			return p, nil
		}
		if !errors.Is(err, resource.ErrConflict) {
			return nil, err
		}
		if p.ifMatch {
			return nil, preconditionFailed("the resource was changed by another request after the " +
				"precondition (If-Match or If-None-Match) was checked")
		}
		if p.retry == nil || time.Now().After(deadline) {
			return nil, err
		}
		pause := min(time.Duration(1+mrand.IntN(5<<min(attempt, 10)))*time.Millisecond, maxBackoff)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if p, err = p.retry(ctx); err != nil {
			return nil, err
		}
	}
}

// respond writes the answer to a committed write, following Prefer
// (https://hl7.org/fhir/R4/http.html#ops).
func (s *Server) respond(c echo.Context, p *plan) error {
	h := c.Response().Header()
	if p.rec != nil {
		c.Set(logIDKey, p.rec.ID)
		versionHeaders(h, p.rec)
		if p.status == http.StatusCreated {
			h.Set(echo.HeaderLocation, s.location(p.rec))
		}
	}
	if p.rec == nil || p.rec.Deleted || p.status == http.StatusNoContent {
		return c.NoContent(p.status)
	}
	switch pr := preferReturn(c.Request().Header); {
	case pr == "minimal", p.noBody && pr != "OperationOutcome":
		return c.NoContent(p.status)
	case pr == "OperationOutcome":
		msg := fmt.Sprintf("%s/%s stored as version %d", p.rec.Type, p.rec.ID, p.rec.Version)
		if p.write == nil {
			msg = fmt.Sprintf("%s/%s unchanged at version %d", p.rec.Type, p.rec.ID, p.rec.Version)
		}
		return writeJSON(c, p.status, resource.Outcome(resource.Issue{
			Severity: resource.SeverityInformation, Code: resource.IssueInformational, Diagnostics: msg,
		}))
	}
	return writeJSON(c, p.status, p.rec.Body)
}

// matched is the plan of a conditional create whose search found rec:
// nothing is stored, and rec is shown only to a caller who may read it
// (create access does not read what read access guards).
func (s *Server) matched(ctx context.Context, rec *store.Record) (*plan, error) {
	p := &plan{status: http.StatusOK, rec: rec}
	err := s.readAllowed(ctx, InteractionRead, rec)
	var ae *AuthError
	switch {
	case errors.As(err, &ae), errors.Is(err, resource.ErrNotFound):
		p.noBody = true
	case err != nil:
		return nil, err
	}
	return p, nil
}

// matchOne runs the search of a conditional interaction. The query is
// always handled strictly: an ignored parameter would widen the match.
// The search sees only what the caller may do in on.
func (s *Server) matchOne(ctx context.Context, typ, query string, in Interaction, header string) ([]*store.Record, error) {
	q, err := s.conditionQuery(typ, query, header)
	if err != nil {
		return nil, err
	}
	q.Offset, q.Count, q.SummaryCount = 0, 2, false
	if q.Filters, err = s.allow(ctx, typ, in); err != nil {
		return nil, err
	}
	recs, _, err := s.store.Search(ctx, q)
	return recs, err
}

// conditionQuery parses the search of a conditional interaction (named
// header in errors), strictly, and refuses one that selects nothing.
func (s *Server) conditionQuery(typ, query, header string) (*search.Query, error) {
	// If-None-Exist may carry a whole search URL; only its query counts.
	if _, q, ok := strings.Cut(query, "?"); ok {
		query = q
	}
	if err := tooManyParams(header, query); err != nil {
		return nil, err
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return nil, badRequest("", "%s is not a valid query string", header)
	}
	if len(vals) == 0 {
		return nil, badRequest("", "%s needs at least one search parameter", header)
	}
	q, err := s.reg.Parse(typ, vals, search.ParseOptions{Base: s.base, Strict: true})
	if err != nil {
		return nil, err
	}
	if len(q.Clauses) == 0 {
		// _count, _total and the like select nothing: the match would be
		// every resource of the type.
		return nil, badRequest("", "%s needs at least one search parameter that selects resources", header)
	}
	return q, nil
}

// withoutFormat drops the result parameters _format and _pretty from a
// conditional query: they shape the answer, not the match.
func withoutFormat(query string) string {
	vals, err := url.ParseQuery(query)
	if err != nil {
		return query // matchOne reports it
	}
	vals.Del("_format")
	vals.Del("_pretty")
	return vals.Encode()
}
