package store

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// Read returns the current version of a resource. When there is none, the
// error wraps [resource.ErrNotFound]. When the current version is a delete,
// Read returns that record (Deleted, with its Version and Updated) and an
// error wrapping [resource.ErrDeleted].
//
// It takes two lookups by _id: the current document names the version,
// the history holds it.
func (s *Store) Read(ctx context.Context, typ, id string) (*Record, error) {
	for range maxReads {
		var d doc
		err := s.db.Collection(typ).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
			options.FindOne().SetProjection(currentFields)).Decode(&d)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", typ, id, notFound(err))
		}
		recs, err := s.versions(ctx, typ, []hit{{id: id, v: d.V, j: d.J}})
		if errors.Is(err, errStale) {
			continue // a rollback took the version away: read again
		}
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", typ, id, err)
		}
		return recordOf(typ, recs[0])
	}
	return nil, fmt.Errorf("read %s/%s: %w", typ, id, errUnsettled)
}

// ReadVersion returns one version of a resource from its history. When
// there is no such version, the error wraps [resource.ErrNotFound]; when
// that version is a delete, it returns the record and an error wrapping
// [resource.ErrDeleted].
func (s *Store) ReadVersion(ctx context.Context, typ, id string, version int64) (*Record, error) {
	var d doc
	err := s.db.Collection(typ+historySuffix).FindOne(ctx,
		bson.D{{Key: "_id", Value: historyKey(id, version)}},
		options.FindOne().SetProjection(recordFields)).Decode(&d)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s version %d: %w", typ, id, version, notFound(err))
	}
	r, err := d.record(typ)
	if err != nil {
		return nil, err
	}
	return recordOf(typ, r)
}

// History returns one page of the versions of a resource, or of every
// resource of a type when id is "", newest first (last updated descending,
// then id, then version descending), with deleted versions as records with
// Deleted set, and the number of versions in all pages. p.Count is the
// most versions returned: 0 returns none, only the number (_count=0). An
// unknown id gives an empty history. Versions of groups still in progress
// are included (see [Store.PutAll]).
func (s *Store) History(ctx context.Context, typ, id string, p Page) ([]*Record, int, error) {
	filter := bson.D{}
	if id != "" {
		filter = append(filter, bson.E{Key: "id", Value: id})
	}
	if !p.Since.IsZero() {
		since := bson.D{{Key: "$gte", Value: p.Since.UTC()}}
		filter = append(filter, bson.E{Key: "ts", Value: since})
	}
	if len(p.Filters) > 0 {
		var and bson.A
		for _, flt := range p.Filters {
			cond, err := s.filterCond(flt, "id")
			if err != nil {
				return nil, 0, fmt.Errorf("history %s: %w", typ, err)
			}
			and = append(and, cond)
		}
		filter = append(filter, bson.E{Key: "$and", Value: and})
	}
	c := s.db.Collection(typ + historySuffix)

	// TODO(#2): FerretDB scans every version of typ for a history, bodies included, twice.
	total, err := c.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, fmt.Errorf("history %s: %w", typ, err)
	}
	if total == 0 || p.Count <= 0 || p.Offset >= int(total) {
		return nil, int(total), nil
	}

	opts := options.Find().
		SetSort(bson.D{{Key: "ts", Value: -1}, {Key: "id", Value: 1}, {Key: "v", Value: -1}}).
		SetProjection(recordFields).
		SetSkip(int64(max(p.Offset, 0))).
		SetLimit(int64(p.Count))
	cur, err := c.Find(ctx, filter, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("history %s: %w", typ, err)
	}
	recs, err := decodeAll(ctx, typ, cur)
	if err != nil {
		return nil, 0, fmt.Errorf("history %s: %w", typ, err)
	}
	return recs, int(total), nil
}

// recordOf returns a record read by id, with the error Read reports for
// a delete.
func recordOf(typ string, r *Record) (*Record, error) {
	if r.Deleted {
		return r, fmt.Errorf("read %s/%s: %w", typ, r.ID, resource.ErrDeleted)
	}
	return r, nil
}

// notFound translates the driver's "no document" into the store's
// sentinel.
func notFound(err error) error {
	if errors.Is(err, mongo.ErrNoDocuments) {
		return resource.ErrNotFound
	}
	return err
}

// decodeAll reads a cursor to its end into records.
func decodeAll(ctx context.Context, typ string, cur *mongo.Cursor) ([]*Record, error) {
	defer func() { _ = cur.Close(ctx) }()

	var recs []*Record
	for cur.Next(ctx) {
		var d doc
		if err := cur.Decode(&d); err != nil {
			return nil, err
		}
		r, err := d.record(typ)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, cur.Err()
}
