package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// pending reports whether the group with journal id is in progress: its
// journal exists. The check is one lookup by _id. A journal older than
// recoverAge belongs to a group whose process stopped: pending rolls it
// back first, and still reports it pending, since what the caller read is
// no longer current.
func (s *Store) pending(ctx context.Context, id string) (bool, error) {
	created, found, err := s.journalCreated(ctx, id)
	if err != nil || !found {
		return false, err
	}
	if time.Since(created) > recoverAge {
		s.recoverAbandoned(ctx, id)
	}
	return true, nil
}

// journalCreated returns when the journal id was written, and whether it
// exists.
func (s *Store) journalCreated(ctx context.Context, id string) (time.Time, bool, error) {
	var j struct {
		Created time.Time `bson:"created"`
	}
	err := s.db.Collection(journalCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "created", Value: 1}})).Decode(&j)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("journal %s: %w", id, err)
	}
	return j.Created, true, nil
}

// recoverAbandoned rolls back the abandoned group with journal id, once at
// a time in this process, even when ctx has ended.
func (s *Store) recoverAbandoned(ctx context.Context, id string) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	s.rollbackAbandoned(uctx, id)
}

// rollbackAbandoned rolls back the abandoned group with journal id within
// ctx, unless this process is already at it.
func (s *Store) rollbackAbandoned(ctx context.Context, id string) {
	if !s.claimRecovery(id) {
		return
	}
	defer s.releaseRecovery(id)

	var raw bson.Raw
	err := s.db.Collection(journalCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&raw)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return
	}
	if err == nil {
		err = s.recoverJournal(ctx, raw)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "abandoned group rollback failed",
			slog.String("journal_id", id), slog.Any("err", err))
		return
	}
	s.log.WarnContext(ctx, "abandoned group rolled back", slog.String("journal_id", id))
}

// Recover rolls back every group of writes whose journal is older than
// olderThan (every group when olderThan is 0 or less), and returns how
// many groups it ended. A write that cannot be undone is logged and kept,
// and its journal set aside, so that a damaged group never stops a start
// nor is retried at every one; a group whose rollback fails otherwise is
// logged and left for a later attempt. Recover fails only when it cannot
// list the journals.
func (s *Store) Recover(ctx context.Context, olderThan time.Duration) (int, error) {
	filter := bson.D{}
	if olderThan > 0 {
		cutoff := time.Now().Add(-olderThan).UTC()
		filter = bson.D{{Key: "created", Value: bson.D{{Key: "$lt", Value: cutoff}}}}
	}
	cur, err := s.db.Collection(journalCollection).Find(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("recover groups: %w", err)
	}
	var raws []bson.Raw
	if err := cur.All(ctx, &raws); err != nil {
		return 0, fmt.Errorf("recover groups: %w", err)
	}

	n, failed := 0, 0
	for _, raw := range raws {
		if err := s.recoverJournal(ctx, raw); err != nil {
			failed++
			id, _ := raw.Lookup("_id").StringValueOK()
			s.log.ErrorContext(ctx, "group rollback failed",
				slog.String("journal_id", id), slog.Any("err", err))
			continue
		}
		n++
	}
	if n > 0 || failed > 0 {
		s.log.WarnContext(ctx, "unfinished groups recovered",
			slog.Int("groups", n), slog.Int("groups_failed", failed))
	}
	return n, nil
}

// recoverJournal rolls back the group of a journal read whole; one it
// cannot decode is set aside.
func (s *Store) recoverJournal(ctx context.Context, raw bson.Raw) error {
	var j journal
	if err := bson.Unmarshal(raw, &j); err != nil {
		id, ok := raw.Lookup("_id").StringValueOK()
		if !ok {
			return fmt.Errorf("journal without a string id: %w", err)
		}
		s.log.ErrorContext(ctx, "malformed journal", slog.String("journal_id", id), slog.Any("err", err))
		return s.setAside(ctx, id, 0)
	}
	return s.rollback(ctx, &j, len(j.Writes))
}

// setAside moves journal id into failedCollection, noting when and how
// many writes were kept, which ends its group.
func (s *Store) setAside(ctx context.Context, id string, kept int) error {
	jc := s.db.Collection(journalCollection)
	var d bson.D
	err := jc.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil // set aside or rolled back by another
	}
	if err != nil {
		return fmt.Errorf("set journal %s aside: %w", id, err)
	}
	if err := s.ensure(ctx, failedCollection); err != nil {
		return fmt.Errorf("set journal %s aside: %w", id, err)
	}
	d = append(d, bson.E{Key: "failed", Value: time.Now().UTC()}, bson.E{Key: "kept", Value: kept})
	if _, err := s.db.Collection(failedCollection).InsertOne(ctx, d); err != nil && !isDup(err) {
		return fmt.Errorf("set journal %s aside: %w", id, err)
	}
	if _, err := jc.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("set journal %s aside: %w", id, err)
	}
	s.log.ErrorContext(ctx, "group journal set aside",
		slog.String("journal_id", id), slog.Int("writes_kept", kept))
	return nil
}

// Background rollbacks: a group's own retries, and the sweep of groups
// whose process stopped.

const (
	// sweepAge is how old a journal must be before the sweep rolls it back.
	sweepAge = recoverAge
	// rollbackAttempts bounds the background retries of one group's
	// rollback; the sweep takes over after them.
	rollbackAttempts = 8
)

// sweepInterval is how often the store looks for abandoned groups. A
// variable so that tests can shorten it before Open.
var sweepInterval = time.Minute

// background runs the store's rollbacks that outlive a request: Close
// stops them and waits for them.
type background struct {
	mu     sync.Mutex
	closed bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// fault, set by tests only, fails rollback attempts while it returns
	// an error.
	fault func() error
}

// start reports whether a background task may start, and counts it.
func (b *background) start() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.ctx == nil {
		return false
	}
	b.wg.Add(1)
	return true
}

// injected returns the error a test injects into a rollback, if any.
func (b *background) injected() error {
	b.mu.Lock()
	f := b.fault
	b.mu.Unlock()
	if f == nil {
		return nil
	}
	return f()
}

// startBackground starts the sweep of abandoned groups. Open calls it.
func (s *Store) startBackground() {
	b := &s.bg
	b.mu.Lock()
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.mu.Unlock()
	if !b.start() {
		return
	}
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(sweepInterval)
		defer t.Stop()
		for {
			select {
			case <-b.ctx.Done():
				return
			case <-t.C:
				s.sweep(b.ctx)
			}
		}
	}()
}

// stopBackground ends the background rollbacks and waits for them; a
// rollback cut short keeps its journal, for the next start. Close calls
// it.
func (s *Store) stopBackground() {
	b := &s.bg
	b.mu.Lock()
	b.closed = true
	cancel := b.cancel
	b.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	b.wg.Wait()
}

// sweep rolls back the groups whose journal is older than sweepAge: their
// process stopped without finishing or undoing them, and no writer has met
// their versions since. Readers would otherwise see those versions until
// the next start.
func (s *Store) sweep(ctx context.Context) {
	cutoff := time.Now().Add(-sweepAge).UTC()
	cur, err := s.db.Collection(journalCollection).Find(ctx,
		bson.D{{Key: "created", Value: bson.D{{Key: "$lt", Value: cutoff}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweep of abandoned groups failed", slog.Any("err", err))
		}
		return
	}
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweep of abandoned groups failed", slog.Any("err", err))
		}
		return
	}
	for _, j := range ids {
		if ctx.Err() != nil {
			return
		}
		jctx, cancel := context.WithTimeout(ctx, undoTimeout)
		s.rollbackAbandoned(jctx, j.ID)
		cancel()
	}
}

// retryRollback rolls back the first n writes of group j in the
// background, again and again with a growing pause, until it succeeds,
// the store closes or rollbackAttempts have failed (the sweep then takes
// over). The process that ran the group retries at once: it knows the
// group stopped writing, where another must wait for recoverAge.
func (s *Store) retryRollback(j *journal, n int) {
	b := &s.bg
	if !b.start() {
		return
	}
	go func() {
		defer b.wg.Done()
		if !s.claimRecovery(j.ID) {
			return
		}
		defer s.releaseRecovery(j.ID)

		delay := time.Second
		for attempt := 1; attempt <= rollbackAttempts; attempt++ {
			select {
			case <-b.ctx.Done():
				return
			case <-time.After(delay):
			}
			ctx, cancel := context.WithTimeout(b.ctx, undoTimeout)
			err := s.rollback(ctx, j, n)
			cancel()
			if err == nil {
				s.log.WarnContext(b.ctx, "group rolled back in the background",
					slog.String("journal_id", j.ID), slog.Int("attempt", attempt))
				return
			}
			if b.ctx.Err() != nil {
				return
			}
			s.log.ErrorContext(b.ctx, "group rollback failed",
				slog.String("journal_id", j.ID), slog.Int("attempt", attempt), slog.Any("err", err))
			delay = min(2*delay, time.Minute)
		}
		s.log.ErrorContext(b.ctx, "group rollback given up; the sweep will retry it",
			slog.String("journal_id", j.ID))
	}()
}

// claimRecovery marks journal id as being rolled back by this process;
// false when it already is.
func (s *Store) claimRecovery(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recovering[id] {
		return false
	}
	s.recovering[id] = true
	return true
}

// releaseRecovery ends what claimRecovery began.
func (s *Store) releaseRecovery(id string) {
	s.mu.Lock()
	delete(s.recovering, id)
	s.mu.Unlock()
}
