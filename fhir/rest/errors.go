package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// statusOf maps an error to its HTTP status and OperationOutcome issues.
// It is the one table from errors to statuses.
func statusOf(err error) (int, []resource.Issue) {
	var re *resource.Error
	var he *echo.HTTPError
	var ae *AuthError
	switch {
	case errors.As(err, &ae):
		return ae.Status, []resource.Issue{authIssue(ae)}
	case errors.As(err, &re):
		return re.Status, re.Issues
	case errors.Is(err, resource.ErrNotFound):
		return http.StatusNotFound, []resource.Issue{issue(resource.IssueNotFound, "resource not found")}
	case errors.Is(err, resource.ErrDeleted):
		return http.StatusGone, []resource.Issue{issue(resource.IssueDeleted, "resource deleted")}
	case errors.Is(err, resource.ErrConflict):
		return http.StatusConflict, []resource.Issue{issue(resource.IssueConflict,
			"the resource was changed by another request; read it again and retry")}
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		code := resource.IssueProcessing
		switch he.Code {
		case http.StatusNotFound:
			msg, code = "no such endpoint", resource.IssueNotSupported
		case http.StatusMethodNotAllowed:
			msg, code = "method not allowed on this endpoint", resource.IssueNotSupported
		case http.StatusRequestEntityTooLarge:
			code = resource.IssueTooLong
		}
		return he.Code, []resource.Issue{issue(code, msg)}
	}
	return http.StatusInternalServerError, []resource.Issue{{
		Severity: resource.SeverityFatal, Code: resource.IssueException,
		Diagnostics: "internal error; the request id identifies it in the server log",
	}}
}

func issue(code resource.IssueType, msg string) resource.Issue {
	return resource.Issue{Severity: resource.SeverityError, Code: code, Diagnostics: msg}
}

// statusClientClosed is the status logged for a request whose client went
// away before the answer (nginx's 499); the client never sees it.
const statusClientClosed = 499

// handleError writes every error as an OperationOutcome. Only faults of
// the server (5xx) are logged at Error; a client's mistakes at Debug.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, issues := statusOf(err)
	ctx := c.Request().Context()
	rid := c.Response().Header().Get(echo.HeaderXRequestID)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The client went away: no fault of the server, and nobody to
		// answer. The request log says 499, as proxies log it.
		s.logger.InfoContext(ctx, "request abandoned by the client", "request_id", rid, "route", c.Path())
		_ = c.NoContent(statusClientClosed)
		return
	}
	if status >= 500 {
		s.logger.ErrorContext(ctx, "request failed", "request_id", rid, "route", c.Path(), "err", err)
	} else {
		s.logger.DebugContext(ctx, "request refused", "request_id", rid, "route", c.Path(), "status", status)
	}
	if status == http.StatusMethodNotAllowed {
		// RFC 9110 §15.5.6: a 405 says which methods the target takes.
		if allow := s.allowHeader(c); allow != "" {
			c.Response().Header().Set(echo.HeaderAllow, allow)
		}
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		c.Response().Header().Set("WWW-Authenticate", ae.challenge())
		s.logger.InfoContext(ctx, "request refused by auth", "request_id", rid, "route", c.Path(),
			"status", status, "reason", ae.Code)
	} else if status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="fhirbill"`)
	}
	body := resource.Outcome(issues...)
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if werr := c.Blob(status, contentType, body); werr != nil {
		s.logger.WarnContext(ctx, "write error response", "request_id", rid, "err", werr)
	}
}

// badRequest is a 400 invalid issue on expression.
func badRequest(expression, format string, args ...any) error {
	return resource.Errorf(http.StatusBadRequest, resource.IssueInvalid, expression, format, args...)
}

// preconditionFailed is a 412.
func preconditionFailed(format string, args ...any) error {
	return resource.Errorf(http.StatusPreconditionFailed, resource.IssueConflict, "", format, args...)
}

func notFound(typ, id string) error {
	return fmt.Errorf("%s/%s: %w", typ, id, resource.ErrNotFound)
}
