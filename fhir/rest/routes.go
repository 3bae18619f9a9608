package rest

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// routes registers every endpoint in one place. prefix is the path of the
// base URL ("/fhir"), "" for the root.
func (s *Server) routes(prefix string) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Debug = false
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, DisablePrintStack: true}))
	e.Use(dropBadRequestID)
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		RequestIDHandler: func(c echo.Context, id string) {
			c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), requestIDKey{}, id)))
		},
	}))
	e.Use(s.logRequests)

	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.handleReady)
	// fhir/smart mounts its documents here when authorization is on.
	e.Any(prefix+"/.well-known/*", s.handleWellKnown)

	r := &routeTable{
		g:       e.Group(prefix, s.limitBody, limitQuery, s.negotiate, s.authorize),
		prefix:  prefix,
		options: s.handleOptions,
	}
	r.get("/metadata", s.handleCapabilities)
	r.add(http.MethodPost, "", s.handleBundle)
	r.add(http.MethodPost, "/", s.handleBundle)
	r.get("/:type", s.handleSearch)
	r.add(http.MethodPost, "/:type", s.handleCreate)
	r.add(http.MethodPut, "/:type", s.handleConditionalUpdate)
	r.add(http.MethodDelete, "/:type", s.handleConditionalDelete)
	r.get("/:type/_search", s.handleSearchGet)
	r.add(http.MethodPost, "/:type/_search", s.handleSearchPost)
	r.get("/:type/_history", s.handleTypeHistory)
	r.get("/:type/:id", s.handleRead)
	r.add(http.MethodPost, "/:type/:id", s.handleTypeOperation) // [type]/$op only
	r.add(http.MethodPut, "/:type/:id", s.handleUpdate)
	r.add(http.MethodDelete, "/:type/:id", s.handleDelete)
	r.get("/:type/:id/_history", s.handleInstanceHistory)
	r.get("/:type/:id/_history/:vid", s.handleVRead)
	r.get("/:type/:id/:op", s.handleInstanceOperation)
	r.add(http.MethodPost, "/:type/:id/:op", s.handleInstanceOperation)
	s.allowed = r.finish()
	return e
}

// routeTable registers the routes of the API and answers every other
// method on their paths with 405 and the methods they take (RFC 9110
// §15.5.6), PATCH among them (not supported; see the README). Echo's
// router would answer some of those 404, or route them to a parameter
// route (PUT /Patient/_history to an update of the id "_history").
type routeTable struct {
	g       *echo.Group
	prefix  string
	options echo.HandlerFunc    // answers OPTIONS on every path
	methods map[string][]string // path → methods served
	order   []string            // paths, as registered
}

// methodsNotServed are the methods a path answers with 405 when it does
// not serve them; OPTIONS is answered with the Allow header.
var methodsNotServed = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodDelete, http.MethodPatch, http.MethodTrace,
}

func (r *routeTable) add(method, path string, h echo.HandlerFunc) {
	if r.methods == nil {
		r.methods = make(map[string][]string)
	}
	if _, ok := r.methods[path]; !ok {
		r.order = append(r.order, path)
	}
	r.methods[path] = append(r.methods[path], method)
	r.g.Add(method, path, h)
}

// get serves GET and HEAD, which is GET without the body (RFC 9110
// §9.3.2; writeJSON and handleError leave it out).
func (r *routeTable) get(path string, h echo.HandlerFunc) {
	r.add(http.MethodGet, path, h)
	r.add(http.MethodHead, path, h)
}

// finish registers the 405s and returns each full route path's Allow
// value.
func (r *routeTable) finish() map[string][]string {
	allowed := make(map[string][]string, len(r.order))
	for _, path := range r.order {
		served := r.methods[path]
		for _, m := range methodsNotServed {
			if !slices.Contains(served, m) {
				r.g.Add(m, path, notAllowed)
			}
		}
		sorted := slices.Clone(served)
		slices.Sort(sorted)
		allowed[r.prefix+path] = sorted
		r.g.Add(http.MethodOptions, path, r.options)
	}
	return allowed
}

// methodsOf returns the methods the target of c takes: those its route
// serves, less POST on [type]/[id] unless the id is an operation ($name),
// the only POST served there. OPTIONS and the Allow of a 405 both say
// these.
func (s *Server) methodsOf(c echo.Context) []string {
	path := c.Path()
	var out []string
	for _, m := range s.allowed[path] {
		if m == http.MethodPost && path == s.prefix+"/:type/:id" && !strings.HasPrefix(c.Param("id"), "$") {
			continue
		}
		out = append(out, m)
	}
	return out
}

// handleOptions answers OPTIONS with the methods the target takes.
func (s *Server) handleOptions(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderAllow, strings.Join(append(s.methodsOf(c), http.MethodOptions), ", "))
	return c.NoContent(http.StatusNoContent)
}

// allowHeader is the Allow value of a 405 on the route of c: the methods
// the target takes and OPTIONS, less the one refused (an operation may
// refuse a method its route serves).
func (s *Server) allowHeader(c echo.Context) string {
	var out []string
	for _, m := range s.methodsOf(c) {
		if m != c.Request().Method {
			out = append(out, m)
		}
	}
	if len(out) > 0 {
		out = append(out, http.MethodOptions)
	}
	return strings.Join(out, ", ")
}

// handleWellKnown answers the paths under [base]/.well-known that nothing
// mounted: with authorization off there is no SMART configuration, and
// the path is not a resource type.
func (s *Server) handleWellKnown(c echo.Context) error {
	if s.auth == nil {
		return resource.Errorf(http.StatusNotFound, resource.IssueNotFound, "",
			"authorization is off on this server (serve --auth=off): it publishes no SMART configuration "+
				"and takes no tokens")
	}
	return resource.Errorf(http.StatusNotFound, resource.IssueNotFound, "", "no such document under .well-known")
}

func (s *Server) handleReady(c echo.Context) error {
	if err := s.store.Ping(c.Request().Context()); err != nil {
		s.logger.WarnContext(c.Request().Context(), "store not reachable", "err", err)
		return c.String(http.StatusServiceUnavailable, "store not reachable\n")
	}
	return c.String(http.StatusOK, "ok\n")
}

// Mount serves h at method and path under the base URL, outside the FHIR
// API: no content negotiation and no credentials checked. fhir/smart
// mounts /.well-known/smart-configuration and its token endpoint so.
func (s *Server) Mount(method, path string, h http.Handler) {
	s.echo.Add(method, s.prefix+path, echo.WrapHandler(h))
}

// requestIDKey keys the request id in a request's context.
type requestIDKey struct{}

// requestID returns the id of the request ctx belongs to, for logs.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// notAllowed answers 405 for a method the endpoint does not take (PATCH
// is not supported; see the README).
func notAllowed(c echo.Context) error {
	return echo.ErrMethodNotAllowed
}

// validRequestID is what a client-sent X-Request-Id must look like to be
// kept: it goes into every log line of the request.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// dropBadRequestID removes a client X-Request-Id that is too long or holds
// other characters, so the server makes its own.
func dropBadRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if id := h.Get(echo.HeaderXRequestID); id != "" && !validRequestID.MatchString(id) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}
