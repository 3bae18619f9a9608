package rest

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// handleDelete serves DELETE [base]/[type]/[id]
// (https://hl7.org/fhir/R4/http.html#delete). The history keeps every
// version; a read afterwards answers 410 Gone.
func (s *Server) handleDelete(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if err := checkType(typ); err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, err := s.planDelete(ctx, typ, id, c.Request().Header.Get("If-Match"))
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

// handleConditionalDelete serves DELETE [base]/[type]?[search], deleting
// a single match (https://hl7.org/fhir/R4/http.html#3.1.0.7.1).
func (s *Server) handleConditionalDelete(c echo.Context) error {
	typ := c.Param("type")
	if err := checkType(typ); err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, err := s.planConditionalDelete(ctx, typ, c.QueryString())
	if err != nil {
		return err
	}
	if p, err = s.commit(ctx, p); err != nil {
		return err
	}
	return s.respond(c, p)
}

func (s *Server) planConditionalDelete(ctx context.Context, typ, query string) (*plan, error) {
	matches, err := s.matchOne(ctx, typ, withoutFormat(query), InteractionDelete, "the conditional delete")
	if err != nil {
		return nil, err
	}
	switch len(matches) {
	case 0:
		return &plan{status: http.StatusNoContent}, nil
	case 1:
		return s.planDelete(ctx, typ, matches[0].ID, "")
	}
	return nil, preconditionFailed("the conditional delete matches more than one resource")
}

// planDelete plans a delete version. Deleting what is already deleted, or
// never existed, changes nothing and answers 204 (R4 http.html#delete).
// A resource outside the caller's access is treated as never existing.
func (s *Server) planDelete(ctx context.Context, typ, id, ifMatch string) (*plan, error) {
	filters, err := s.allow(ctx, typ, InteractionDelete)
	if err != nil {
		return nil, err
	}
	cur, err := s.store.Read(ctx, typ, id)
	switch {
	case errors.Is(err, resource.ErrDeleted), errors.Is(err, resource.ErrNotFound):
		return &plan{status: http.StatusNoContent}, nil
	case err != nil:
		return nil, err
	}
	if ok, err := s.visible(cur, filters); err != nil {
		return nil, err
	} else if !ok {
		return &plan{status: http.StatusNoContent}, nil
	}
	if err := s.writeAllowed(ctx, InteractionDelete, cur); err != nil {
		return nil, err
	}
	if ifMatch != "" && ifMatch != "*" {
		want, ok := parseETag(ifMatch)
		if !ok {
			return nil, badRequest("", "If-Match must be an ETag such as W/\"3\"")
		}
		if want != cur.Version {
			return nil, preconditionFailed("If-Match names version %d; the current version is %d", want, cur.Version)
		}
	}
	if err := s.checkWrite(typ, cur, nil); err != nil {
		return nil, err
	}
	rec := &store.Record{Type: typ, ID: id, Version: cur.Version + 1, Updated: s.clock(), Deleted: true, Method: http.MethodDelete}
	p := &plan{write: &store.Write{Record: rec, Prev: cur.Version}, status: http.StatusNoContent, rec: rec, ifMatch: ifMatch != ""}
	p.retry = func(ctx context.Context) (*plan, error) { return s.planDelete(ctx, typ, id, "") }
	return p, nil
}
