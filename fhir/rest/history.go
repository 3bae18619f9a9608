package rest

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// handleInstanceHistory serves GET [base]/[type]/[id]/_history
// (https://hl7.org/fhir/R4/http.html#history).
func (s *Server) handleInstanceHistory(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if err := checkType(typ); err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	return s.history(c, typ, id)
}

// handleTypeHistory serves GET [base]/[type]/_history.
func (s *Server) handleTypeHistory(c echo.Context) error {
	typ := c.Param("type")
	if err := checkType(typ); err != nil {
		return err
	}
	return s.history(c, typ, "")
}

// history answers a history Bundle, newest version first, paged with
// _count and _offset, filtered by _since.
func (s *Server) history(c echo.Context, typ, id string) error {
	p, err := historyPage(c.QueryParams())
	if err != nil {
		return err
	}
	in := InteractionHistoryType
	if id != "" {
		in = InteractionHistoryInstance
	}
	if p.Filters, err = s.allow(c.Request().Context(), typ, in); err != nil {
		return err
	}
	recs, total, err := s.store.History(c.Request().Context(), typ, id, p)
	if err != nil {
		return err
	}
	if id != "" && total == 0 {
		return notFound(typ, id)
	}
	b := s.newBundle("history")
	b.Total = &total
	path := s.base + "/" + typ
	if id != "" {
		path += "/" + id
	}
	path += "/_history"
	page := func(offset int) string {
		q := url.Values{}
		q.Set("_count", strconv.Itoa(p.Count))
		if offset > 0 {
			q.Set("_offset", strconv.Itoa(offset))
		}
		if !p.Since.IsZero() {
			q.Set("_since", instant(p.Since))
		}
		return path + "?" + q.Encode()
	}
	b.Link = append(b.Link, linkJSON{Relation: "self", URL: page(p.Offset)})
	if p.Count > 0 && p.Offset+len(recs) < total {
		b.Link = append(b.Link, linkJSON{Relation: "next", URL: page(p.Offset + p.Count)})
	}
	if p.Offset > 0 {
		b.Link = append(b.Link, linkJSON{Relation: "previous", URL: page(max(0, p.Offset-p.Count))})
	}
	for _, rec := range recs {
		b.Entry = append(b.Entry, s.historyEntry(rec))
	}
	return writeJSON(c, http.StatusOK, mustJSON(b))
}

// historyEntry shows a version with the request that made it, as recorded
// with the version; without a record, version 1 counts as a create.
func (s *Server) historyEntry(rec *store.Record) entryJSON {
	e := entryJSON{
		FullURL: s.fullURL(rec),
		Response: &entryResponse{
			Status:       "200 OK",
			Etag:         etag(rec.Version),
			LastModified: instant(rec.Updated),
		},
	}
	method := rec.Method
	if method == "" {
		switch {
		case rec.Deleted:
			method = http.MethodDelete
		case rec.Version == 1:
			method = http.MethodPost
		default:
			method = http.MethodPut
		}
	}
	switch {
	case rec.Deleted:
		e.Request = &entryRequest{Method: http.MethodDelete, URL: rec.Type + "/" + rec.ID}
		e.Response.Status = "204 No Content"
		return e
	case method == http.MethodPost:
		e.Request = &entryRequest{Method: http.MethodPost, URL: rec.Type}
	default:
		e.Request = &entryRequest{Method: http.MethodPut, URL: rec.Type + "/" + rec.ID}
	}
	if rec.Version == 1 {
		e.Response.Status = "201 Created"
	}
	e.Resource = rec.Body
	return e
}

// historyPage reads _count (default 50, at most 1000), _offset and _since.
// _at and _list would narrow the history; they are refused, not ignored.
func historyPage(q url.Values) (store.Page, error) {
	p := store.Page{Count: 50}
	for _, name := range []string{"_at", "_list"} {
		if q.Has(name) {
			return p, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, name,
				"%s is not supported on history", name)
		}
	}
	for _, name := range []string{"_count", "_offset", "_since"} {
		if len(q[name]) > 1 {
			return p, badRequest(name, "%s may be given only once", name)
		}
	}
	if v := q.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, badRequest("_count", "_count must be a whole number of at least 0")
		}
		p.Count = min(n, 1000)
	}
	if v := q.Get("_offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, badRequest("_offset", "_offset must be a whole number of at least 0")
		}
		p.Offset = n
	}
	if v := q.Get("_since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return p, badRequest("_since", "_since must be an instant such as 2024-03-01T00:00:00Z")
		}
		p.Since = t.UTC()
	}
	return p, nil
}
