package rest

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// The methods in this file give server-side code (billing operations, the
// EHR connector) the same reads, searches and validated writes as the HTTP
// API, without HTTP.

// Change is one resource to store in place of version Prev (0: it must not
// exist yet).
type Change struct {
	Resource *resource.Resource
	Prev     int64
}

// ReadResource returns the current version of typ/id and its version. The
// error wraps resource.ErrNotFound or resource.ErrDeleted. In an
// operation's work for its caller, a resource of a type the operation
// writes ([Operation.Writes]) that the caller could not update is a 403
// *AuthError: the operation may not change it.
func (s *Server) ReadResource(ctx context.Context, typ, id string) (*resource.Resource, int64, error) {
	rec, err := s.store.Read(ctx, typ, id)
	if err != nil {
		return nil, 0, err
	}
	if err := s.replaceAllowed(ctx, rec); err != nil {
		return nil, 0, err
	}
	r, err := resource.ParseStored(rec.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s/%s: %w", typ, id, err)
	}
	return r, rec.Version, nil
}

// ReadAsCaller returns the current version of typ/id as a read by the
// caller of the request ctx belongs to would: an *AuthError (403) when the
// caller may not read typ, and an error wrapping resource.ErrNotFound when
// the resource is outside the caller's access, as if it did not exist.
// Operations read the resources their parameters name with it, so that
// an operation never shows what a read would not.
func (s *Server) ReadAsCaller(ctx context.Context, typ, id string) (*resource.Resource, int64, error) {
	if err := checkType(typ); err != nil {
		return nil, 0, err
	}
	filters, err := s.allow(ctx, typ, InteractionRead)
	if err != nil {
		return nil, 0, err
	}
	rec, err := s.store.Read(ctx, typ, id)
	if errors.Is(err, resource.ErrDeleted) && len(filters) > 0 {
		return nil, 0, notFound(typ, id) // whose it was is not known
	}
	if err != nil {
		return nil, 0, err
	}
	if err := s.hide(rec, filters); err != nil {
		return nil, 0, err
	}
	r, err := resource.ParseStored(rec.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s/%s: %w", typ, id, err)
	}
	return r, rec.Version, nil
}

// SearchResources returns every current resource of typ matching params,
// all pages, in id order. Parameters are handled strictly: an unknown one
// is an error rather than a wider result.
func (s *Server) SearchResources(ctx context.Context, typ string, params url.Values) ([]*resource.Resource, error) {
	if err := checkType(typ); err != nil {
		return nil, err
	}
	q, err := s.reg.Parse(typ, params, search.ParseOptions{Base: s.base, Strict: true})
	if err != nil {
		return nil, err
	}
	q.Count = 1000
	var out []*resource.Resource
	for {
		recs, more, err := s.store.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			r, err := resource.ParseStored(rec.Body)
			if err != nil {
				return nil, fmt.Errorf("search %s: %s: %w", typ, rec.ID, err)
			}
			out = append(out, r)
		}
		if !more {
			return out, nil
		}
		q.Offset += len(recs)
	}
}

// Commit validates every change like a PUT and stores them all or none
// (store.PutAll). A change equal to the current version is left out. A
// stale Prev fails the whole commit with an error wrapping
// resource.ErrConflict. It returns the records stored.
//
// In an operation's work for its caller, each change of a type the
// operation writes ([Operation.Writes]) is checked as the caller's own
// create or update would be, the version it replaces too: one outside
// the caller's access fails the commit with a 403 *AuthError. Other
// changes, and the server's own work, are not checked.
func (s *Server) Commit(ctx context.Context, changes []Change) ([]*store.Record, error) {
	now := s.clock()
	ob := onBehalfOf(ctx)
	var writes []store.Write
	var stored []*store.Record
	for i, ch := range changes {
		typ, id := ch.Resource.Type(), ch.Resource.ID()
		if err := checkID(id); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		body, err := ch.Resource.Marshal()
		if err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		rec, r, err := s.buildRecord(typ, id, body, ch.Prev+1, now)
		if err != nil {
			return nil, fmt.Errorf("change %d (%s/%s): %w", i, typ, id, err)
		}
		if ob.covers(typ) {
			in := InteractionCreate
			if ch.Prev > 0 {
				in = InteractionUpdate
			}
			if err := s.writeAllowed(ctx, in, rec); err != nil {
				return nil, fmt.Errorf("change %d (%s/%s): %w", i, typ, id, err)
			}
		}
		if ch.Prev > 0 {
			cur, err := s.store.Read(ctx, typ, id)
			switch {
			case errors.Is(err, resource.ErrDeleted):
			case err != nil:
				return nil, fmt.Errorf("change %d: %w", i, err)
			case cur.Version != ch.Prev:
				return nil, fmt.Errorf("change %d (%s/%s): %w", i, typ, id, resource.ErrConflict)
			}
			if err == nil {
				if err := s.replaceAllowed(ctx, cur); err != nil {
					return nil, fmt.Errorf("change %d (%s/%s): %w", i, typ, id, err)
				}
				if unchanged(r, cur) {
					continue
				}
			}
		}
		rec.Method = "PUT"
		writes = append(writes, store.Write{Record: rec, Prev: ch.Prev})
		stored = append(stored, rec)
	}
	if err := s.store.PutAll(ctx, writes); err != nil {
		return nil, err
	}
	return stored, nil
}
