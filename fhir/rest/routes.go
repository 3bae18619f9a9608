package rest

import (
	"context"
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
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

	g := e.Group(prefix, s.negotiate, s.authorize)
	g.GET("/metadata", s.handleCapabilities)
	g.HEAD("/metadata", s.handleCapabilities)
	g.HEAD("/:type/:id", s.handleRead)
	g.POST("", s.handleBundle)
	g.POST("/", s.handleBundle)
	g.GET("/:type", s.handleSearch)
	g.POST("/:type", s.handleCreate)
	g.PUT("/:type", s.handleConditionalUpdate)
	g.DELETE("/:type", s.handleConditionalDelete)
	g.POST("/:type/_search", s.handleSearchPost)
	g.GET("/:type/_history", s.handleTypeHistory)
	g.GET("/:type/:id", s.handleRead)
	g.POST("/:type/:id", s.handleTypeOperation)
	g.PUT("/:type/:id", s.handleUpdate)
	g.DELETE("/:type/:id", s.handleDelete)
	g.GET("/:type/:id/_history", s.handleInstanceHistory)
	g.GET("/:type/:id/_history/:vid", s.handleVRead)
	g.PATCH("/:type", notAllowed)
	g.PATCH("/:type/:id", notAllowed)
	g.PUT("", notAllowed)
	g.DELETE("", notAllowed)
	g.PUT("/", notAllowed)
	g.DELETE("/", notAllowed)
	g.POST("/metadata", notAllowed)
	g.GET("/:type/_search", s.handleSearchGet)
	g.PUT("/:type/_search", notAllowed)
	g.DELETE("/:type/_search", notAllowed)
	g.PUT("/:type/_history", notAllowed)
	g.DELETE("/:type/_history", notAllowed)
	g.PUT("/:type/:id/_history", notAllowed)
	g.DELETE("/:type/:id/_history", notAllowed)
	g.POST("/:type/:id/_history", notAllowed)
	g.PUT("/:type/:id/_history/:vid", notAllowed)
	g.DELETE("/:type/:id/_history/:vid", notAllowed)
	g.POST("/:type/:id/_history/:vid", notAllowed)
	g.GET("/:type/:id/:op", s.handleInstanceOperation)
	g.POST("/:type/:id/:op", s.handleInstanceOperation)
	return e
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
