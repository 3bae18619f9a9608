package rest

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// handleRead serves GET [base]/[type]/[id], with If-None-Match and
// If-Modified-Since answered by 304 (https://hl7.org/fhir/R4/http.html#read,
// #cread). GET [base]/[type]/$op reaches the type operations.
func (s *Server) handleRead(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if strings.HasPrefix(id, "$") {
		return s.handleTypeOperation(c)
	}
	if err := checkType(typ); err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	ctx := c.Request().Context()
	filters, err := s.allow(ctx, typ, InteractionRead)
	if err != nil {
		return err
	}
	rec, err := s.store.Read(ctx, typ, id)
	if err != nil {
		if errors.Is(err, resource.ErrDeleted) && rec != nil {
			if len(filters) > 0 {
				return notFound(typ, id) // whose it was is not known
			}
			versionHeaders(c.Response().Header(), rec)
		}
		return err
	}
	if err := s.hide(rec, filters); err != nil {
		return err
	}
	h := c.Response().Header()
	versionHeaders(h, rec)
	if notModified(c.Request().Header, rec) {
		return c.NoContent(http.StatusNotModified)
	}
	return writeJSON(c, http.StatusOK, rec.Body)
}

// notModified applies If-None-Match, then If-Modified-Since (RFC 9110
// §13.2.2: when If-None-Match is present, If-Modified-Since is ignored).
func notModified(h http.Header, rec *store.Record) bool {
	if inm := h.Get("If-None-Match"); inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			if strings.TrimSpace(tag) == "*" {
				return true
			}
			if v, ok := parseETag(tag); ok && v == rec.Version {
				return true
			}
		}
		return false
	}
	if ims := h.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		if err == nil && !rec.Updated.Truncate(time.Second).After(t) {
			return true
		}
	}
	return false
}

// handleVRead serves GET [base]/[type]/[id]/_history/[vid]
// (https://hl7.org/fhir/R4/http.html#vread). A deleted version is a 410.
func (s *Server) handleVRead(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if err := checkType(typ); err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	vid, err := strconv.ParseInt(c.Param("vid"), 10, 64)
	if err != nil || vid < 1 {
		return notFound(typ, id+"/_history/"+truncate(c.Param("vid"), 20))
	}
	ctx := c.Request().Context()
	filters, err := s.allow(ctx, typ, InteractionVRead)
	if err != nil {
		return err
	}
	rec, err := s.store.ReadVersion(ctx, typ, id, vid)
	if err != nil {
		if errors.Is(err, resource.ErrDeleted) && len(filters) > 0 {
			return notFound(typ, id)
		}
		return err
	}
	if err := s.hide(rec, filters); err != nil {
		return err
	}
	versionHeaders(c.Response().Header(), rec)
	return writeJSON(c, http.StatusOK, rec.Body)
}
