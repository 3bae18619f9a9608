package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
)

// byID is the order of search results, stable from page to page.
var byID = bson.D{{Key: "_id", Value: 1}}

// maxReads bounds the attempts of a search or a read by id whose
// versions were taken away between its two steps (see [Store.versions]).
const maxReads = 3

// errUnsettled reports a search or a read by id whose versions kept being
// taken away: rollbacks of groups of writes, running at every attempt.
var errUnsettled = errors.New("the versions found keep being rolled back")

// Search returns the current, non-deleted resources of q.Type that match
// q, in id order: q.Count of them at most, after skipping q.Offset. more
// reports whether further matches follow the page. A clause the store
// cannot serve gives a [*resource.Error].
//
// It finds the current documents, which hold no body, then reads the
// versions they name from the history.
func (s *Store) Search(
	ctx context.Context,
	q *search.Query,
) (recs []*Record, more bool, err error) {
	if ids, ok := s.idsOnly(q); ok {
		recs, err = s.readIDs(ctx, q.Type, ids)
		if err != nil {
			return nil, false, fmt.Errorf("search %s: %w", q.Type, err)
		}
		recs = recs[min(max(q.Offset, 0), len(recs)):]
		more = len(recs) > q.Count
		return recs[:min(max(q.Count, 0), len(recs))], more, nil
	}

	f, err := s.translate(q)
	if err != nil {
		return nil, false, err
	}
	count := max(q.Count, 0)
	for range maxReads {
		hits, err := s.find(ctx, q.Type, f, max(q.Offset, 0), count+1)
		if err != nil {
			return nil, false, fmt.Errorf("search %s: %w", q.Type, err)
		}
		more = len(hits) > count
		recs, err = s.versions(ctx, q.Type, hits[:min(count, len(hits))])
		if errors.Is(err, errStale) {
			continue // a rollback took a version away: find again
		}
		if err != nil {
			return nil, false, fmt.Errorf("search %s: %w", q.Type, err)
		}
		return recs, more, nil
	}
	return nil, false, fmt.Errorf("search %s: %w", q.Type, errUnsettled)
}

// Count returns the number of current, non-deleted resources of q.Type
// that match q, ignoring its paging.
func (s *Store) Count(ctx context.Context, q *search.Query) (int, error) {
	if ids, ok := s.idsOnly(q); ok {
		recs, err := s.readIDs(ctx, q.Type, ids)
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", q.Type, err)
		}
		return len(recs), nil
	}

	f, err := s.translate(q)
	if err != nil {
		return 0, err
	}
	if len(f.exact) == 0 {
		n, err := s.db.Collection(q.Type).CountDocuments(ctx, f.db)
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", q.Type, err)
		}
		return int(n), nil
	}
	hits, err := s.find(ctx, q.Type, f, 0, -1)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", q.Type, err)
	}
	return len(hits), nil
}

// hit is a current document a search found: the version it names, and
// the journal of the group that wrote it.
type hit struct {
	id string
	v  int64
	j  string
}

// find returns the current documents matching f in id order, at most
// limit (all when negative) after skipping offset. Documents f only
// approximates are checked again here, and paged here.
func (s *Store) find(ctx context.Context, typ string, f *filter, offset, limit int) ([]hit, error) {
	if limit == 0 {
		return nil, nil
	}
	// TODO(#2): FerretDB still scans every current document of typ, 0.04-0.06 ms each.
	opts := options.Find().SetSort(byID)
	if len(f.exact) == 0 {
		opts.SetProjection(currentFields).SetSkip(int64(offset))
		if limit > 0 {
			opts.SetLimit(int64(limit))
		}
	} else {
		opts.SetProjection(s.exactFields(f))
	}
	cur, err := s.db.Collection(typ).Find(ctx, f.db, opts)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cur.Close(ctx) }()

	var hits []hit
	for (limit < 0 || len(hits) < limit) && cur.Next(ctx) {
		var d doc
		if err := cur.Decode(&d); err != nil {
			return nil, err
		}
		if len(f.exact) > 0 {
			if !f.match(&d) {
				continue
			}
			if offset > 0 {
				offset--
				continue
			}
		}
		hits = append(hits, hit{id: d.Key, v: d.V, j: d.J})
	}
	return hits, cur.Err()
}

// errStale reports a version found current that is no longer in the
// history as it was: a group's rollback took it away (it deletes the
// history document after restoring the previous current one), and
// another writer may have written the same version number since.
var errStale = errors.New("version taken away")

// versions reads the records of hits from the history, in order; when
// one is not the version found current (errStale), the caller finds
// again. A version that was current leaves the history only by the
// rollback of the group that wrote it (see group.go: a version without
// group is deleted only if it never became current), and whoever writes
// that version number again is not that group: so the history document
// is the version found when its j is the same. On FerretDB, which serves
// only {_id: value} without a scan, it reads them one by one, elsewhere
// with one query.
func (s *Store) versions(ctx context.Context, typ string, hits []hit) ([]*Record, error) {
	hist := s.db.Collection(typ + historySuffix)
	docs := make(map[string]*doc, len(hits))
	switch {
	case len(hits) == 0:
	case s.packed || len(hits) == 1:
		for _, h := range hits {
			var d doc
			err := hist.FindOne(ctx, bson.D{{Key: "_id", Value: historyKey(h.id, h.v)}},
				options.FindOne().SetProjection(recordFields)).Decode(&d)
			if errors.Is(err, mongo.ErrNoDocuments) {
				return nil, errStale
			}
			if err != nil {
				return nil, err
			}
			docs[d.Key] = &d
		}
	default:
		keys := make(bson.A, len(hits))
		for i, h := range hits {
			keys[i] = historyKey(h.id, h.v)
		}
		cur, err := hist.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}},
			options.Find().SetProjection(recordFields))
		if err != nil {
			return nil, err
		}
		var all []*doc
		if err := cur.All(ctx, &all); err != nil {
			return nil, err
		}
		for _, d := range all {
			docs[d.Key] = d
		}
	}

	recs := make([]*Record, len(hits))
	for i, h := range hits {
		d := docs[historyKey(h.id, h.v)]
		if d == nil || d.J != h.j {
			return nil, errStale
		}
		r, err := d.record(typ)
		if err != nil {
			return nil, err
		}
		recs[i] = r
	}
	return recs, nil
}

// idsOnly returns the ids of a query that selects by _id alone, which
// FerretDB serves faster by lookups than by a scan.
func (s *Store) idsOnly(q *search.Query) ([]string, bool) {
	if !s.ferret || len(q.Clauses) != 1 || len(q.Filters) > 0 {
		return nil, false
	}
	c := q.Clauses[0]
	if c.Param == nil || c.Param.Code != "_id" ||
		c.Modifier != search.ModifierNone || len(c.Values) == 0 {
		return nil, false
	}
	ids := make([]string, len(c.Values))
	for i, v := range c.Values {
		ids[i] = v.Key
	}
	slices.Sort(ids)
	return slices.Compact(ids), true
}

// readIDs reads the current, non-deleted resources among ids, in order.
func (s *Store) readIDs(ctx context.Context, typ string, ids []string) ([]*Record, error) {
	var recs []*Record
	for _, id := range ids {
		r, err := s.Read(ctx, typ, id)
		switch {
		case err == nil:
			recs = append(recs, r)
		case errors.Is(err, resource.ErrNotFound), errors.Is(err, resource.ErrDeleted):
		default:
			return nil, err
		}
	}
	return recs, nil
}
