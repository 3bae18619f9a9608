package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	s.mu.Lock()
	busy := s.recovering[id]
	s.recovering[id] = true
	s.mu.Unlock()
	if busy {
		return
	}
	defer func() {
		s.mu.Lock()
		delete(s.recovering, id)
		s.mu.Unlock()
	}()

	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	var raw bson.Raw
	err := s.db.Collection(journalCollection).FindOne(uctx, bson.D{{Key: "_id", Value: id}}).Decode(&raw)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return
	}
	if err == nil {
		err = s.recoverJournal(uctx, raw)
	}
	if err != nil {
		s.log.ErrorContext(uctx, "abandoned group rollback failed",
			slog.String("journal_id", id), slog.Any("err", err))
		return
	}
	s.log.WarnContext(uctx, "abandoned group rolled back", slog.String("journal_id", id))
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
