package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// WriteHistory runs only step 1 of a write, as a writer that stopped
// before step 2 would leave it; journal marks it as part of a group.
func (s *Store) WriteHistory(ctx context.Context, w Write, journal string) error {
	if err := checkWrite(w); err != nil {
		return err
	}
	if err := s.ensure(ctx, w.Record.Type, w.Record.Type+historySuffix); err != nil {
		return err
	}
	d, err := newDoc(w.Record)
	if err != nil {
		return err
	}
	_, err = s.db.Collection(w.Record.Type+historySuffix).InsertOne(ctx, d.history(journal))
	return err
}

// PutInGroup is Put as a write of the group with the given journal.
func (s *Store) PutInGroup(ctx context.Context, w Write, journal string) error {
	return s.put(ctx, w, journal)
}

// WriteJournal records a group as PutAll does before its first write, with
// the given creation time, and returns its id.
func (s *Store) WriteJournal(ctx context.Context, ws []Write, created time.Time) (string, error) {
	j := journal{ID: newJournalID(), Created: created.UTC()}
	for _, w := range ws {
		r := w.Record
		j.Writes = append(j.Writes,
			journalWrite{Type: r.Type, ID: r.ID, V: r.Version, Prev: w.Prev})
	}
	if err := s.ensure(ctx, journalCollection); err != nil {
		return "", err
	}
	_, err := s.db.Collection(journalCollection).InsertOne(ctx, &j)
	return j.ID, err
}

// Journals returns the number of groups in progress.
func (s *Store) Journals(ctx context.Context) (int64, error) {
	return s.db.Collection(journalCollection).CountDocuments(ctx, map[string]any{})
}

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
			d, err := newDoc(r)
			if err != nil {
				return err
			}
			cur, hist = append(cur, d), append(hist, d.history(""))
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
