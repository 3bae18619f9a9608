package rest

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// handleUpdate serves PUT [base]/[type]/[id]: update, or create with the
// client's id when none exists (https://hl7.org/fhir/R4/http.html#update).
func (s *Server) handleUpdate(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if err := checkType(typ); err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, err := s.planUpdate(ctx, typ, id, body, c.Request().Header.Get("If-Match"), true)
	if err != nil {
		return err
	}
	if err := checkIfNoneMatch(c.Request().Header.Get("If-None-Match"), p); err != nil {
		return err
	}
	if p, err = s.commit(ctx, p); err != nil {
		return err
	}
	return s.respond(c, p)
}

// handleConditionalUpdate serves PUT [base]/[type]?[search]
// (https://hl7.org/fhir/R4/http.html#cond-update).
func (s *Server) handleConditionalUpdate(c echo.Context) error {
	typ := c.Param("type")
	if err := checkType(typ); err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, err := s.planConditionalUpdate(ctx, typ, c.QueryString(), body, c.Request().Header.Get("If-Match"))
	if err != nil {
		return err
	}
	if err := checkIfNoneMatch(c.Request().Header.Get("If-None-Match"), p); err != nil {
		return err
	}
	if p, err = s.commit(ctx, p); err != nil {
		return err
	}
	return s.respond(c, p)
}

// planConditionalUpdate resolves the search: no match creates (with the
// body's id if it has one), one match updates it, more are a 412.
func (s *Server) planConditionalUpdate(ctx context.Context, typ, query string, body []byte, ifMatch string) (*plan, error) {
	matches, err := s.matchOne(ctx, typ, withoutFormat(query), InteractionUpdate, "the conditional update")
	if err != nil {
		return nil, err
	}
	bodyID, err := idInBody(body)
	if err != nil {
		return nil, err
	}
	switch len(matches) {
	case 0:
		if bodyID == "" {
			return s.planNew(ctx, typ, newID(), body, http.MethodPut)
		}
		return s.planUpdate(ctx, typ, bodyID, body, ifMatch, true)
	case 1:
		if bodyID != "" && bodyID != matches[0].ID {
			return nil, badRequest(typ+".id", "the body's id differs from the id of the resource the search matched")
		}
		return s.planUpdate(ctx, typ, matches[0].ID, body, ifMatch, false)
	}
	return nil, preconditionFailed("the conditional update matches more than one resource")
}

// planUpdate plans version n+1 of typ/id. requireID: the body must carry
// the same id (plain PUT); a conditional update may leave it out.
func (s *Server) planUpdate(ctx context.Context, typ, id string, body []byte, ifMatch string, requireID bool) (*plan, error) {
	filters, err := s.allow(ctx, typ, InteractionUpdate)
	if err != nil {
		return nil, err
	}
	bodyID, err := idInBody(body)
	if err != nil {
		return nil, err
	}
	if bodyID == "" && requireID {
		return nil, badRequest(typ+".id", "the resource needs an id equal to the id in the URL")
	}
	if bodyID != "" && bodyID != id {
		return nil, badRequest(typ+".id", "the id in the body differs from the id in the URL")
	}
	cur, err := s.store.Read(ctx, typ, id)
	if err != nil && !errors.Is(err, resource.ErrNotFound) && !errors.Is(err, resource.ErrDeleted) {
		return nil, err
	}
	if cur != nil && !cur.Deleted {
		if err := s.hide(cur, filters); err != nil {
			return nil, err
		}
		if err := s.writeAllowed(ctx, InteractionUpdate, cur); err != nil {
			return nil, err
		}
	}
	var prev int64
	if cur != nil {
		prev = cur.Version
	}
	switch {
	case ifMatch == "*":
		// Any current version (RFC 9110 §13.1.1): the resource must exist.
		if cur == nil || cur.Deleted {
			return nil, preconditionFailed("If-Match: * and the resource does not exist")
		}
	case ifMatch != "":
		want, ok := parseETag(ifMatch)
		if !ok {
			return nil, badRequest("", "If-Match must be an ETag such as W/\"3\"")
		}
		if want != prev {
			return nil, preconditionFailed("If-Match names version %d; the current version is %d", want, prev)
		}
	}
	rec, r, err := s.buildRecord(typ, id, body, prev+1, s.clock())
	if err != nil {
		return nil, err
	}
	if err := checkWriteRefs(typ, body); err != nil {
		return nil, err
	}
	rec.Method = http.MethodPut
	if err := s.writeAllowed(ctx, InteractionUpdate, rec); err != nil {
		return nil, err
	}
	if unchanged(r, cur) {
		return &plan{status: http.StatusOK, rec: cur}, nil
	}
	status := http.StatusOK
	if cur == nil || cur.Deleted {
		status = http.StatusCreated
		err = s.checkCreate(ctx, typ, r)
	} else {
		err = s.checkWrite(typ, cur, r)
	}
	if err != nil {
		return nil, err
	}
	p := &plan{write: &store.Write{Record: rec, Prev: prev}, status: status, rec: rec, ifMatch: ifMatch != ""}
	p.retry = func(ctx context.Context) (*plan, error) { return s.planUpdate(ctx, typ, id, body, "", requireID) }
	return p, nil
}

// checkIfNoneMatch applies If-None-Match to a planned update or delete
// (RFC 9110 §13.1.2): the condition fails, a 412, when the header is *
// and the resource exists, or names its current version (weak
// comparison). A write under the header is then not retried after losing
// a race: the version it was checked against is gone, so it is a 412 too.
func checkIfNoneMatch(h string, p *plan) error {
	if h == "" {
		return nil
	}
	version, exists := p.current()
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if !exists {
			break
		}
		if tag == "*" {
			return preconditionFailed("If-None-Match: * and the resource exists")
		}
		if v, ok := parseETag(tag); ok && v == version {
			return preconditionFailed("If-None-Match names the current version, %d", version)
		}
	}
	p.ifMatch = true
	return nil
}

// idInBody reads the id of a resource body without a full parse; the full
// parse comes with buildRecord.
func idInBody(body []byte) (string, error) {
	if err := resource.CheckJSON(body); err != nil {
		return "", err
	}
	var v struct {
		ID any `json:"id"`
	}
	if err := jsonUnmarshal(body, &v); err != nil {
		return "", badRequest("", "the body is not a JSON object")
	}
	switch id := v.ID.(type) {
	case nil:
		return "", nil
	case string:
		return id, nil
	}
	return "", badRequest("id", "id must be a string")
}
