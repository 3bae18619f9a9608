package rest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// Operation is an extended operation (https://hl7.org/fhir/R4/operations.html)
// that another package registers, such as billing's $bill.
type Operation struct {
	// Name is the operation's name without the "$".
	Name string
	// Definition is the canonical URL of its OperationDefinition.
	Definition string
	// Types lists the resource types it is invoked on; empty for a system
	// operation.
	Types []string
	// Instance and Type say at which levels it is invoked on those types.
	Instance, Type bool
	// Writes lists the resource types a POST of the operation creates or
	// updates on its caller's behalf, so that a caller needs create and
	// update access to each; "*" for every type. Empty: a POST needs
	// update access to the type it is invoked on (a system operation: to
	// every type). See [Server.allowOperation]. While the handler runs,
	// its reads ([Server.ReadResource]) and commits ([Server.Commit]) of
	// these types hold to the caller's access, as the caller's own
	// updates would; other types it writes by its own rules.
	Writes []string
	// ReadOnly says a POST changes nothing stored
	// (OperationDefinition.affectsState false, as for $translate): it then
	// needs only the access a GET needs, and Writes is not used.
	ReadOnly bool
	// NotForPatients refuses a POST to a caller in a patient's launch
	// context (see [PatientContext]), whatever its scopes: the
	// operation is billing staff's, an EHR's or a payer's work, such as
	// posting a payer's decision, never a patient app's.
	NotForPatients bool
	// Handle runs it.
	Handle func(ctx context.Context, req *OperationRequest) (*OperationResponse, error)
}

// OperationRequest is one invocation.
type OperationRequest struct {
	Name     string     // without the "$"
	Type, ID string     // ID empty at type or system level
	Method   string     // GET or POST
	Query    url.Values // the URL's parameters, less _format and _pretty, which shape the answer
	Body     []byte     // a Parameters resource or a resource, for POST
}

// OperationResponse is the answer: Body is FHIR JSON.
type OperationResponse struct {
	Status int
	Body   []byte
}

// RegisterOperation adds an operation. It panics on a duplicate name, a
// programming error found at start-up.
func (s *Server) RegisterOperation(op *Operation) {
	if _, dup := s.ops[op.Name]; dup {
		panic("rest: operation $" + op.Name + " registered twice")
	}
	s.ops[op.Name] = op
}

// handleTypeOperation serves [base]/[type]/$op; any other POST to
// [base]/[type]/[id] is not a FHIR interaction.
func (s *Server) handleTypeOperation(c echo.Context) error {
	if !strings.HasPrefix(c.Param("id"), "$") {
		return echo.ErrMethodNotAllowed
	}
	return s.operation(c, c.Param("type"), "", c.Param("id"))
}

// handleInstanceOperation serves [base]/[type]/[id]/$op.
func (s *Server) handleInstanceOperation(c echo.Context) error {
	if !strings.HasPrefix(c.Param("op"), "$") {
		return echo.ErrNotFound
	}
	if err := checkID(c.Param("id")); err != nil {
		return err
	}
	return s.operation(c, c.Param("type"), c.Param("id"), c.Param("op"))
}

func (s *Server) operation(c echo.Context, typ, id, name string) error {
	op, ok := s.ops[strings.TrimPrefix(name, "$")]
	if !ok || !op.invokable(typ, id) {
		return resource.Errorf(http.StatusNotFound, resource.IssueNotSupported, "",
			"operation %s is not supported here", truncate(name, 40))
	}
	if typ != "" {
		if err := checkType(typ); err != nil {
			return err
		}
	}
	method := c.Request().Method
	if method == http.MethodHead {
		method = http.MethodGet // answered without the body
	}
	ctx := c.Request().Context()
	if err := s.allowOperation(ctx, op, typ, id, method); err != nil {
		return err
	}
	if !op.ReadOnly {
		// Also for GET, which must change nothing: should a handler
		// write anyway, its writes are checked.
		ctx = s.onBehalf(ctx, op, typ)
	}
	// _format and _pretty are applied here (negotiate, writeJSON), for
	// every interaction (R4 http.html#parameters); an operation sees
	// only its own parameters.
	query := maps.Clone(c.QueryParams()) // echo's own is read again by writeJSON
	query.Del("_format")
	query.Del("_pretty")
	req := &OperationRequest{Name: op.Name, Type: typ, ID: id, Method: method, Query: query}
	// An operation without input parameters may be POSTed with no body,
	// with or without a Content-Type: the operation says whether it needs
	// one.
	if req.Method == http.MethodPost {
		body, err := s.readOptionalBody(c)
		if err != nil {
			return err
		}
		req.Body = body
	}
	resp, err := op.Handle(ctx, req)
	if err != nil {
		return err
	}
	return writeJSON(c, resp.Status, resp.Body)
}

// allowOperation checks an invocation as the interactions it amounts to,
// for operations known by name or not (SMART scopes name interactions, not
// operations): reading its target (read of the instance, which must be
// within the caller's access; search of the type; at system level, search
// of every type), and for a POST that is not ReadOnly writing what it
// writes. A GET changes nothing: FHIR invokes an operation that affects
// state with POST only (R4 operations.html#request).
func (s *Server) allowOperation(ctx context.Context, op *Operation, typ, id, method string) error {
	switch {
	case id != "":
		rec, err := s.store.Read(ctx, typ, id)
		if err != nil {
			filters, aerr := s.allow(ctx, typ, InteractionRead)
			switch {
			case aerr != nil:
				return aerr
			case errors.Is(err, resource.ErrNotFound),
				errors.Is(err, resource.ErrDeleted) && len(filters) > 0: // whose it was is not known
				return resource.Errorf(http.StatusNotFound, resource.IssueNotFound, typ,
					"%s/%s is not known to this server", typ, id)
			case errors.Is(err, resource.ErrDeleted):
				return resource.Errorf(http.StatusGone, resource.IssueDeleted, typ,
					"%s/%s was deleted", typ, id)
			}
			return err
		}
		if err := s.readAllowed(ctx, InteractionRead, rec); err != nil {
			return err
		}
	case typ != "":
		if _, err := s.allow(ctx, typ, InteractionSearch); err != nil {
			return err
		}
	default:
		if _, err := s.allow(ctx, "*", InteractionSearch); err != nil {
			return err
		}
	}
	if method != http.MethodPost || op.ReadOnly {
		return nil
	}
	if op.NotForPatients {
		if p := PatientContext(ctx); p != "" {
			return &AuthError{Status: http.StatusForbidden, Code: "insufficient_scope",
				Detail: fmt.Sprintf("$%s is billing staff's, an EHR's or a payer's to invoke, "+
					"not an app's launched for a patient", op.Name)}
		}
	}
	writes := op.Writes
	if len(writes) == 0 {
		writes = []string{cmp.Or(typ, "*")}
	}
	for _, t := range writes {
		for _, in := range []Interaction{InteractionCreate, InteractionUpdate} {
			if len(op.Writes) == 0 && in == InteractionCreate {
				continue
			}
			if _, err := s.allow(ctx, t, in); err != nil {
				return err
			}
		}
	}
	return nil
}

// AuthorizeOperation checks that the caller of ctx may invoke the
// operation name with POST on typ/id (id "" at type level, typ "" at
// system level) as the API checks an invocation (see
// [Server.allowOperation]), and returns the context to run its work in,
// whose writes hold to the caller's access as when the API runs it
// ([Operation.Writes]). Work that follows from a client's write, such as
// billing the finished Encounter a client stored, runs so: as if the
// client had invoked the operation. A refusal is an *AuthError, or a
// *resource.Error 404 when the target is not known to the caller.
func (s *Server) AuthorizeOperation(ctx context.Context, name, typ, id string) (context.Context, error) {
	op, ok := s.ops[name]
	if !ok || !op.invokable(typ, id) {
		return nil, fmt.Errorf("rest: operation $%s is not registered on %q", name, typ)
	}
	if err := s.allowOperation(ctx, op, typ, id, http.MethodPost); err != nil {
		return nil, err
	}
	if op.ReadOnly {
		return ctx, nil
	}
	return s.onBehalf(ctx, op, typ), nil
}

// onBehalfKey keys, in the context of an operation's work, the types it
// writes on its caller's behalf.
type onBehalfKey struct{}

// onBehalf is the work of one invocation of op for its caller.
type onBehalf struct {
	op     string
	writes []string // "*": every type
}

// onBehalf returns ctx marked for the work of op invoked on typ. With auth
// off nothing is checked, and nothing is marked.
func (s *Server) onBehalf(ctx context.Context, op *Operation, typ string) context.Context {
	if s.auth == nil {
		return ctx
	}
	writes := op.Writes
	if len(writes) == 0 {
		writes = []string{cmp.Or(typ, "*")}
	}
	return context.WithValue(ctx, onBehalfKey{}, &onBehalf{op: op.Name, writes: writes})
}

// onBehalfOf returns the operation work ctx belongs to, nil for none:
// server-side work of the server's own (the EHR connector's schedule).
func onBehalfOf(ctx context.Context) *onBehalf {
	ob, _ := ctx.Value(onBehalfKey{}).(*onBehalf)
	return ob
}

// covers reports whether the operation writes typ on its caller's behalf.
func (ob *onBehalf) covers(typ string) bool {
	return ob != nil && (slices.Contains(ob.writes, typ) || slices.Contains(ob.writes, "*"))
}

// replaceAllowed checks, in an operation's work for its caller, that the
// current version rec of a type the operation writes is one the caller
// could update: one outside the caller's access is not the operation's
// to change. The refusal names neither the resource nor its content.
func (s *Server) replaceAllowed(ctx context.Context, rec *store.Record) error {
	ob := onBehalfOf(ctx)
	if !ob.covers(rec.Type) || rec.Deleted {
		return nil
	}
	filters, err := s.allow(ctx, rec.Type, InteractionUpdate)
	if err != nil {
		return err
	}
	ok, err := s.visible(rec, filters)
	if err != nil {
		return err
	}
	if !ok {
		return &AuthError{Status: http.StatusForbidden, Code: "insufficient_scope", Detail: fmt.Sprintf(
			"$%s would change a %s outside what the token's scopes and context allow", ob.op, rec.Type)}
	}
	return s.writeAllowed(ctx, InteractionUpdate, rec)
}

func (op *Operation) invokable(typ, id string) bool {
	if typ == "" {
		return len(op.Types) == 0
	}
	for _, t := range op.Types {
		if t == typ {
			return (id == "" && op.Type) || (id != "" && op.Instance)
		}
	}
	return false
}

// WriteCheck vets a client's change of a stored resource: an update (new
// is the resource sent) or a delete (new is nil). It returns a
// *resource.Error to refuse it. Another package owns the rules, such as
// billing's for Invoices past draft.
type WriteCheck func(old, new *resource.Resource) error

// RegisterWriteCheck makes check vet every update and delete of typ by
// clients, in every interaction (PUT, conditional update, DELETE,
// transaction and batch entries). Server-side [Server.Commit] is not
// checked. It panics on a second check for typ, a wiring error.
func (s *Server) RegisterWriteCheck(typ string, check WriteCheck) {
	if _, dup := s.checks[typ]; dup {
		panic("rest: a write check for " + typ + " registered twice")
	}
	s.checks[typ] = check
}

// CreateCheck vets a client's create of a resource (POST, or a PUT or
// conditional update that makes it). It returns a *resource.Error to
// refuse it. Another package owns the rules, such as billing's for a
// payer's answer to a Claim it submitted, which goes to $remit.
type CreateCheck func(ctx context.Context, r *resource.Resource) error

// RegisterCreateCheck makes check vet every create of typ by clients, in
// every interaction, as [Server.RegisterWriteCheck] does for updates and
// deletes. It panics on a second check for typ, a wiring error.
func (s *Server) RegisterCreateCheck(typ string, check CreateCheck) {
	if _, dup := s.createChecks[typ]; dup {
		panic("rest: a create check for " + typ + " registered twice")
	}
	s.createChecks[typ] = check
}

// checkCreate runs the create check of typ, if any, on r.
func (s *Server) checkCreate(ctx context.Context, typ string, r *resource.Resource) error {
	if check := s.createChecks[typ]; check != nil {
		return check(ctx, r)
	}
	return nil
}

// checkWrite runs the write check of typ, if any, on a change of the
// current record cur (nil or deleted: nothing to vet).
func (s *Server) checkWrite(typ string, cur *store.Record, next *resource.Resource) error {
	check := s.checks[typ]
	if check == nil || cur == nil || cur.Deleted {
		return nil
	}
	old, err := resource.ParseStored(cur.Body)
	if err != nil {
		return err
	}
	return check(old, next)
}
