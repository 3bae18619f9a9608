package rest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// handleBundle serves POST [base] with a batch or transaction Bundle
// (https://hl7.org/fhir/R4/http.html#transaction).
func (s *Server) handleBundle(c echo.Context) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	in, err := decodeBundle(body)
	if err != nil {
		return err
	}
	for i, e := range in.Entry {
		if err := s.checkFullURL(e); err != nil {
			return at(fmt.Sprintf("Bundle.entry[%d].fullUrl", i), err)
		}
	}
	if len(in.Entry) > s.maxEnts {
		return resource.Errorf(http.StatusRequestEntityTooLarge, resource.IssueTooCostly, "Bundle.entry",
			"a %s may hold at most %d entries; this one holds %d: split it", in.Type, s.maxEnts, len(in.Entry))
	}
	ctx := c.Request().Context()
	minimal := preferReturn(c.Request().Header) == "minimal"
	var out *bundleJSON
	if in.Type == "transaction" {
		out, err = s.transaction(ctx, in.Entry, minimal)
	} else {
		out = s.batch(ctx, in.Entry, minimal)
	}
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, mustJSON(out))
}

// inBundle is a posted Bundle: every R4 element of Bundle, entry and
// request is known (names match exactly; any other is refused), and those
// fhirbill does not act on are kept raw. Each entry's resource stays raw
// until its own interaction parses and validates it.
type inBundle struct {
	ResourceType  string         `json:"resourceType"`
	ID            jsontext.Value `json:"id"`
	Meta          jsontext.Value `json:"meta"`
	ImplicitRules jsontext.Value `json:"implicitRules"`
	Language      jsontext.Value `json:"language"`
	Identifier    jsontext.Value `json:"identifier"`
	Type          string         `json:"type"`
	Timestamp     jsontext.Value `json:"timestamp"`
	Total         jsontext.Value `json:"total"`
	Link          jsontext.Value `json:"link"`
	Entry         []inEntry      `json:"entry"`
	Signature     jsontext.Value `json:"signature"`
}

type inEntry struct {
	Link     jsontext.Value `json:"link"`
	FullURL  string         `json:"fullUrl"`
	Resource jsontext.Value `json:"resource"`
	Search   jsontext.Value `json:"search"`
	Request  *entryRequest  `json:"request"`
	Response jsontext.Value `json:"response"`
}

func decodeBundle(body []byte) (*inBundle, error) {
	if err := resource.CheckBundleJSON(body); err != nil {
		return nil, err
	}
	var b inBundle
	if err := jsonv2.Unmarshal(body, &b, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, badRequest("Bundle", "the Bundle does not have the R4 shape: %s", jsonShapeError(err))
	}
	if b.ResourceType != "Bundle" {
		return nil, badRequest("resourceType", "POST to the base takes a Bundle")
	}
	if b.Type != "batch" && b.Type != "transaction" {
		return nil, badRequest("Bundle.type", "Bundle.type must be batch or transaction")
	}
	fullURLs := make(map[string]int, len(b.Entry))
	for i, e := range b.Entry {
		if e.FullURL != "" {
			if j, dup := fullURLs[e.FullURL]; dup {
				return nil, badRequest(fmt.Sprintf("Bundle.entry[%d].fullUrl", i),
					"entries %d and %d have the same fullUrl (rule bdl-7)", j, i)
			}
			fullURLs[e.FullURL] = i
		}
		at := fmt.Sprintf("Bundle.entry[%d].request", i)
		if e.Request == nil {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueRequired, at, "each entry needs a request")
		}
		switch e.Request.Method {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete:
		case "":
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueRequired, at+".method", "request.method is required")
		default:
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, at+".method",
				"request.method must be GET, POST, PUT or DELETE")
		}
		if e.Request.URL == "" {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueRequired, at+".url", "request.url is required")
		}
	}
	return &b, nil
}

// checkFullURL applies R4's rules on Bundle.entry.fullUrl
// (https://hl7.org/fhir/R4/bundle.html#bundle-unique): an absolute URI; a
// urn:uuid: or urn:oid: holding a UUID or an OID
// (https://hl7.org/fhir/R4/datatypes.html#uuid); not version specific
// (bdl-8); and a RESTful URL, .../Type/id, that does not disagree with the
// entry's request.url and resource id. Errors name no element: the caller
// puts the fullUrl's path first.
func (s *Server) checkFullURL(e inEntry) error {
	if e.FullURL == "" {
		return nil
	}
	if err := resource.CheckURN(e.FullURL, ""); err != nil {
		return err
	}
	u, err := url.Parse(e.FullURL)
	if err != nil || !u.IsAbs() || strings.ContainsAny(e.FullURL, " \t\n\f\r") {
		return badRequest("", "fullUrl must be an absolute URI: a URL, a urn:uuid: or a urn:oid:")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil
	}
	if strings.Contains(u.Path, "/_history/") {
		return badRequest("", "fullUrl cannot be a version specific reference (rule bdl-8)")
	}
	parts := strings.Split(strings.TrimSuffix(u.Path, "/"), "/")
	if len(parts) < 2 || !resource.Known(parts[len(parts)-2]) || !resource.ValidID(parts[len(parts)-1]) {
		return nil // not a RESTful URL of a resource
	}
	typ, id := parts[len(parts)-2], parts[len(parts)-1]
	t, err := s.parseTarget(e.Request.URL)
	if err != nil {
		return nil // the entry's own processing reports it
	}
	switch {
	case t.typ != typ:
		return badRequest("", "the fullUrl names %s but request.url %s", withArticle(typ), withArticle(t.typ))
	case t.id != "" && t.id != id:
		return badRequest("", "the fullUrl and request.url name different ids: they must agree")
	}
	if len(bytes.TrimSpace(e.Resource)) > 0 {
		if bodyID, err := idInBody(e.Resource); err == nil && bodyID != "" && bodyID != id {
			return badRequest("", "the fullUrl and the resource's id disagree")
		}
	}
	return nil
}

// jsonShapeError names the element of a decoding error without its value.
func jsonShapeError(err error) string {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		where := strings.TrimPrefix(string(se.JSONPointer), "/")
		if errors.Is(err, jsonv2.ErrUnknownName) {
			return "unknown element at " + truncate(where, 80)
		}
		return "wrong kind of value at " + truncate(where, 80)
	}
	return "malformed element"
}

// target is what an entry's request.url names.
type target struct {
	typ, id string
	vid     int64
	query   string // after "?", for searches and conditional writes
	cond    bool   // the url had a "?"
}

// parseTarget reads a request.url: relative ("Patient/1", "Patient?x=y") or
// absolute under the base.
func (s *Server) parseTarget(raw string) (target, error) {
	var t target
	raw = strings.TrimPrefix(raw, s.base+"/")
	path, query, cond := strings.Cut(raw, "?")
	t.query, t.cond = query, cond
	parts := strings.Split(strings.Trim(path, "/"), "/")
	t.typ = parts[0]
	if err := checkType(t.typ); err != nil {
		return t, err
	}
	switch {
	case len(parts) == 1:
	case len(parts) == 2:
		t.id = parts[1]
	case len(parts) == 4 && parts[2] == "_history":
		t.id = parts[1]
		v, err := strconv.ParseInt(parts[3], 10, 64)
		if err != nil || v < 1 {
			return t, badRequest("", "the version in the url is not a number")
		}
		t.vid = v
	default:
		return t, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, "", "this url is not supported in a Bundle entry")
	}
	if t.id != "" {
		if err := checkID(t.id); err != nil {
			return t, err
		}
		if t.cond {
			return t, badRequest("request.url", "a url names either an id or a search, not both")
		}
	}
	return t, nil
}

// entryError prefixes a client error with the entry it belongs to.
func entryError(i int, err error) error {
	var re *resource.Error
	if !errors.As(err, &re) {
		return err
	}
	out := &resource.Error{Status: re.Status, Err: err}
	for _, is := range re.Issues {
		is.Diagnostics = fmt.Sprintf("Bundle.entry[%d]: %s", i, is.Diagnostics)
		is.Expression = append([]string{fmt.Sprintf("Bundle.entry[%d]", i)}, is.Expression...)
		out.Issues = append(out.Issues, is)
	}
	return out
}

// entryResult turns a committed plan into a response entry.
func (s *Server) entryResult(p *plan, minimal bool) entryJSON {
	r := &entryResponse{Status: statusLine(p.status)}
	e := entryJSON{Response: r}
	if p.rec != nil {
		r.Etag = etag(p.rec.Version)
		r.LastModified = instant(p.rec.Updated)
		if p.status == http.StatusCreated {
			r.Location = s.location(p.rec)
		}
		if !p.rec.Deleted {
			e.FullURL = s.fullURL(p.rec)
			if !minimal && !p.noBody {
				e.Resource = p.rec.Body
			}
		}
	}
	return e
}

func statusLine(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }

// errorEntry is the response entry of a failed batch entry.
func errorEntry(err error) entryJSON {
	status, issues := statusOf(err)
	return entryJSON{Response: &entryResponse{Status: statusLine(status), Outcome: resource.Outcome(issues...)}}
}

// batch runs each entry on its own, in order; one failing changes nothing
// for the others (https://hl7.org/fhir/R4/http.html#brules).
func (s *Server) batch(ctx context.Context, entries []inEntry, minimal bool) *bundleJSON {
	out := s.newBundle("batch-response")
	for i, e := range entries {
		res, err := s.batchEntry(ctx, e, minimal)
		if err != nil {
			status, _ := statusOf(err)
			if status >= 500 {
				s.logger.ErrorContext(ctx, "batch entry failed", "entry", i, "err", err)
			}
			res = errorEntry(err)
		}
		out.Entry = append(out.Entry, res)
	}
	return out
}

func (s *Server) batchEntry(ctx context.Context, e inEntry, minimal bool) (entryJSON, error) {
	t, err := s.parseTarget(e.Request.URL)
	if err != nil {
		return entryJSON{}, err
	}
	if e.Request.Method == http.MethodGet {
		return s.getEntry(ctx, t)
	}
	if err := checkBatchRefs(e.Resource); err != nil {
		return entryJSON{}, err
	}
	p, err := s.planEntry(ctx, e, t)
	if err != nil {
		return entryJSON{}, err
	}
	if p, err = s.commit(ctx, p); err != nil {
		return entryJSON{}, err
	}
	return s.entryResult(p, minimal), nil
}

// planEntry plans the write of one entry.
func (s *Server) planEntry(ctx context.Context, e inEntry, t target) (*plan, error) {
	r := e.Request
	needBody := r.Method == http.MethodPost || r.Method == http.MethodPut
	if needBody && len(bytes.TrimSpace(e.Resource)) == 0 {
		return nil, resource.Errorf(http.StatusBadRequest, resource.IssueRequired, "resource", "a %s entry needs a resource", r.Method)
	}
	var p *plan
	var err error
	switch {
	case r.Method == http.MethodPost && t.id == "" && !t.cond:
		return s.planCreate(ctx, t.typ, e.Resource, r.IfNoneExist)
	case r.Method == http.MethodPut && t.cond:
		p, err = s.planConditionalUpdate(ctx, t.typ, t.query, e.Resource, r.IfMatch)
	case r.Method == http.MethodPut && t.id != "" && t.vid == 0:
		p, err = s.planUpdate(ctx, t.typ, t.id, e.Resource, r.IfMatch, true)
	case r.Method == http.MethodDelete && t.cond:
		p, err = s.planConditionalDelete(ctx, t.typ, t.query)
	case r.Method == http.MethodDelete && t.id != "" && t.vid == 0:
		p, err = s.planDelete(ctx, t.typ, t.id, r.IfMatch)
	default:
		return nil, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, "request.url",
			"%s is not supported on this url", r.Method)
	}
	if err != nil {
		return nil, err
	}
	if err := checkIfNoneMatch(r.IfNoneMatch, p); err != nil {
		return nil, err
	}
	return p, nil
}

// getEntry runs a read, vread or search entry.
func (s *Server) getEntry(ctx context.Context, t target) (entryJSON, error) {
	ok := func(body []byte) entryJSON {
		return entryJSON{Resource: body, Response: &entryResponse{Status: statusLine(http.StatusOK)}}
	}
	if t.id == "" {
		if err := tooManyParams("request.url", t.query); err != nil {
			return entryJSON{}, err
		}
		params, err := url.ParseQuery(t.query)
		if err != nil {
			return entryJSON{}, badRequest("request.url", "the query string is not valid")
		}
		body, err := s.searchBundle(ctx, t.typ, params, false)
		if err != nil {
			return entryJSON{}, err
		}
		return ok(body), nil
	}
	in := InteractionRead
	if t.vid > 0 {
		in = InteractionVRead
	}
	filters, err := s.allow(ctx, t.typ, in)
	if err != nil {
		return entryJSON{}, err
	}
	var rec *store.Record
	if t.vid > 0 {
		rec, err = s.store.ReadVersion(ctx, t.typ, t.id, t.vid)
	} else {
		rec, err = s.store.Read(ctx, t.typ, t.id)
	}
	if err != nil {
		if errors.Is(err, resource.ErrDeleted) && len(filters) > 0 {
			return entryJSON{}, notFound(t.typ, t.id)
		}
		return entryJSON{}, err
	}
	if err := s.hide(rec, filters); err != nil {
		return entryJSON{}, err
	}
	e := ok(rec.Body)
	e.FullURL = s.fullURL(rec)
	e.Response.Etag = etag(rec.Version)
	e.Response.LastModified = instant(rec.Updated)
	return e, nil
}
