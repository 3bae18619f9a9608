package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// maxDocSize is the largest document MongoDB stores, and the one FerretDB
// announces.
const maxDocSize = 16 << 20

// Put stores w.Record as the version after w.Prev. w.Record.Version must
// be w.Prev+1. The error wraps [resource.ErrConflict] when w.Prev is not
// the current version (Prev 0: when the id exists, even deleted), or when
// the current version is pending: written by a group of writes
// ([Store.PutAll]) still in progress. A record too large to store with its
// search values gives a [*resource.Error] with status 413, and leaves
// nothing behind.
//
// A write takes two steps, without transactions:
//  1. Insert the history document "<id>/<v>". Its unique _id makes exactly
//     one writer win version v.
//  2. Swap the current document from the one checked (its version v-1 and
//     its j) to version v: a compare and swap on both.
//
// A writer that loses step 1 while the current document is still the one
// the winner checked rolls the winner's version forward from the history
// (the winner may have stopped between the steps) before reporting its
// conflict, so versions never stay half-written and the history has no
// gaps. Versions of groups are never rolled forward: their group finishes
// or undoes them. See group.go for the reasoning.
func (s *Store) Put(ctx context.Context, w Write) error {
	return s.put(ctx, w, "")
}

// put is Put as a write of the group with the given journal ("" for none).
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
	// follow the current one (a stale or invented If-Match), or that would
	// follow a pending one.
	cur, err := s.state(ctx, typ, id)
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}
	if cur.V != w.Prev {
		return conflict(typ, id)
	}
	if cur.J != "" && cur.J != journal {
		pending, err := s.pending(ctx, cur.J)
		if err != nil {
			return fmt.Errorf("put %s/%s: %w", typ, id, err)
		}
		if pending {
			return conflict(typ, id)
		}
	}

	h, err := s.newVersion(r, journal, cur.J)
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}
	raw, err := bson.Marshal(h)
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}
	// The history document holds all the current one does, and more.
	if len(raw) > maxDocSize {
		return tooLarge(typ, id, nil)
	}
	hist := s.db.Collection(typ + historySuffix)
	if _, err := hist.InsertOne(ctx, bson.Raw(raw)); isDup(err) {
		return s.lostVersion(ctx, typ, id, v, journal)
	} else if isTooLarge(err) {
		return tooLarge(typ, id, err)
	} else if err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}

	swapped, err := s.swap(ctx, typ, id, cur, h.current())
	if isTooLarge(err) {
		// Nobody could roll it forward either.
		return tooLarge(typ, id, errors.Join(err, s.deleteHistory(ctx, typ, h)))
	}
	if err != nil {
		// The history document stays: the next writer rolls it forward,
		// or the group undoes it.
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}
	if swapped {
		return nil
	}

	// The document checked is no longer current. Either another writer
	// rolled this version forward, or a group's rollback took the document
	// checked away, and it never comes back: this version can never
	// follow it, so it is withdrawn.
	now, err := s.state(ctx, typ, id)
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}
	if now.V >= v {
		got, err := s.historyDoc(ctx, typ, id, v, writeID)
		if err == nil && got.W == h.W {
			return nil
		}
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return fmt.Errorf("put %s/%s: %w", typ, id, err)
		}
		return conflict(typ, id) // withdrawn as dead, and version v written since
	}
	if err := s.deleteHistory(ctx, typ, h); err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, errors.Join(resource.ErrConflict, err))
	}
	return conflict(typ, id)
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

// conflict returns the error of a write that lost to another.
func conflict(typ, id string) error {
	return fmt.Errorf("put %s/%s: %w", typ, id, resource.ErrConflict)
}

// tooLarge returns the error of a record that does not fit in a document.
func tooLarge(typ, id string, cause error) error {
	e := resource.Errorf(http.StatusRequestEntityTooLarge, resource.IssueTooCostly, "",
		"the resource is too large to store with its search index")
	e.Err = cause
	return fmt.Errorf("put %s/%s: %w", typ, id, e)
}

// isTooLarge reports whether err says a document is over the size limit:
// the driver's check of a message, or the server's of a document.
func isTooLarge(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrDocumentTooLarge) {
		return true
	}
	// BSONObjectTooLarge; a replacement or an upsert over the limit.
	if hasCode(err, 10334) || hasCode(err, 17419) || hasCode(err, 17420) {
		return true
	}
	// MongoDB answers an insert over the limit with BadValue.
	return hasCode(err, 2) && strings.Contains(err.Error(), "too large")
}

// lostVersion handles a writer that found version v taken by another
// write. It always returns a conflict, after settling that version.
func (s *Store) lostVersion(ctx context.Context, typ, id string, v int64, journal string) error {
	if err := s.settle(ctx, typ, id, v, journal); err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, errors.Join(resource.ErrConflict, err))
	}
	return conflict(typ, id)
}

// settle finishes or clears history version v when its writer will not:
// a version without group still able to follow the current document is
// rolled forward; one that never can (the document its writer checked
// left, or its group ended without making it current) is deleted, so
// that it does not block version v. A pending version is left to its
// group.
func (s *Store) settle(ctx context.Context, typ, id string, v int64, journal string) error {
	h, err := s.historyDoc(ctx, typ, id, v, nil)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil // withdrawn or undone meanwhile
	}
	if err != nil {
		return err
	}
	if h.J != "" {
		if h.J == journal {
			return nil
		}
		// The journal is checked before the current document: once it
		// is gone, a version of the group that is not current never
		// becomes current.
		pending, err := s.pending(ctx, h.J)
		if err != nil || pending {
			return err
		}
	}

	cur, err := s.state(ctx, typ, id)
	switch {
	case err != nil:
		return err
	case cur.V >= v:
		return nil
	case h.J == "" && cur.V == v-1 && cur.J == h.PJ:
		return s.rollForward(ctx, typ, id, h, cur)
	}
	if err := s.deleteHistory(ctx, typ, h); err != nil {
		return err
	}
	s.log.DebugContext(ctx, "dead version withdrawn",
		slog.String("resource_type", typ), slog.String("resource_id", id),
		slog.Int64("version", v))
	return nil
}

// rollForward copies history document h into the current document if
// that is still cur, the document h's writer checked.
func (s *Store) rollForward(ctx context.Context, typ, id string, h *doc, cur state) error {
	swapped, err := s.swap(ctx, typ, id, cur, h.current())
	if swapped {
		// Routine in a race; after a crash, the only trace of it.
		s.log.DebugContext(ctx, "version rolled forward",
			slog.String("resource_type", typ), slog.String("resource_id", id),
			slog.Int64("version", h.V))
	}
	return err
}

// state is what a writer checks of a current document: its version (0
// when there is none) and the journal of the group that wrote it.
type state struct {
	V int64  `bson:"v"`
	J string `bson:"j"`
}

// stateFields projects a document onto a state.
var stateFields = bson.D{{Key: "v", Value: 1}, {Key: "j", Value: 1}}

// state reads the state of the current document of id.
func (s *Store) state(ctx context.Context, typ, id string) (state, error) {
	var st state
	err := s.db.Collection(typ).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(stateFields)).Decode(&st)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return state{}, nil
	}
	return st, err
}

// swap replaces the current document of id if it is still from (same
// version, same j): with d, or, when d is nil, by nothing. From version 0
// inserts d. It reports whether it swapped.
//
// On MongoDB the version and j are part of the filter. FerretDB v1 reads
// and then writes an update in two steps, and a filter other than {_id}
// scans the collection, so on FerretDB the store compares and swaps under
// a lock, which serializes the writers of this process only: several
// processes must not share one FerretDB.
func (s *Store) swap(ctx context.Context, typ, id string, from state, d *doc) (bool, error) {
	c := s.db.Collection(typ)
	if from.V == 0 {
		_, err := c.InsertOne(ctx, d)
		if isDup(err) {
			return false, nil
		}
		return err == nil, err
	}

	filter := bson.D{{Key: "_id", Value: id}, {Key: "v", Value: from.V}, {Key: "j", Value: orNull(from.J)}}
	if s.ferret {
		mu := s.lock(typ, id)
		mu.Lock()
		defer mu.Unlock()

		cur, err := s.state(ctx, typ, id)
		if err != nil || cur != from {
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

// writeID projects a history document onto its journal and write id.
var writeID = bson.D{{Key: "id", Value: 1}, {Key: "v", Value: 1}, {Key: "j", Value: 1}, {Key: "w", Value: 1}}

// historyDoc reads version v of id from the history, projected on fields
// (nil: all).
func (s *Store) historyDoc(ctx context.Context, typ, id string, v int64, fields bson.D) (*doc, error) {
	opts := options.FindOne()
	if fields != nil {
		opts.SetProjection(fields)
	}
	var h doc
	err := s.db.Collection(typ+historySuffix).
		FindOne(ctx, bson.D{{Key: "_id", Value: historyKey(id, v)}}, opts).Decode(&h)
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// deleteHistory deletes history document h if it is still the one written
// (same write id): another may have taken its version since it was read.
// On FerretDB it compares under the lock of the resource, which every
// delete from the history takes, so that h cannot be replaced between the
// comparison and the delete.
func (s *Store) deleteHistory(ctx context.Context, typ string, h *doc) error {
	filter := bson.D{{Key: "_id", Value: h.Key}, {Key: "w", Value: orNull(h.W)}}
	if s.ferret {
		mu := s.lock(typ, h.ID)
		mu.Lock()
		defer mu.Unlock()

		got, err := s.historyDoc(ctx, typ, h.ID, h.V, writeID)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		if err != nil {
			return err
		}
		if got.W != h.W {
			return nil
		}
		filter = filter[:1]
	}
	_, err := s.db.Collection(typ+historySuffix).DeleteOne(ctx, filter)
	return err
}

// orNull is v, or null for "": a filter on null also matches a document
// without the field.
func orNull(v string) any {
	if v == "" {
		return nil
	}
	return v
}
