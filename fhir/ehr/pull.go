package ehr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// chunk is how many ids one search of related resources names.
const chunk = 40

// instant is how the watermark is written in _lastUpdated.
const instant = "2006-01-02T15:04:05.000Z07:00"

// run is one sync of one connection.
type run struct {
	s             *Syncer
	conn          *Connection
	tokens        *TokenSource
	lease, holder string
	wm            watermark
	sum           *Summary
	fetched       map[string]bool // Patients and linkedTypes asked for in this run, "Type/id"
	got           map[string]bool // linkedTypes the EHR returned in this run, "Type/id"
	progress      func(Summary)
}

// entry is one resource of a searchset.
type entry struct {
	raw     json.RawMessage
	typ, id string
	updated time.Time
}

func (r *run) pull(ctx context.Context) error {
	wm, err := loadWatermark(ctx, r.s.state, r.conn.Name)
	if err != nil {
		return err
	}
	r.wm, r.sum.Watermark = wm, wm.Time
	r.s.log.InfoContext(ctx, "ehr sync started", "ehr", r.conn.Name, "watermark", wm.Time)

	for u := r.firstURL(); u != ""; {
		entries, next, err := r.page(ctx, u)
		if err != nil {
			return err
		}
		var encs []entry
		for _, e := range entries {
			if e.typ == "Encounter" && !r.wm.seen(e.updated, e.id) {
				encs = append(encs, e)
			}
		}
		if err := r.store(ctx, encs); err != nil {
			return err
		}

		// The page is stored: only now does the watermark move past it.
		for _, e := range encs {
			if !e.updated.IsZero() {
				r.wm.advance(e.updated, e.id)
			}
		}
		if err := r.checkpoint(ctx); err != nil {
			return err
		}
		r.sum.Pages++
		r.s.log.DebugContext(ctx, "ehr page stored", "ehr", r.conn.Name, "page", r.sum.Pages,
			"encounters", len(encs), "stored", r.sum.Stored())
		if r.progress != nil {
			r.progress(r.sum.copy())
		}
		u = next
	}

	// Every page is stored: the next sync asks for gt[Time].
	if len(r.wm.IDs) > 0 {
		r.wm.IDs = nil
		return saveWatermark(ctx, r.s.state, r.conn.Name, r.wm, r.s.now())
	}
	return nil
}

// firstURL is the Encounter search from the watermark, oldest first.
func (r *run) firstURL() string {
	q := url.Values{}
	for k, v := range r.conn.Filters {
		q[k] = v
	}
	switch {
	case len(r.wm.IDs) > 0:
		q.Set("_lastUpdated", "ge"+r.wm.Time.UTC().Format(instant))
	case !r.wm.Time.IsZero():
		q.Set("_lastUpdated", "gt"+r.wm.Time.UTC().Format(instant))
	}
	q.Set("_sort", "_lastUpdated")
	q.Set("_count", fmt.Sprint(r.conn.PageSize))
	return r.conn.Base + "/Encounter?" + q.Encode()
}

// checkpoint saves the watermark and renews the lease.
func (r *run) checkpoint(ctx context.Context) error {
	if err := saveWatermark(ctx, r.s.state, r.conn.Name, r.wm, r.s.now()); err != nil {
		return err
	}
	r.sum.Watermark = r.wm.Time
	ok, err := r.s.state.AcquireLease(ctx, r.lease, r.holder, r.s.ttl, r.s.now())
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the lease expired and another sync took it")
	}
	return nil
}

// get fetches u, which must lie under the connection's base URL: a next
// link elsewhere is refused, whatever the EHR says.
func (r *run) get(ctx context.Context, u string) ([]byte, error) {
	if !strings.HasPrefix(u, r.conn.Base+"/") && !strings.HasPrefix(u, r.conn.Base+"?") {
		return nil, errors.New("a link points outside the connection's base URL; not followed")
	}
	return r.s.fetch.do(ctx, r.conn.Name, http.MethodGet, u, nil, r.tokens)
}

// page fetches one searchset page: its match entries and next link.
func (r *run) page(ctx context.Context, u string) ([]entry, string, error) {
	data, err := r.get(ctx, u)
	if err != nil {
		return nil, "", err
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Link         []struct {
			Relation string `json:"relation"`
			URL      string `json:"url"`
		} `json:"link"`
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
			Search   struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil || b.ResourceType != "Bundle" {
		return nil, "", errors.New("the EHR's answer to a search is not a Bundle")
	}
	var out []entry
	for _, e := range b.Entry {
		if e.Search.Mode != "" && e.Search.Mode != "match" {
			continue
		}
		var head struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
			Meta         struct {
				LastUpdated string `json:"lastUpdated"`
			} `json:"meta"`
		}
		if json.Unmarshal(e.Resource, &head) != nil || head.ResourceType == "" {
			continue
		}
		t, _ := time.Parse(time.RFC3339Nano, head.Meta.LastUpdated)
		out = append(out, entry{raw: e.Resource, typ: head.ResourceType, id: head.ID, updated: t.UTC()})
	}
	var next string
	for _, l := range b.Link {
		if l.Relation == "next" {
			next = l.URL
		}
	}
	return out, next, nil
}

// related returns every typ whose param names one of ids (each prefixed,
// e.g. "Encounter/"), following next links. A search the EHR refuses with
// a 4xx is reported and skipped.
func (r *run) related(ctx context.Context, typ, param, prefix string, ids []string) ([]entry, error) {
	var out []entry
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		vals := make([]string, len(part))
		for j, id := range part {
			vals[j] = prefix + id
		}
		q := url.Values{param: {strings.Join(vals, ",")}, "_count": {"200"}}
		for u := r.conn.Base + "/" + typ + "?" + q.Encode(); u != ""; {
			entries, next, err := r.page(ctx, u)
			var se *StatusError
			if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 {
				r.skip(fmt.Sprintf("%s?%s (%d ids)", typ, param, len(part)), se.Error())
				for _, id := range part {
					r.fetched["refused:"+typ+"/"+id] = true // reported with the search
				}
				break
			}
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if e.typ == typ {
					out = append(out, e)
				}
			}
			u = next
		}
	}
	return out, nil
}

func (r *run) skip(ref, reason string) {
	r.sum.Skipped = append(r.sum.Skipped, Skip{Ref: ref, Reason: reason})
	r.s.log.Warn("ehr resource skipped", "ehr", r.conn.Name, "ref", ref, "reason", reason)
}

// store pulls what the page's Encounters reference, stores it all, and
// bills the finished Encounters stored.
func (r *run) store(ctx context.Context, encs []entry) error {
	if len(encs) == 0 {
		return nil
	}
	var encIDs, patIDs []string
	for _, e := range encs {
		encIDs = append(encIDs, e.id)
		var head struct {
			Subject struct {
				Reference string `json:"reference"`
			} `json:"subject"`
		}
		_ = json.Unmarshal(e.raw, &head)
		typ, id, ok := splitRef(strings.TrimPrefix(head.Subject.Reference, r.conn.Base+"/"))
		if ok && typ == "Patient" && !r.fetched["Patient/"+id] {
			r.fetched["Patient/"+id] = true
			patIDs = append(patIDs, id)
		}
	}

	all := append([]entry(nil), encs...)
	for _, q := range []struct {
		typ, param, prefix string
		ids                []string
	}{
		{"Condition", "encounter", "Encounter/", encIDs},
		{"Procedure", "encounter", "Encounter/", encIDs},
		{"Patient", "_id", "", patIDs},
		{"Coverage", "beneficiary", "Patient/", patIDs},
	} {
		got, err := r.related(ctx, q.typ, q.param, q.prefix, q.ids)
		if err != nil {
			return err
		}
		all = append(all, got...)
	}
	r.missing(all, "Patient", patIDs)

	// What billing reads besides: the billing provider and payers
	// (Organization), the place of service (Location) and the rendering
	// providers (Practitioner).
	linked := r.linked(all)
	for _, typ := range []string{"Organization", "Location", "Practitioner"} {
		got, err := r.related(ctx, typ, "_id", "", linked[typ])
		if err != nil {
			return err
		}
		for _, e := range got {
			r.got[typ+"/"+e.id] = true
		}
		all = append(all, got...)
		r.missing(got, typ, linked[typ])
	}

	var items []*pulled
	seen := map[string]bool{}
	for _, e := range all {
		key := e.typ + "/" + e.id
		if seen[key] {
			continue
		}
		seen[key] = true
		r.sum.Pulled[e.typ]++
		p, err := r.conn.convert(e.raw, r.got)
		if err != nil {
			r.skip(key, reason(err))
			continue
		}
		items = append(items, p)
	}

	stored, err := r.commit(ctx, items)
	if err != nil {
		return err
	}
	r.billFinished(ctx, items, stored)
	return nil
}

// missing reports the resources of typ asked for by id that the EHR did
// not return.
func (r *run) missing(all []entry, typ string, asked []string) {
	got := map[string]bool{}
	for _, e := range all {
		if e.typ == typ {
			got[e.id] = true
		}
	}
	for _, id := range asked {
		if !got[id] && !r.fetched["refused:"+typ+"/"+id] {
			r.skip(typ+"/"+id, "not returned by the EHR")
		}
	}
}

// linked returns, by type, the ids of the resources of linkedTypes that
// entries name and this run has not asked for yet: Organizations
// (Encounter.serviceProvider, Coverage.payor), Locations
// (Encounter.location) and Practitioners (Encounter.participant.individual,
// Procedure.performer.actor: billing's rendering providers).
func (r *run) linked(entries []entry) map[string][]string {
	out := map[string][]string{}
	add := func(ref, want string) {
		typ, id, ok := splitRef(strings.TrimPrefix(ref, r.conn.Base+"/"))
		if ok && typ == want && !r.fetched[typ+"/"+id] {
			r.fetched[typ+"/"+id] = true
			out[typ] = append(out[typ], id)
		}
	}
	type reference struct {
		Reference string `json:"reference"`
	}
	for _, e := range entries {
		switch e.typ {
		case "Encounter":
			var enc struct {
				ServiceProvider reference `json:"serviceProvider"`
				Location        []struct {
					Location reference `json:"location"`
				} `json:"location"`
				Participant []struct {
					Individual reference `json:"individual"`
				} `json:"participant"`
			}
			if json.Unmarshal(e.raw, &enc) != nil {
				continue
			}
			add(enc.ServiceProvider.Reference, "Organization")
			for _, l := range enc.Location {
				add(l.Location.Reference, "Location")
			}
			for _, p := range enc.Participant {
				add(p.Individual.Reference, "Practitioner")
			}
		case "Coverage":
			var cov struct {
				Payor []reference `json:"payor"`
			}
			if json.Unmarshal(e.raw, &cov) != nil {
				continue
			}
			for _, p := range cov.Payor {
				add(p.Reference, "Organization")
			}
		case "Procedure":
			var proc struct {
				Performer []struct {
					Actor reference `json:"actor"`
				} `json:"performer"`
			}
			if json.Unmarshal(e.raw, &proc) != nil {
				continue
			}
			for _, p := range proc.Performer {
				add(p.Actor.Reference, "Practitioner")
			}
		}
	}
	return out
}

// commit stores items as one group; when that fails, one by one, so
// that one refused resource does not hold back the rest. It returns the
// records stored, by local Type/id.
func (r *run) commit(ctx context.Context, items []*pulled) (map[string]*store.Record, error) {
	var changes []rest.Change
	var kept []*pulled
	for _, p := range items {
		_, v, err := r.s.records.ReadResource(ctx, p.typ, p.res.ID())
		switch {
		case err == nil:
		case errors.Is(err, resource.ErrNotFound):
			v = 0
		case errors.Is(err, resource.ErrDeleted):
			r.skip(p.ref(), "deleted in fhirbill; not brought back")
			continue
		default:
			return nil, fmt.Errorf("read %s/%s: %w", p.typ, p.res.ID(), err)
		}
		changes = append(changes, rest.Change{Resource: p.res, Prev: v})
		kept = append(kept, p)
	}

	stored := map[string]*store.Record{}
	recs, err := r.s.records.Commit(ctx, changes)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		recs = nil
		for i, ch := range changes {
			one, err := r.s.records.Commit(ctx, []rest.Change{ch})
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				r.skip(kept[i].ref(), reason(err))
				continue
			}
			recs = append(recs, one...)
		}
	}
	for _, rec := range recs {
		stored[rec.Type+"/"+rec.ID] = rec
		if rec.Version == 1 {
			r.sum.Created++
		} else {
			r.sum.Updated++
		}
	}
	r.sum.Unchanged += len(changes) - len(recs)
	return stored, nil
}

// billFinished bills each finished Encounter this page created or changed.
func (r *run) billFinished(ctx context.Context, items []*pulled, stored map[string]*store.Record) {
	if r.s.bill == nil {
		return
	}
	for _, p := range items {
		if p.typ != "Encounter" || p.status != "finished" || stored["Encounter/"+p.res.ID()] == nil {
			continue
		}
		if err := r.s.bill(ctx, p.res.ID()); err != nil {
			r.skip(p.ref(), "not billed: "+err.Error())
			continue
		}
		r.sum.Billed++
	}
}

// reason says why a resource was refused, in words free of its values.
func reason(err error) string {
	var re *resource.Error
	if errors.As(err, &re) && len(re.Issues) > 0 {
		is := re.Issues[0]
		msg := "refused by fhirbill: " + is.Diagnostics
		if len(is.Expression) > 0 {
			msg += " at " + is.Expression[0]
		}
		return msg
	}
	if errors.Is(err, resource.ErrConflict) {
		return "changed in fhirbill during the sync"
	}
	return "not stored: " + err.Error()
}
