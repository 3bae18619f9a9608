package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// maxIncluded bounds the resources _include and _revinclude add to one
// page of results.
const maxIncluded = 1000

// include is one _include or _revinclude: resources of typ point at
// target (or any type, when "") through the reference parameter param.
type include struct {
	rev    bool
	typ    string
	param  *search.Param
	target string
}

// parseIncludes takes _include and _revinclude out of params
// (https://hl7.org/fhir/R4/search.html#include). Forms other than
// Type:param[:target] (:iterate, wildcards) are refused.
func (s *Server) parseIncludes(typ string, params url.Values) ([]include, error) {
	var out []include
	for _, name := range []string{"_include", "_revinclude"} {
		for _, v := range params[name] {
			parts := strings.Split(v, ":")
			if len(parts) < 2 || len(parts) > 3 {
				return nil, badRequest(name, "%s takes Type:parameter or Type:parameter:TargetType", name)
			}
			inc := include{rev: name == "_revinclude", typ: parts[0]}
			if len(parts) == 3 {
				inc.target = parts[2]
			}
			if !inc.rev && inc.typ != typ {
				return nil, badRequest(name, "_include must name the searched type %s", typ)
			}
			if err := checkType(inc.typ); err != nil {
				return nil, err
			}
			inc.param = s.reg.Lookup(inc.typ, parts[1])
			if inc.param == nil || inc.param.Type != search.TypeReference {
				return nil, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, name,
					"%s: %s has no reference search parameter %q", name, inc.typ, truncate(parts[1], 40))
			}
			if inc.rev && inc.target != "" && inc.target != typ {
				return nil, badRequest(name, "_revinclude must point at the searched type %s", typ)
			}
			out = append(out, inc)
		}
		for k := range params {
			if strings.HasPrefix(k, name+":") {
				return nil, resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, k,
					"%s is not supported", truncate(k, 40))
			}
		}
	}
	return out, nil
}

// included returns the resources that incs add to matches, each once,
// and only those the caller may read: a reference to a resource outside
// the caller's access is left out, as if it named nothing.
func (s *Server) included(ctx context.Context, matches []*store.Record, incs []include) ([]*store.Record, error) {
	seen := make(map[string]bool, len(matches))
	for _, r := range matches {
		seen[r.Type+"/"+r.ID] = true
	}
	var out []*store.Record
	add := func(r *store.Record) {
		if k := r.Type + "/" + r.ID; !seen[k] && len(out) < maxIncluded {
			seen[k] = true
			out = append(out, r)
		}
	}
	for _, inc := range incs {
		var err error
		if inc.rev {
			err = s.revIncluded(ctx, matches, inc, add)
		} else {
			err = s.forwardIncluded(ctx, matches, inc, add)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// forwardIncluded reads the resources the matches reference.
func (s *Server) forwardIncluded(ctx context.Context, matches []*store.Record, inc include, add func(*store.Record)) error {
	for _, m := range matches {
		idx, err := s.reg.Extract(m.Type, m.Body, s.base)
		if err != nil {
			return fmt.Errorf("index %s/%s: %w", m.Type, m.ID, err)
		}
		for _, key := range idx[inc.param.Code].Keys {
			typ, id, ok := strings.Cut(key, "/")
			if !ok || strings.Contains(id, "/") || (inc.target != "" && typ != inc.target) ||
				!resource.Known(typ) || !resource.ValidID(id) {
				continue
			}
			filters, err := s.allow(ctx, typ, InteractionRead)
			var ae *AuthError
			if errors.As(err, &ae) {
				continue
			} else if err != nil {
				return err
			}
			rec, err := s.store.Read(ctx, typ, id)
			if errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted) {
				continue
			} else if err != nil {
				return err
			}
			if ok, err := s.visible(rec, filters); err != nil {
				return err
			} else if ok {
				add(rec)
			}
		}
	}
	return nil
}

// revIncluded searches the resources that reference the matches, within
// the caller's access to search them.
func (s *Server) revIncluded(ctx context.Context, matches []*store.Record, inc include, add func(*store.Record)) error {
	if len(matches) == 0 {
		return nil
	}
	filters, err := s.allow(ctx, inc.typ, InteractionSearch)
	var ae *AuthError
	if errors.As(err, &ae) {
		return nil
	} else if err != nil {
		return err
	}
	refs := make([]string, len(matches))
	for i, m := range matches {
		refs[i] = m.Type + "/" + m.ID
	}
	q, err := s.reg.Parse(inc.typ, url.Values{inc.param.Code: {strings.Join(refs, ",")}},
		search.ParseOptions{Base: s.base, Strict: true, MaxCount: maxIncluded})
	if err != nil {
		return err
	}
	q.Count, q.Filters = maxIncluded, filters
	recs, _, err := s.store.Search(ctx, q)
	if err != nil {
		return err
	}
	for _, r := range recs {
		add(r)
	}
	return nil
}
