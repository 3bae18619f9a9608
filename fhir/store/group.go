package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// journalCollection holds one document per group of writes in progress.
const journalCollection = "fhirbill_journal"

// undoTimeout bounds a rollback, which runs even when the caller's context
// has ended.
const undoTimeout = 30 * time.Second

// journal records a group of writes in progress.
type journal struct {
	ID      string         `bson:"_id"`
	Created time.Time      `bson:"created"`
	Writes  []journalWrite `bson:"writes"`
}

// journalWrite names one write of a group.
type journalWrite struct {
	Type string `bson:"type"`
	ID   string `bson:"id"`
	V    int64  `bson:"v"`
	Prev int64  `bson:"prev"`
}

// PutAll stores every write or none, in order, without multi-document
// transactions (FerretDB v1 has none). It records the group in a journal,
// puts each write as [Store.Put] does, and on the first failure undoes the
// writes already made and returns that failure, wrapped. A group cut short
// by a crash is rolled back by [Store.Recover], which Open runs.
//
// While a group is in progress its first writes are visible to readers, and
// a concurrent writer to the same resources can make an undo impossible;
// such a version is kept and the rollback is logged.
func (s *Store) PutAll(ctx context.Context, ws []Write) error {
	if len(ws) == 0 {
		return nil
	}
	j := journal{ID: newJournalID(), Created: time.Now().UTC()}
	for _, w := range ws {
		if err := checkWrite(w); err != nil {
			return err
		}
		r := w.Record
		j.Writes = append(j.Writes,
			journalWrite{Type: r.Type, ID: r.ID, V: r.Version, Prev: w.Prev})
	}

	if err := s.ensure(ctx, journalCollection); err != nil {
		return fmt.Errorf("put group: %w", err)
	}
	jc := s.db.Collection(journalCollection)
	if _, err := jc.InsertOne(ctx, &j); err != nil {
		return fmt.Errorf("put group: %w", err)
	}

	for i, w := range ws {
		err := s.put(ctx, w, j.ID)
		if err == nil {
			continue
		}
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
		if uerr := s.rollback(uctx, &j, i+1); uerr != nil {
			// Recover retries once the journal is old enough.
			s.log.ErrorContext(uctx, "group rollback failed",
				slog.String("journal_id", j.ID), slog.Any("err", uerr))
		}
		cancel()
		return fmt.Errorf("put group: write %d of %d: %w", i+1, len(ws), err)
	}

	if _, err := jc.DeleteOne(ctx, bson.D{{Key: "_id", Value: j.ID}}); err != nil {
		// Recover rolls the group back later.
		return fmt.Errorf("put group: %w", err)
	}
	return nil
}

// Recover rolls back every group of writes whose journal is older than
// olderThan, and returns how many it rolled back.
func (s *Store) Recover(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan).UTC()
	cur, err := s.db.Collection(journalCollection).Find(ctx,
		bson.D{{Key: "created", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		return 0, fmt.Errorf("recover groups: %w", err)
	}
	var js []journal
	if err := cur.All(ctx, &js); err != nil {
		return 0, fmt.Errorf("recover groups: %w", err)
	}

	n := 0
	for i := range js {
		if err := s.rollback(ctx, &js[i], len(js[i].Writes)); err != nil {
			return n, fmt.Errorf("recover groups: %w", err)
		}
		n++
	}
	if n > 0 {
		s.log.WarnContext(ctx, "unfinished groups rolled back", slog.Int("groups", n))
	}
	return n, nil
}

// rollback undoes the first n writes of a group, last first, then deletes
// its journal.
func (s *Store) rollback(ctx context.Context, j *journal, n int) error {
	kept := 0
	for i := n - 1; i >= 0; i-- {
		undone, err := s.undo(ctx, j.ID, j.Writes[i])
		if err != nil {
			return fmt.Errorf("undo %s/%s: %w", j.Writes[i].Type, j.Writes[i].ID, err)
		}
		if !undone {
			kept++
		}
	}
	if kept > 0 {
		s.log.WarnContext(ctx, "group rollback kept versions written over",
			slog.String("journal_id", j.ID), slog.Int("versions", kept))
	}
	_, err := s.db.Collection(journalCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: j.ID}})
	return err
}

// undo removes one write of a group, if the group made it: it restores the
// previous version into the current document (deleting it for a create),
// then deletes the history version. It reports false when a later version
// was written over it, which it leaves in place.
func (s *Store) undo(ctx context.Context, journalID string, w journalWrite) (bool, error) {
	h, err := s.historyDoc(ctx, w.Type, w.ID, w.V)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if h.J != journalID {
		return true, nil // another writer's version
	}

	cur, err := s.currentVersion(ctx, w.Type, w.ID)
	if err != nil {
		return false, err
	}
	if cur > w.V {
		return false, nil
	}
	if cur == w.V {
		var prev *doc // nil deletes the current document
		if w.Prev > 0 {
			p, err := s.historyDoc(ctx, w.Type, w.ID, w.Prev)
			if err != nil {
				return false, err
			}
			prev = p.current()
		}
		swapped, err := s.swap(ctx, w.Type, w.ID, w.V, prev)
		if err != nil {
			return false, err
		}
		if !swapped {
			return false, nil
		}
	}

	_, err = s.db.Collection(w.Type+historySuffix).DeleteOne(ctx,
		bson.D{{Key: "_id", Value: historyKey(w.ID, w.V)}})
	return err == nil, err
}

// newJournalID returns a random journal id.
func newJournalID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
