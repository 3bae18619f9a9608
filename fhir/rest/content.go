package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// contentType is what every FHIR response carries
// (https://hl7.org/fhir/R4/http.html#mime-type).
const contentType = "application/fhir+json; charset=utf-8"

// jsonTypes are the media types accepted for FHIR JSON.
var jsonTypes = map[string]bool{"application/fhir+json": true, "application/json": true, "application/json+fhir": true}

// xmlTypes are recognised and refused with 406: fhirbill speaks JSON only.
var xmlTypes = map[string]bool{"application/fhir+xml": true, "application/xml": true, "text/xml": true, "application/xml+fhir": true}

// negotiate refuses, before any work, a request with more than one
// Content-Type header (400: the field is a singleton, RFC 9110 §5.5 and
// §8.3, and taking either would be a guess, as with Authorization), and
// one that wants a format other than JSON: _format first, then Accept.
// _format=json also passes.
func (s *Server) negotiate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if n := len(c.Request().Header.Values(echo.HeaderContentType)); n > 1 {
			return badRequest("", "the request has %d Content-Type headers: send one "+
				"(Content-Type is a singleton field, RFC 9110 §8.3)", n)
		}
		if f := c.QueryParam("_format"); f != "" {
			mt, params, _ := mime.ParseMediaType(f)
			if mt != "json" && !jsonTypes[mt] || !r4Version(params) {
				return resource.Errorf(http.StatusNotAcceptable, resource.IssueNotSupported, "_format",
					"only JSON is supported (_format=json or application/fhir+json)")
			}
			return next(c)
		}
		if accept := c.Request().Header.Get(echo.HeaderAccept); accept != "" && !acceptsJSON(accept) {
			return resource.Errorf(http.StatusNotAcceptable, resource.IssueNotSupported, "",
				"only application/fhir+json of FHIR 4.0 (R4) is supported")
		}
		return next(c)
	}
}

// r4Version reports whether the parameters of a FHIR media type name R4
// or no version (https://hl7.org/fhir/R4/http.html#version-parameter:
// fhirVersion=4.0).
func r4Version(params map[string]string) bool {
	v, ok := params["fhirversion"]
	return !ok || v == "4.0" || v == "4.0.1"
}

// acceptsJSON reports whether an Accept header admits FHIR JSON: one of
// the JSON media types has a q above 0, taken from the most specific
// range that names it (RFC 9110 §12.5.1: type/subtype before type/*
// before */*; q=0 means "not acceptable"), and application/fhir+json is
// not refused by name. Another +json type with q above 0 is taken as a
// lenient client's way of asking for JSON. A range asking for another
// FHIR version than R4 (fhirVersion=3.0) admits nothing this server
// writes.
func acceptsJSON(accept string) bool {
	type rng struct {
		mt string
		q  float64
	}
	var ranges []rng
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || !r4Version(params) {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				q = 0
			}
		}
		ranges = append(ranges, rng{mt, q})
	}
	qOf := func(mt string) (float64, int) {
		q, spec := 0.0, 0
		for _, r := range ranges {
			s := 0
			switch {
			case r.mt == mt:
				s = 3
			case r.mt == "application/*" && strings.HasPrefix(mt, "application/"):
				s = 2
			case r.mt == "*/*":
				s = 1
			}
			if s > spec {
				q, spec = r.q, s
			}
		}
		return q, spec
	}
	// Every answer is application/fhir+json: refused by name, it is
	// refused whatever else the client would take.
	if q, spec := qOf("application/fhir+json"); q == 0 && spec == 3 {
		return false
	}
	for mt := range jsonTypes {
		if q, _ := qOf(mt); q > 0 {
			return true
		}
	}
	for _, r := range ranges {
		if strings.HasSuffix(r.mt, "+json") && !jsonTypes[r.mt] && r.q > 0 {
			return true
		}
	}
	return false
}

// limitBody refuses, before anything reads it, a body whose Content-Length
// is over the limit (413), and one in a content coding (gzip, ...), which
// fhirbill does not decode: 415 with Accept-Encoding saying so (RFC 9110
// §15.5.16, §12.5.3).
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > s.maxBody {
			return tooLarge(s.maxBody)
		}
		if r.ContentLength != 0 && encoded(r.Header) {
			c.Response().Header().Set("Accept-Encoding", "identity")
			return resource.Errorf(http.StatusUnsupportedMediaType, resource.IssueNotSupported, "",
				"the body must not be content-coded (Content-Encoding): send it as it is")
		}
		return next(c)
	}
}

// limitQuery refuses, before any work, a URL whose query string has more
// parameters than [maxQueryParams]: echo's QueryParam would read such a
// query as empty (dropping _format, say), and the handlers parsing it
// would fail with a message about something else.
func limitQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := tooManyParams("the query string", c.QueryString()); err != nil {
			return err
		}
		return next(c)
	}
}

// encoded reports whether h names a content coding other than identity.
func encoded(h http.Header) bool {
	for _, v := range h.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return true
			}
		}
	}
	return false
}

// readBody reads a resource body: the Content-Type must be FHIR JSON (415
// otherwise) and the size at most the configured limit (413).
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !jsonTypes[mt] {
		return nil, resource.Errorf(http.StatusUnsupportedMediaType, resource.IssueNotSupported, "",
			"Content-Type must be application/fhir+json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, resource.Errorf(http.StatusUnsupportedMediaType, resource.IssueNotSupported, "",
			"the body must be UTF-8 (charset=utf-8)")
	}
	if !r4Version(params) {
		return nil, resource.Errorf(http.StatusUnsupportedMediaType, resource.IssueNotSupported, "",
			"this server speaks FHIR 4.0 (R4); the body says fhirVersion=%s", truncate(params["fhirversion"], 10))
	}
	return s.readLimited(c.Request().Body)
}

// readOptionalBody reads the body of a request that may have none (an
// operation without input): nil when it is empty, whatever the
// Content-Type; else as readBody reads it.
func (s *Server) readOptionalBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > s.maxBody {
		return nil, tooLarge(s.maxBody)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, s.maxBody+1))
	if err != nil {
		return nil, resource.Errorf(http.StatusBadRequest, resource.IssueStructure, "", "could not read the request body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return s.readBody(c)
}

// readLimited reads at most maxBody bytes; more is a 413.
func (s *Server) readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, s.maxBody+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(s.maxBody)
		}
		return nil, resource.Errorf(http.StatusBadRequest, resource.IssueStructure, "", "could not read the request body")
	}
	if int64(len(b)) > s.maxBody {
		return nil, tooLarge(s.maxBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, resource.Errorf(http.StatusBadRequest, resource.IssueRequired, "", "the request body is empty")
	}
	return b, nil
}

func tooLarge(limit int64) error {
	return resource.Errorf(http.StatusRequestEntityTooLarge, resource.IssueTooLong, "",
		"the body is larger than the limit of %d bytes", limit)
}

// pretty reports whether the client asked for indented output (_pretty=true).
func pretty(c echo.Context) bool { return c.QueryParam("_pretty") == "true" }

// writeJSON writes a FHIR JSON body, indented under _pretty=true.
func writeJSON(c echo.Context, status int, body []byte) error {
	if pretty(c) {
		var buf bytes.Buffer
		if err := json.Indent(&buf, body, "", "  "); err == nil {
			body = buf.Bytes()
		}
	}
	if c.Request().Method == http.MethodHead {
		c.Response().Header().Set(echo.HeaderContentType, contentType)
		return c.NoContent(status)
	}
	return c.Blob(status, contentType, body)
}

// versionHeaders sets ETag and Last-Modified for a record
// (https://hl7.org/fhir/R4/http.html#versioning).
func versionHeaders(h http.Header, rec *store.Record) {
	h.Set("ETag", etag(rec.Version))
	h.Set("Last-Modified", rec.Updated.UTC().Format(http.TimeFormat))
}

func etag(v int64) string { return `W/"` + strconv.FormatInt(v, 10) + `"` }

// parseETag reads a version from an ETag value: W/"3", "3" or 3.
func parseETag(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	s = strings.Trim(s, `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v > 0
}

// preferReturn reads Prefer: return=... (minimal, representation,
// OperationOutcome); representation by default.
func preferReturn(h http.Header) string {
	for _, p := range strings.Split(h.Get("Prefer"), ";") {
		for _, q := range strings.Split(p, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(q), "=")
			if ok && strings.EqualFold(k, "return") {
				return strings.Trim(v, `"`)
			}
		}
	}
	return "representation"
}

// preferStrict reads Prefer: handling=strict.
func preferStrict(h http.Header) bool {
	for _, p := range strings.Split(h.Get("Prefer"), ";") {
		for _, q := range strings.Split(p, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(q), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "handling") {
				return strings.Trim(strings.TrimSpace(v), `"`) == "strict"
			}
		}
	}
	return false
}

// logIDKey is the echo.Context key of the id a create assigned, for the
// request log.
const logIDKey = "fhirbill.resource_id"

// logRequests logs one line per request: ids, the route pattern (never the
// URL, whose query may hold names and birth dates), status and latency.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		level := slog.LevelInfo
		if c.Path() == "/healthz" || c.Path() == "/readyz" {
			level = slog.LevelDebug
		}
		attrs := []any{
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"method", c.Request().Method,
			"route", c.Path(),
			"status", status,
			"latency_ms", time.Since(start).Milliseconds(),
		}
		// Resource type and id only: ids are not patient data, the query
		// string may be.
		if typ := c.Param("type"); typ != "" && resource.Known(typ) {
			attrs = append(attrs, "resource_type", typ)
		}
		if id, ok := c.Get(logIDKey).(string); ok {
			attrs = append(attrs, "resource_id", id)
		} else if id := c.Param("id"); id != "" && resource.ValidID(id) {
			attrs = append(attrs, "resource_id", id)
		}
		s.logger.Log(c.Request().Context(), level, "request", attrs...)
		return nil
	}
}
