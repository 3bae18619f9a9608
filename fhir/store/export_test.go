package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// WriteHistory runs only step 1 of a write, as a writer that stopped
// before step 2 would leave it; journal marks it as part of a group.
func (s *Store) WriteHistory(ctx context.Context, w Write, journal string) error {
	cur, err := s.state(ctx, w.Record.Type, w.Record.ID)
	if err != nil {
		return err
	}
	return s.WriteOrphan(ctx, w, journal, cur.J)
}

// WriteOrphan is WriteHistory for a writer that checked a current
// document whose j was pj.
func (s *Store) WriteOrphan(ctx context.Context, w Write, journal, pj string) error {
	if err := checkWrite(w); err != nil {
		return err
	}
	if err := s.ensure(ctx, w.Record.Type, w.Record.Type+historySuffix); err != nil {
		return err
	}
	h, err := s.newVersion(w.Record, journal, pj)
	if err != nil {
		return err
	}
	_, err = s.db.Collection(w.Record.Type+historySuffix).InsertOne(ctx, h)
	return err
}

// PutInGroup is Put as a write of the group with the given journal.
func (s *Store) PutInGroup(ctx context.Context, w Write, journal string) error {
	return s.put(ctx, w, journal)
}

// WriteJournal records a group as PutAll does before its first write, with
// the given creation time, and returns its id.
func (s *Store) WriteJournal(ctx context.Context, ws []Write, created time.Time) (string, error) {
	id := newID(12)
	return id, s.InsertJournal(ctx, id, ws, created)
}

// InsertJournal is WriteJournal with a given id.
func (s *Store) InsertJournal(ctx context.Context, id string, ws []Write, created time.Time) error {
	j := journal{ID: id, Created: created.UTC()}
	for _, w := range ws {
		r := w.Record
		j.Writes = append(j.Writes,
			journalWrite{Type: r.Type, ID: r.ID, V: r.Version, Prev: w.Prev})
	}
	return s.InsertRawJournal(ctx, &j)
}

// InsertRawJournal inserts any document into the journal collection.
func (s *Store) InsertRawJournal(ctx context.Context, j any) error {
	if err := s.ensure(ctx, journalCollection); err != nil {
		return err
	}
	_, err := s.db.Collection(journalCollection).InsertOne(ctx, j)
	return err
}

// DeleteJournal deletes a journal, as a group's commit does.
func (s *Store) DeleteJournal(ctx context.Context, id string) error {
	_, err := s.db.Collection(journalCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return err
}

// DeleteVersion deletes one version from the history, as damage would.
func (s *Store) DeleteVersion(ctx context.Context, typ, id string, v int64) error {
	_, err := s.db.Collection(typ+historySuffix).DeleteOne(ctx,
		bson.D{{Key: "_id", Value: historyKey(id, v)}})
	return err
}

// Journals returns the number of groups in progress.
func (s *Store) Journals(ctx context.Context) (int64, error) {
	return s.db.Collection(journalCollection).CountDocuments(ctx, map[string]any{})
}

// FailedJournals returns the number of journals set aside.
func (s *Store) FailedJournals(ctx context.Context) (int64, error) {
	return s.db.Collection(failedCollection).CountDocuments(ctx, map[string]any{})
}

// CurrentJournal returns the j of the current document of a resource.
func (s *Store) CurrentJournal(ctx context.Context, typ, id string) (string, error) {
	st, err := s.state(ctx, typ, id)
	return st.J, err
}

// IsTooLarge is isTooLarge.
var IsTooLarge = isTooLarge

// BulkLoad stores first versions of new resources of one type, in batches,
// without the checks of Put. Benchmarks use it to load data fast.
func (s *Store) BulkLoad(ctx context.Context, typ string, recs []*Record) error {
	if err := s.ensure(ctx, typ, typ+historySuffix); err != nil {
		return err
	}
	const batch = 500
	for i := 0; i < len(recs); i += batch {
		var cur, hist []any
		for _, r := range recs[i:min(i+batch, len(recs))] {
			h, err := s.newVersion(r, "", "")
			if err != nil {
				return err
			}
			cur, hist = append(cur, h.current()), append(hist, h)
		}
		opts := options.InsertMany().SetOrdered(false)
		if _, err := s.db.Collection(typ).InsertMany(ctx, cur, opts); err != nil {
			return err
		}
		if _, err := s.db.Collection(typ+historySuffix).InsertMany(ctx, hist, opts); err != nil {
			return err
		}
	}
	return nil
}

// ExplainReadByID returns the SQLite plan of the query FerretDB runs for a
// read by id on an embedded collection.
func (s *Store) ExplainReadByID(ctx context.Context, coll string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	table, err := s.tableName(ctx, coll)
	if err != nil || table == "" {
		return "", fmt.Errorf("no table for %s: %v", coll, err)
	}
	db, err := s.sqlite()
	if err != nil {
		return "", err
	}
	q := fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q `+
		`WHERE _ferretdb_sjson->'$._id' = ?`, table)
	rows, err := db.QueryContext(ctx, q, `"x"`)
	if err != nil {
		return "", err
	}
	defer rows.Close()

	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; "), rows.Err()
}

// SwapLayout switches a store to the layout of the other kind of server
// (packed search values or arrays, see packed.go), so that tests run
// both on the server at hand. Call it before the first write.
func (s *Store) SwapLayout() {
	s.packed = !s.packed
}

// Packed reports whether the store packs search values.
func (s *Store) Packed() bool {
	return s.packed
}

// IndexNames returns the names of the indexes of a collection, sorted.
func (s *Store) IndexNames(ctx context.Context, coll string) ([]string, error) {
	specs, err := s.db.Collection(coll).Indexes().ListSpecifications(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, sp := range specs {
		names = append(names, sp.Name)
	}
	slices.Sort(names)
	return names, nil
}

// FailRollbacks makes the next n rollback attempts of groups fail, as a
// store that stops answering mid-rollback would.
func (s *Store) FailRollbacks(n int) {
	var left atomic.Int64
	left.Store(int64(n))
	s.bg.mu.Lock()
	s.bg.fault = func() error {
		if left.Add(-1) >= 0 {
			return errors.New("injected rollback failure")
		}
		return nil
	}
	s.bg.mu.Unlock()
}

// SetSweepInterval sets how often stores opened afterwards look for
// abandoned groups, and returns a function restoring it.
func SetSweepInterval(d time.Duration) (restore func()) {
	old := sweepInterval
	sweepInterval = d
	return func() { sweepInterval = old }
}

// SweepAge is how old an abandoned group must be before the sweep takes it.
const SweepAge = sweepAge
