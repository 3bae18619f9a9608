package rest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// Interaction is a RESTful interaction, coded as FHIR codes them
// (https://hl7.org/fhir/R4/valueset-type-restful-interaction.html).
type Interaction string

// The interactions an [Access] is asked about. Operations are asked as
// the reads and writes they amount to (see [Operation.Writes]).
const (
	InteractionRead            Interaction = "read"
	InteractionVRead           Interaction = "vread"
	InteractionHistoryInstance Interaction = "history-instance"
	InteractionHistoryType     Interaction = "history-type"
	InteractionSearch          Interaction = "search-type"
	InteractionCreate          Interaction = "create"
	InteractionUpdate          Interaction = "update"
	InteractionDelete          Interaction = "delete"
)

// Authorizer checks the credentials of a request; fhir/smart implements
// it. Config.Authorizer nil serves every request (auth off).
type Authorizer interface {
	// Authorize returns what the caller of r may do, or an *AuthError
	// with status 401 when the credentials are missing or not valid (400
	// when they are malformed, as two Authorization headers are). It must
	// not read the body.
	Authorize(r *http.Request) (Access, error)
}

// Access is what one caller may do. The server asks it once per
// interaction, and per entry of a batch or transaction.
type Access interface {
	// Allow reports whether the caller may do in on resources of typ.
	// Nil filters: on every one. Otherwise only on those matching every
	// filter: searches and histories carry them to the store, and a
	// resource read outside them is answered as not found. Refused: an
	// *AuthError with status 403.
	Allow(typ string, in Interaction) ([]search.Filter, error)
	// AllowWrite reports whether the caller may write, by in (create,
	// update or delete), the version of typ/id whose search values are
	// idx: each version a write stores, and the current version an
	// update or delete replaces. It holds Allow's filters and what
	// filters cannot say, such as fhir/smart's rule that a patient's
	// token writes only what names no other patient. Refused: an
	// *AuthError with status 403.
	AllowWrite(typ string, in Interaction, id string, idx search.Index) error
}

// clientNamer is an Access that names its client: fhir/smart's Grant.
type clientNamer interface {
	// Client returns the client id, for logs.
	Client() string
}

// patientLauncher is an Access launched in a patient's context:
// fhir/smart's Grant.
type patientLauncher interface {
	// LaunchPatient returns the id of the patient in context, "" for none.
	LaunchPatient() string
}

// PatientContext returns the id of the patient in whose launch context
// the request ctx belongs to runs (SMART's patient launch context), ""
// when there is none or auth is off.
func PatientContext(ctx context.Context) string {
	if p, ok := ctx.Value(accessKey{}).(patientLauncher); ok {
		return p.LaunchPatient()
	}
	return ""
}

// ClientID returns the id of the client whose request ctx belongs to, for
// logs: what its Access names with a Client() string method; "" when it
// names none or auth is off.
func ClientID(ctx context.Context) string {
	if c, ok := ctx.Value(accessKey{}).(clientNamer); ok {
		return c.Client()
	}
	return ""
}

// AuthError refuses a request: 401 when the credentials are missing or not
// valid, 403 when they do not allow the interaction, 400 when the request
// is malformed (RFC 6750 §3.1 invalid_request). It becomes an
// OperationOutcome and a WWW-Authenticate challenge (RFC 6750 §3).
type AuthError struct {
	Status int
	// Code is the RFC 6750 error code: invalid_request, invalid_token or
	// insufficient_scope; empty when the request had no credentials.
	Code string
	// Detail says what was wrong, for the client. It never holds the
	// token or a value taken from it.
	Detail string
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("auth %d %s: %s", e.Status, e.Code, e.Detail)
}

// challenge is the WWW-Authenticate value of e.
func (e *AuthError) challenge() string {
	v := `Bearer realm="fhirbill"`
	if e.Code != "" {
		v += fmt.Sprintf(`, error=%q`, e.Code)
		if e.Detail != "" {
			v += fmt.Sprintf(`, error_description=%q`, strings.ReplaceAll(e.Detail, `"`, "'"))
		}
	}
	return v
}

// accessKey keys the caller's Access in a request's context.
type accessKey struct{}

// allowAll is the Access of every request when auth is off.
type allowAll struct{}

func (allowAll) Allow(string, Interaction) ([]search.Filter, error) { return nil, nil }

func (allowAll) AllowWrite(string, Interaction, string, search.Index) error { return nil }

// authorize is the middleware that checks credentials on every FHIR
// endpoint but /metadata, and puts the caller's Access in the context.
func (s *Server) authorize(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.auth == nil || strings.HasSuffix(c.Path(), "/metadata") {
			return next(c)
		}
		a, err := s.auth.Authorize(c.Request())
		if err != nil {
			return err
		}
		ctx := context.WithValue(c.Request().Context(), accessKey{}, a)
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// access returns the caller's Access.
func (s *Server) access(ctx context.Context) (Access, error) {
	a, ok := ctx.Value(accessKey{}).(Access)
	if !ok {
		if s.auth != nil {
			// A path that skipped the middleware: refuse rather than serve.
			return nil, &AuthError{Status: http.StatusUnauthorized, Detail: "authentication required"}
		}
		a = allowAll{}
	}
	return a, nil
}

// allow asks the caller's Access about in on typ.
func (s *Server) allow(ctx context.Context, typ string, in Interaction) ([]search.Filter, error) {
	a, err := s.access(ctx)
	if err != nil {
		return nil, err
	}
	filters, err := a.Allow(typ, in)
	if err != nil {
		return nil, err
	}
	if err := s.patientWrite(a, typ, in); err != nil {
		return nil, err
	}
	return filters, nil
}

// RegisterReadOnlyForPatients makes types read-only to callers in a
// patient's launch context (see [PatientContext]), whatever their scopes
// say: each create, update and delete of them is a 403, in every
// interaction (transaction and batch entries, conditional writes, and an
// operation writing them on such a caller's behalf). Another package
// owns the records, such as billing's Invoices, which a patient app
// shows but does not edit.
func (s *Server) RegisterReadOnlyForPatients(types ...string) {
	if s.patientReadOnly == nil {
		s.patientReadOnly = make(map[string]bool)
	}
	for _, t := range types {
		s.patientReadOnly[t] = true
	}
}

// patientWrite refuses in on typ when it is a write, a is in a patient's
// launch context, and typ is read-only to such callers; "*" (an
// operation writing every type) holds those too.
func (s *Server) patientWrite(a Access, typ string, in Interaction) error {
	if in != InteractionCreate && in != InteractionUpdate && in != InteractionDelete {
		return nil
	}
	if p, ok := a.(patientLauncher); !ok || p.LaunchPatient() == "" {
		return nil
	}
	what := typ
	switch {
	case typ == "*" && len(s.patientReadOnly) > 0:
		what = strings.Join(slices.Sorted(maps.Keys(s.patientReadOnly)), ", ")
	case !s.patientReadOnly[typ]:
		return nil
	}
	return &AuthError{Status: http.StatusForbidden, Code: "insufficient_scope", Detail: fmt.Sprintf(
		"%s: read-only to an app launched for a patient, whatever its scopes", what)}
}

// visible reports whether rec matches filters. A deleted version has no
// content to match and is visible only without filters.
func (s *Server) visible(rec *store.Record, filters []search.Filter) (bool, error) {
	if len(filters) == 0 {
		return true, nil
	}
	if rec == nil || rec.Deleted || len(rec.Body) == 0 {
		return false, nil
	}
	idx, err := s.index(rec)
	if err != nil {
		return false, err
	}
	for _, f := range filters {
		if !f.Match(rec.ID, idx) {
			return false, nil
		}
	}
	return true, nil
}

// index returns the search values of rec, extracted when the store did
// not return them.
func (s *Server) index(rec *store.Record) (search.Index, error) {
	if rec.Index != nil {
		return rec.Index, nil
	}
	idx, err := s.reg.Extract(rec.Type, rec.Body, s.base)
	if err != nil {
		return nil, fmt.Errorf("index %s/%s: %w", rec.Type, rec.ID, err)
	}
	return idx, nil
}

// hide answers a record outside filters as not found.
func (s *Server) hide(rec *store.Record, filters []search.Filter) error {
	ok, err := s.visible(rec, filters)
	if err != nil {
		return err
	}
	if !ok {
		return notFound(rec.Type, rec.ID)
	}
	return nil
}

// readAllowed runs the check of a read-like interaction on a record the
// store returned: outside the caller's filters it does not exist.
func (s *Server) readAllowed(ctx context.Context, in Interaction, rec *store.Record) error {
	filters, err := s.allow(ctx, rec.Type, in)
	if err != nil {
		return err
	}
	return s.hide(rec, filters)
}

// writeAllowed checks that the caller may write rec by in: a version a
// write stores, or the current version it replaces or deletes (see
// [Access.AllowWrite]). Writing outside the caller's access is
// forbidden.
func (s *Server) writeAllowed(ctx context.Context, in Interaction, rec *store.Record) error {
	a, err := s.access(ctx)
	if err != nil {
		return err
	}
	if err := s.patientWrite(a, rec.Type, in); err != nil {
		return err
	}
	if rec.Deleted || len(rec.Body) == 0 {
		return nil // no content: nobody's
	}
	idx, err := s.index(rec)
	if err != nil {
		return err
	}
	return a.AllowWrite(rec.Type, in, rec.ID, idx)
}

// authIssue is the OperationOutcome issue of an AuthError.
func authIssue(e *AuthError) resource.Issue {
	code := resource.IssueLogin
	switch e.Status {
	case http.StatusForbidden:
		code = resource.IssueForbidden
	case http.StatusBadRequest:
		code = resource.IssueInvalid // a malformed request, not a login to make
	}
	return issue(code, e.Detail)
}
