package rest

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/store"
)

// handleCreate serves POST [base]/[type]: create with a server-assigned id,
// or a conditional create under If-None-Exist
// (https://hl7.org/fhir/R4/http.html#create, #ccreate). POST [base]/$op
// reaches the system operations.
func (s *Server) handleCreate(c echo.Context) error {
	typ := c.Param("type")
	if strings.HasPrefix(typ, "$") {
		return s.operation(c, "", "", typ)
	}
	if err := checkType(typ); err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, err := s.planCreate(ctx, typ, body, c.Request().Header.Get("If-None-Exist"))
	if err != nil {
		return err
	}
	if p, err = s.commit(ctx, p); err != nil {
		return err
	}
	return s.respond(c, p)
}

// planCreate plans a create. With ifNoneExist, one match answers 200 with
// it and stores nothing; several are a 412.
func (s *Server) planCreate(ctx context.Context, typ string, body []byte, ifNoneExist string) (*plan, error) {
	// A caller who may not create learns nothing from validation.
	if _, err := s.allow(ctx, typ, InteractionCreate); err != nil {
		return nil, err
	}
	// Validate first: a bad body is a 400 whether or not the search matches.
	p, err := s.planNew(ctx, typ, newID(), body, http.MethodPost)
	if err != nil {
		return nil, err
	}
	if ifNoneExist != "" {
		matches, err := s.matchOne(ctx, typ, strings.TrimPrefix(ifNoneExist, typ+"?"), InteractionCreate, "If-None-Exist")
		if err != nil {
			return nil, err
		}
		switch len(matches) {
		case 0:
		case 1:
			return s.matched(ctx, matches[0])
		default:
			return nil, preconditionFailed("If-None-Exist matches more than one resource")
		}
	}
	return p, nil
}

// planNew plans version 1 of a resource with the given id, made by method
// (POST, or PUT for a conditional update that matched nothing).
func (s *Server) planNew(ctx context.Context, typ, id string, body []byte, method string) (*plan, error) {
	rec, r, err := s.buildRecord(typ, id, body, 1, s.clock())
	if err != nil {
		return nil, err
	}
	if err := checkWriteRefs(typ, body); err != nil {
		return nil, err
	}
	in := InteractionCreate
	if method == http.MethodPut {
		in = InteractionUpdate // an update that creates
	}
	if err := s.writeAllowed(ctx, in, rec); err != nil {
		return nil, err
	}
	if err := s.checkCreate(ctx, typ, r); err != nil {
		return nil, err
	}
	rec.Method = method
	p := &plan{write: &store.Write{Record: rec}, status: http.StatusCreated, rec: rec}
	p.retry = func(ctx context.Context) (*plan, error) { return s.planNew(ctx, typ, newID(), body, method) }
	return p, nil
}
