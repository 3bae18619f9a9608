package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
)

// byID is the order of search results, stable from page to page.
var byID = bson.D{{Key: "_id", Value: 1}}

// Search returns the current, non-deleted resources of q.Type that match
// q, in id order: q.Count of them at most, after skipping q.Offset. more
// reports whether further matches follow the page. A clause the store
// cannot serve gives a [*resource.Error].
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
	limit := max(q.Count, 0) + 1
	c := s.db.Collection(q.Type)

	if len(f.exact) == 0 {
		opts := options.Find().SetSort(byID).SetProjection(noIndex).
			SetSkip(int64(max(q.Offset, 0))).SetLimit(int64(limit))
		cur, err := c.Find(ctx, f.db, opts)
		if err == nil {
			recs, err = decodeAll(ctx, q.Type, cur)
		}
		if err != nil {
			return nil, false, fmt.Errorf("search %s: %w", q.Type, err)
		}
	} else {
		recs, err = s.searchExact(ctx, q.Type, f, q.Offset, limit)
		if err != nil {
			return nil, false, fmt.Errorf("search %s: %w", q.Type, err)
		}
	}

	more = len(recs) > q.Count
	return recs[:min(max(q.Count, 0), len(recs))], more, nil
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
	c := s.db.Collection(q.Type)
	if len(f.exact) == 0 {
		n, err := c.CountDocuments(ctx, f.db)
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", q.Type, err)
		}
		return int(n), nil
	}

	cur, err := c.Find(ctx, f.db, options.Find().SetProjection(bson.D{{Key: "b", Value: 0}}))
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", q.Type, err)
	}
	defer func() { _ = cur.Close(ctx) }()
	n := 0
	for cur.Next(ctx) {
		var d doc
		if err := cur.Decode(&d); err != nil {
			return 0, fmt.Errorf("count %s: %w", q.Type, err)
		}
		if f.match(d.S) {
			n++
		}
	}
	if err := cur.Err(); err != nil {
		return 0, fmt.Errorf("count %s: %w", q.Type, err)
	}
	return n, nil
}

// searchExact pages through the documents of an approximate filter,
// keeping those that match exactly.
func (s *Store) searchExact(
	ctx context.Context,
	typ string,
	f *filter,
	offset, limit int,
) ([]*Record, error) {
	cur, err := s.db.Collection(typ).Find(ctx, f.db, options.Find().SetSort(byID))
	if err != nil {
		return nil, err
	}
	defer func() { _ = cur.Close(ctx) }()

	var recs []*Record
	for len(recs) < limit && cur.Next(ctx) {
		var d doc
		if err := cur.Decode(&d); err != nil {
			return nil, err
		}
		if !f.match(d.S) {
			continue
		}
		if offset > 0 {
			offset--
			continue
		}
		r, err := d.record(typ)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, cur.Err()
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
