package rest

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
)

// handleSearch serves GET [base]/[type]?params
// (https://hl7.org/fhir/R4/http.html#search). GET [base]/$op reaches the
// system operations.
func (s *Server) handleSearch(c echo.Context) error {
	typ := c.Param("type")
	if strings.HasPrefix(typ, "$") {
		return s.operation(c, "", "", typ)
	}
	params, err := queryParams(c)
	if err != nil {
		return err
	}
	return s.search(c, typ, params)
}

// queryParams parses the query string, refusing one that does not parse
// (echo's QueryParams drops the broken pairs silently, which would widen a
// search).
func queryParams(c echo.Context) (url.Values, error) {
	if err := tooManyParams("the query string", c.QueryString()); err != nil {
		return nil, err
	}
	params, err := url.ParseQuery(c.QueryString())
	if err != nil {
		return nil, badRequest("", "the query string is not valid: a %% escape or a ';' is malformed")
	}
	return params, nil
}

// maxQueryParams is the most parameters a query string may have, counted
// as Go's url.ParseQuery counts them ('&'-separated parts, empty ones too).
// It is ParseQuery's own default limit (net/url defaultMaxParams), past
// which ParseQuery fails with an error that a client could not act on;
// checking first lets the answer say what is wrong.
const maxQueryParams = 10000

// tooManyParams refuses query, a query string or form body (where says
// which), when it has more than [maxQueryParams] parameters.
func tooManyParams(where, query string) error {
	if n := strings.Count(query, "&") + 1; n > maxQueryParams {
		return resource.Errorf(http.StatusBadRequest, resource.IssueTooLong, "",
			"%s has %d parameters ('&'-separated parts), more than the limit of %d",
			where, n, maxQueryParams)
	}
	return nil
}

// handleSearchGet serves GET [base]/[type]/_search, the same as a search
// on the type.
func (s *Server) handleSearchGet(c echo.Context) error {
	params, err := queryParams(c)
	if err != nil {
		return err
	}
	return s.search(c, c.Param("type"), params)
}

// handleSearchPost serves POST [base]/[type]/_search with the parameters
// form-encoded in the body, alone or together with the URL's.
func (s *Server) handleSearchPost(c echo.Context) error {
	typ := c.Param("type")
	params, err := queryParams(c)
	if err != nil {
		return err
	}
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if c.Request().ContentLength != 0 {
		if !strings.HasPrefix(ct, echo.MIMEApplicationForm) {
			return resource.Errorf(http.StatusUnsupportedMediaType, resource.IssueNotSupported, "",
				"POST _search takes application/x-www-form-urlencoded parameters")
		}
		body, err := s.readLimited(c.Request().Body)
		if err != nil {
			return err
		}
		if err := tooManyParams("the form body", string(body)); err != nil {
			return err
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return badRequest("", "the form body is not valid application/x-www-form-urlencoded")
		}
		for k, vs := range form {
			params[k] = append(params[k], vs...)
		}
	}
	return s.search(c, typ, params)
}

// search runs a search and answers a searchset Bundle.
func (s *Server) search(c echo.Context, typ string, params url.Values) error {
	body, err := s.searchBundle(c.Request().Context(), typ, params, preferStrict(c.Request().Header))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, body)
}

// searchBundle runs a search and prints the searchset Bundle, with self,
// next and previous links that repeat the query
// (https://hl7.org/fhir/R4/search.html#conformance).
func (s *Server) searchBundle(ctx context.Context, typ string, params url.Values, strict bool) ([]byte, error) {
	if err := checkType(typ); err != nil {
		return nil, err
	}
	filters, err := s.allow(ctx, typ, InteractionSearch)
	if err != nil {
		return nil, err
	}
	incs, err := s.parseIncludes(typ, params)
	if err != nil {
		return nil, err
	}
	rest := url.Values{}
	for k, vs := range params {
		if k != "_include" && k != "_revinclude" {
			rest[k] = vs
		}
	}
	q, err := s.reg.Parse(typ, rest, search.ParseOptions{Base: s.base, Strict: strict})
	if err != nil {
		return nil, err
	}
	q.Filters = filters
	b := s.newBundle("searchset")
	if q.SummaryCount {
		n, err := s.store.Count(ctx, q)
		if err != nil {
			return nil, err
		}
		b.Total = &n
		b.Link = []linkJSON{{Relation: "self", URL: s.pageURL(typ, params, q, q.Offset)}}
		return mustJSON(b), nil
	}
	recs, more, err := s.store.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	switch {
	case q.Total == search.TotalNone:
	case q.Total == search.TotalAccurate || q.Total == search.TotalEstimate:
		n, err := s.store.Count(ctx, q)
		if err != nil {
			return nil, err
		}
		b.Total = &n
	case !more && (len(recs) > 0 || q.Offset == 0):
		// The last page: the total is known without counting.
		n := q.Offset + len(recs)
		b.Total = &n
	}
	b.Link = append(b.Link, linkJSON{Relation: "self", URL: s.pageURL(typ, params, q, q.Offset)})
	if more {
		b.Link = append(b.Link, linkJSON{Relation: "next", URL: s.pageURL(typ, params, q, q.Offset+q.Count)})
	}
	if q.Offset > 0 {
		b.Link = append(b.Link, linkJSON{Relation: "previous", URL: s.pageURL(typ, params, q, max(0, q.Offset-q.Count))})
	}
	for _, rec := range recs {
		b.Entry = append(b.Entry, entryJSON{FullURL: s.fullURL(rec), Resource: rec.Body, Search: &entrySearch{Mode: "match"}})
	}
	incRecs, err := s.included(ctx, recs, incs)
	if err != nil {
		return nil, err
	}
	for _, rec := range incRecs {
		b.Entry = append(b.Entry, entryJSON{FullURL: s.fullURL(rec), Resource: rec.Body, Search: &entrySearch{Mode: "include"}})
	}
	if len(q.Ignored) > 0 {
		b.Entry = append(b.Entry, entryJSON{Resource: resource.Outcome(resource.Issue{
			Severity: resource.SeverityWarning, Code: resource.IssueNotSupported,
			Diagnostics: "parameters not supported and ignored: " + strings.Join(q.Ignored, ", "),
			Expression:  q.Ignored,
		}), Search: &entrySearch{Mode: "outcome"}})
	}
	return mustJSON(b), nil
}

// pageURL is the search URL of the page at offset: the parameters that
// were applied (ignored ones dropped, so the link states what was done,
// https://hl7.org/fhir/R4/search.html#selflink; _summary=text is one),
// in a stable order, with _count and _offset.
func (s *Server) pageURL(typ string, params url.Values, q *search.Query, offset int) string {
	ignored := make(map[string]bool, len(q.Ignored))
	for _, name := range q.Ignored {
		ignored[name] = true
	}
	keep := url.Values{}
	for k, vs := range params {
		code, _, _ := strings.Cut(k, ":")
		applied := k == "_total" || k == "_summary" || k == "_include" || k == "_revinclude" ||
			s.reg.Lookup(typ, code) != nil
		if !applied || ignored[k] {
			continue
		}
		keep[k] = append([]string(nil), vs...)
	}
	keys := make([]string, 0, len(keep))
	for k := range keep {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		for _, v := range keep[k] {
			if sb.Len() > 0 {
				sb.WriteByte('&')
			}
			sb.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v))
		}
	}
	if sb.Len() > 0 {
		sb.WriteByte('&')
	}
	sb.WriteString("_count=" + strconv.Itoa(q.Count))
	if offset > 0 {
		sb.WriteString("&_offset=" + strconv.Itoa(offset))
	}
	return s.base + "/" + typ + "?" + sb.String()
}
