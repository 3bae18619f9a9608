package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// Put stores w.Record as the version after w.Prev, or fails with an error
// wrapping [resource.ErrConflict] when w.Prev is not the current version
// (Prev 0: when the id exists, even deleted). w.Record.Version must be
// w.Prev+1.
//
// A write takes two steps, without transactions:
//  1. Insert the history document "<id>/<v>". Its unique _id makes exactly
//     one writer win version v.
//  2. Swap the current document from version v-1 to v (compare and swap).
//
// A writer that loses step 1 while the current version is still v-1 rolls
// the winner's version forward from the history (the winner may have
// stopped between the steps) before reporting its conflict, so versions
// never stay half-written and the history has no gaps.
func (s *Store) Put(ctx context.Context, w Write) error {
	return s.put(ctx, w, "")
}

// put is Put, marking the history document with the journal of a group.
func (s *Store) put(ctx context.Context, w Write, journal string) error {
	r := w.Record
	if err := checkWrite(w); err != nil {
		return err
	}
	typ, id, v := r.Type, r.ID, r.Version
	if err := s.ensure(ctx, typ, typ+historySuffix); err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}

	// Checking first keeps a writer from claiming a version that cannot
	// follow the current one (a stale or invented If-Match).
	cur, err := s.currentVersion(ctx, typ, id)
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}
	if cur != w.Prev {
		return fmt.Errorf("put %s/%s: %w", typ, id, resource.ErrConflict)
	}

	d, err := newDoc(r)
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}
	hist := s.db.Collection(typ + historySuffix)
	if _, err := hist.InsertOne(ctx, d.history(journal)); isDup(err) {
		return s.lostVersion(ctx, typ, id, v)
	} else if err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}

	swapped, err := s.swap(ctx, typ, id, w.Prev, d)
	if err != nil {
		// The history document stays; the next writer rolls it forward.
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}
	if swapped {
		return nil
	}

	cur, err = s.currentVersion(ctx, typ, id)
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}
	if cur >= v {
		return nil // another writer rolled our version forward
	}
	// The current version went back below Prev: a group rolled it back
	// after our check. Withdraw our version so that nobody rolls it
	// forward later.
	if _, err := hist.DeleteOne(ctx, bson.D{{Key: "_id", Value: historyKey(id, v)}}); err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, errors.Join(resource.ErrConflict, err))
	}
	return fmt.Errorf("put %s/%s: %w", typ, id, resource.ErrConflict)
}

// checkWrite rejects a malformed write, a programming error.
func checkWrite(w Write) error {
	r := w.Record
	switch {
	case r == nil:
		return errors.New("put: no record")
	case r.Type == "" || r.ID == "":
		return errors.New("put: record without type or id")
	case r.Version != w.Prev+1 || w.Prev < 0:
		return fmt.Errorf("put %s/%s: version %d does not follow %d",
			r.Type, r.ID, r.Version, w.Prev)
	case !r.Deleted && len(r.Body) == 0:
		return fmt.Errorf("put %s/%s: no body", r.Type, r.ID)
	}
	return nil
}

// lostVersion handles a writer that found version v taken: if that
// version has not reached the current document yet, it rolls it forward.
// It always returns a conflict.
func (s *Store) lostVersion(ctx context.Context, typ, id string, v int64) error {
	cur, err := s.currentVersion(ctx, typ, id)
	if err == nil && cur == v-1 {
		err = s.rollForward(ctx, typ, id, v)
	}
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, errors.Join(resource.ErrConflict, err))
	}
	return fmt.Errorf("put %s/%s: %w", typ, id, resource.ErrConflict)
}

// rollForward copies history version v into the current document if the
// current version is v-1.
func (s *Store) rollForward(ctx context.Context, typ, id string, v int64) error {
	h, err := s.historyDoc(ctx, typ, id, v)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil // withdrawn or rolled back meanwhile
	}
	if err != nil {
		return err
	}
	swapped, err := s.swap(ctx, typ, id, v-1, h.current())
	if swapped {
		// Routine in a race; after a crash, the only trace of it.
		s.log.DebugContext(ctx, "version rolled forward",
			slog.String("resource_type", typ), slog.String("resource_id", id),
			slog.Int64("version", v))
	}
	return err
}

// swap replaces the current document of id if its version is prev: with d,
// or, when d is nil, by nothing. Prev 0 inserts d. It reports whether it
// swapped.
//
// On MongoDB the version is part of the filter. FerretDB v1 reads and then
// writes an update in two steps, and a filter other than {_id} scans the
// collection, so on FerretDB the store compares and swaps under a lock,
// which serializes the writers of this process only: several processes
// must not share one FerretDB.
func (s *Store) swap(ctx context.Context, typ, id string, prev int64, d *doc) (bool, error) {
	c := s.db.Collection(typ)
	if prev == 0 {
		_, err := c.InsertOne(ctx, d)
		if isDup(err) {
			return false, nil
		}
		return err == nil, err
	}

	filter := bson.D{{Key: "_id", Value: id}, {Key: "v", Value: prev}}
	if s.ferret {
		mu := s.lock(typ, id)
		mu.Lock()
		defer mu.Unlock()

		cur, err := s.currentVersion(ctx, typ, id)
		if err != nil || cur != prev {
			return false, err
		}
		filter = filter[:1]
	}

	if d == nil {
		res, err := c.DeleteOne(ctx, filter)
		if err != nil {
			return false, err
		}
		return res.DeletedCount == 1, nil
	}
	res, err := c.ReplaceOne(ctx, filter, d)
	if err != nil {
		return false, err
	}
	return res.MatchedCount == 1, nil
}

// currentVersion returns the version of the current document of id, or 0
// when there is none.
func (s *Store) currentVersion(ctx context.Context, typ, id string) (int64, error) {
	var d struct {
		V int64 `bson:"v"`
	}
	err := s.db.Collection(typ).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "v", Value: 1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	return d.V, err
}

// historyDoc reads version v of id from the history.
func (s *Store) historyDoc(ctx context.Context, typ, id string, v int64) (*doc, error) {
	var h doc
	err := s.db.Collection(typ+historySuffix).
		FindOne(ctx, bson.D{{Key: "_id", Value: historyKey(id, v)}}).Decode(&h)
	if err != nil {
		return nil, err
	}
	return &h, nil
}
