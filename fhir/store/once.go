package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// onceCollection holds one document per key used once: {_id: key,
// expires}. Every replica sees the same keys, so a signed assertion's jti
// is accepted by one of them only.
const onceCollection = "fhirbill_once"

// UseOnce records key as used until expires. It returns an error wrapping
// [resource.ErrConflict] when key is already recorded and has not expired
// at now. Expired keys are removed: by MongoDB's TTL index where there is
// one, and by this call otherwise (FerretDB v1 has no TTL indexes).
func (s *Store) UseOnce(ctx context.Context, key string, expires, now time.Time) error {
	if err := s.ensure(ctx, onceCollection); err != nil {
		return fmt.Errorf("use once: %w", err)
	}
	coll := s.db.Collection(onceCollection)
	now = now.UTC().Truncate(time.Millisecond)
	if s.ferret {
		mu := s.lock(onceCollection, key)
		mu.Lock()
		defer mu.Unlock()
	} else if err := s.ensureOnceTTL(ctx); err != nil {
		return err
	}

	expired := bson.D{{Key: "expires", Value: bson.D{{Key: "$lte", Value: now}}}}
	if _, err := coll.DeleteMany(ctx, expired); err != nil {
		return fmt.Errorf("use once: %w", err)
	}
	_, err := coll.InsertOne(ctx, bson.D{
		{Key: "_id", Value: key}, {Key: "expires", Value: expires.UTC().Truncate(time.Millisecond)},
	})
	if isDup(err) {
		return fmt.Errorf("use once: %w", resource.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("use once: %w", err)
	}
	return nil
}

// ensureOnceTTL creates the TTL index that lets MongoDB remove expired
// keys by itself; creating it again is a no-op.
func (s *Store) ensureOnceTTL(ctx context.Context) error {
	s.mu.Lock()
	done := s.ensured[onceCollection+".ttl"]
	s.mu.Unlock()
	if done {
		return nil
	}
	idx := mongo.IndexModel{Keys: bson.D{{Key: "expires", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(0)}
	if _, err := s.db.Collection(onceCollection).Indexes().CreateOne(ctx, idx); err != nil {
		return fmt.Errorf("use once: ttl index: %w", err)
	}
	s.mu.Lock()
	s.ensured[onceCollection+".ttl"] = true
	s.mu.Unlock()
	return nil
}
