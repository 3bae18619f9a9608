package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Isolation of groups, and why every interleaving ends consistent.
//
// A group G writes each of its versions with j = G, in the history and in
// the current document. While G's journal exists these versions are
// pending: a writer (Put, or another group) that finds j naming an
// existing journal other than its own in the current document reports a
// conflict instead of building on it. Deleting the journal commits all of
// G's versions at once; a journal that is gone means committed, or rolled
// back, and then no current document carries G's versions any more.
// Readers are not isolated: Read, Search and History see pending
// versions, which a rollback may take away. Read and Search find a
// version in the current document and read it from the history; one
// taken away in between is found again (see [Store.versions]).
//
// Facts the reasoning rests on:
//  (a) The current document at version v is history version v without
//      its body: only the writer that won that history document puts it
//      there, or a roll-forward or a restore copies it from there.
//  (b) Every swap compares the version and the j the writer checked, so a
//      writer replaces only the very document it checked.
//  (c) Only a rollback moves a current document back, and only from a
//      version of its own group, while the journal exists.
//  (d) A document (v, G) that a rollback took away never comes back: G's
//      history v is deleted, G is over, and only the writer of history v+1
//      could restore it, which is G itself.
//
// Writer W and group G on one resource:
//   - W reads the current (v, G) while G's journal exists: conflict.
//   - W reads (v, G), G commits, W finds the journal gone and builds on a
//     committed version, as it should.
//   - W reads (v, G), G rolls back (restores v-1, deletes history v, then
//     the journal), W finds the journal gone and writes history v+1. Its
//     swap compares (v, G), which (d) says never comes back: it fails, W
//     finds the current version below v+1 and withdraws its history v+1.
//     Nothing is built on a version that was rolled back.
//   - W and G claim the same version v (history insert): one wins. If G
//     wins, W does not roll G's version forward and reports a conflict.
//     If W wins, G gets a conflict and rolls back its earlier writes.
//
// So while G's journal exists nobody moves a current document of G's on,
// and G's rollback finds each of its versions as it left them: it restores
// the previous version (swap from (v, G)), then deletes its history
// document (by its write id), and after the last write deletes the
// journal. A rollback cut short keeps the journal; a later one (Recover,
// or a writer finding the journal abandoned) finishes it, each step being
// idempotent: a second rollback of the same write finds the swap done and
// the history document gone.
//
// Two groups G and H on one resource are each a writer to the other: one
// or both get a conflict and roll back. Neither waits, so none deadlocks.
// A group builds on its own pending versions (a resource written twice).
//
// Roll-forward: only versions without a group are rolled forward, and only
// onto the document their writer checked (version v-1 and j = pj, compared
// by the swap). So a roll-forward never lands on a pending version, nor on
// a document that came back to version v-1 after a rollback, whose writer
// is meanwhile withdrawing it (rolling it forward then would leave a
// current version without history). A version that can never become
// current (the document pj names left for good, or its group ended) is
// deleted by the next writer claiming its number, so it blocks nothing.
//
// Recovery takes a journal older than recoverAge for one whose process
// stopped. PutAll bounds a group's writes by groupTimeout and its rollback
// by undoTimeout, well under recoverAge, so a running group is never
// rolled back from under itself unless clocks differ by more than the
// margin. A rollback that does not finish within undoTimeout is retried
// in the background by the process that ran the group, which knows the
// group stopped writing; a journal nobody retries (its process stopped)
// is found by the sweep every sweepInterval, or by the next writer to
// meet one of its versions, once older than recoverAge. Rolling a group
// back twice at once is safe, each step being idempotent.

// journalCollection holds one document per group of writes in progress.
const journalCollection = "fhirbill_journal"

// failedCollection keeps, for inspection, the journals of groups that
// could not be rolled back entirely. Their versions are not pending.
const failedCollection = "fhirbill_journal_failed"

const (
	// groupTimeout bounds the writes of a group.
	groupTimeout = time.Minute
	// undoTimeout bounds a rollback, which runs even when the caller's
	// context has ended.
	undoTimeout = 30 * time.Second
)

// errCannotUndo marks a write of a group that the data shows cannot be
// undone: kept, and logged.
var errCannotUndo = errors.New("cannot undo")

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
// writes already made and returns that failure, wrapped; an undo that
// does not finish is retried in the background. A group cut short by a
// crash is rolled back by [Store.Recover], which Open runs, by the
// store's sweep, or by the first writer that finds it abandoned.
//
// Until the group ends, its versions are pending: other writers to the
// same resources get a conflict, so the group can always be undone.
// Readers see pending versions (there is no read isolation).
func (s *Store) PutAll(ctx context.Context, ws []Write) error {
	if len(ws) == 0 {
		return nil
	}
	j := journal{ID: newID(12), Created: time.Now().UTC()}
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
	if _, err := s.db.Collection(journalCollection).InsertOne(ctx, &j); err != nil {
		return fmt.Errorf("put group: %w", err)
	}

	wctx, cancel := context.WithTimeout(ctx, groupTimeout)
	defer cancel()
	for i, w := range ws {
		if err := s.put(wctx, w, j.ID); err != nil {
			s.abort(ctx, &j, i+1)
			return fmt.Errorf("put group: write %d of %d: %w", i+1, len(ws), err)
		}
	}
	return s.commit(ctx, wctx, &j)
}

// commit deletes the journal of a group whose writes are all made, which
// commits them at once.
func (s *Store) commit(ctx, wctx context.Context, j *journal) error {
	res, err := s.db.Collection(journalCollection).DeleteOne(wctx, bson.D{{Key: "_id", Value: j.ID}})
	if err == nil && res.DeletedCount == 1 {
		return nil
	}
	if err == nil {
		s.log.ErrorContext(ctx, "group rolled back by recovery while running",
			slog.String("journal_id", j.ID))
		return fmt.Errorf("put group %s: rolled back by recovery", j.ID)
	}

	// The delete may have been done: the journal tells.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	_, found, ferr := s.journalCreated(uctx, j.ID)
	if ferr == nil && !found {
		return nil
	}
	if ferr == nil {
		s.abort(uctx, j, len(j.Writes))
	}
	return fmt.Errorf("put group: %w", err)
}

// abort rolls back the first n writes of a group that failed, on a
// context the caller's end cannot cancel, within undoTimeout. A rollback
// that does not finish keeps the journal and is retried in the
// background (retryRollback), so that the group's versions do not stay
// readable until a restart.
func (s *Store) abort(ctx context.Context, j *journal, n int) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	if err := s.rollback(uctx, j, n); err != nil {
		s.log.ErrorContext(uctx, "group rollback failed, retrying in the background",
			slog.String("journal_id", j.ID), slog.Int("writes", n), slog.Any("err", err))
		s.retryRollback(j, n)
	}
}

// rollback undoes the first n writes of a group, last first, then deletes
// its journal, which ends the group. A write that cannot be undone
// (errCannotUndo) is logged and kept, and the journal is then set aside
// in failedCollection instead, so that the group is neither pending nor
// retried. Any other error stops the rollback and keeps the journal for a
// later attempt.
func (s *Store) rollback(ctx context.Context, j *journal, n int) error {
	if err := s.bg.injected(); err != nil {
		return err
	}
	kept := 0
	for i := n - 1; i >= 0; i-- {
		w := j.Writes[i]
		err := s.undo(ctx, j.ID, w)
		if errors.Is(err, errCannotUndo) {
			kept++
			s.log.ErrorContext(ctx, "group write kept: it cannot be undone",
				slog.String("journal_id", j.ID), slog.String("resource_type", w.Type),
				slog.String("resource_id", w.ID), slog.Int64("version", w.V), slog.Any("err", err))
			continue
		}
		if err != nil {
			return fmt.Errorf("undo %s/%s: %w", w.Type, w.ID, err)
		}
	}
	if kept > 0 {
		return s.setAside(ctx, j.ID, kept)
	}
	_, err := s.db.Collection(journalCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: j.ID}})
	return err
}

// undo removes one write of group g, if the group made it and it is still
// there: it restores the previous version into the current document (or
// deletes it, for a create), then deletes the group's history version.
func (s *Store) undo(ctx context.Context, g string, w journalWrite) error {
	h, err := s.historyDoc(ctx, w.Type, w.ID, w.V, writeID)
	if errors.Is(err, mongo.ErrNoDocuments) {
		h, err = nil, nil
	}
	if err != nil {
		return err
	}
	ours := h != nil && h.J == g

	// Two tries: a concurrent rollback of the same group may swap first.
	for range 2 {
		cur, err := s.state(ctx, w.Type, w.ID)
		if err != nil {
			return err
		}
		// A current document written before j was kept there has none;
		// by (a), it is g's version when g owns the history version.
		mine := cur.V == w.V && (cur.J == g || cur.J == "" && ours)
		switch {
		case !mine && cur.V >= w.V && ours:
			return fmt.Errorf("version %d written over: %w", w.V, errCannotUndo)
		case !mine:
			if ours {
				return s.deleteHistory(ctx, w.Type, h)
			}
			return nil
		}

		var prev *doc // nil deletes the current document
		if w.Prev > 0 {
			p, err := s.historyDoc(ctx, w.Type, w.ID, w.Prev, nil)
			if errors.Is(err, mongo.ErrNoDocuments) {
				return fmt.Errorf("version %d not in history: %w", w.Prev, errCannotUndo)
			}
			if err != nil {
				return err
			}
			prev = p.current()
		}
		swapped, err := s.swap(ctx, w.Type, w.ID, cur, prev)
		if err != nil {
			return err
		}
		if swapped {
			if ours {
				return s.deleteHistory(ctx, w.Type, h)
			}
			return nil
		}
	}
	return errors.New("current document keeps changing")
}
