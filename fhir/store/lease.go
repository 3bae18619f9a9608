package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// leaseCollection holds one document per lease: {_id: name, holder,
// expires}. A lease makes work that must run once at a time (pulling a
// given EHR) run on one replica: whoever holds an unexpired lease does it.
const leaseCollection = "fhirbill_leases"

// AcquireLease takes, or renews, the lease name for holder until
// now+ttl. It reports false, without error, when another holder's lease
// has not expired yet. Each step is a single-document write, atomic on
// MongoDB; on FerretDB, which one process uses at a time, a lock makes it
// so.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	if err := s.ensure(ctx, leaseCollection); err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	if s.ferret {
		mu := s.lock(leaseCollection, name)
		mu.Lock()
		defer mu.Unlock()
	}

	now = now.UTC().Truncate(time.Millisecond)
	expires := now.Add(ttl)
	coll := s.db.Collection(leaseCollection)
	_, err := coll.InsertOne(ctx, bson.D{
		{Key: "_id", Value: name}, {Key: "holder", Value: holder}, {Key: "expires", Value: expires},
	})
	if err == nil {
		return true, nil
	}
	if !isDup(err) {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}

	// The lease exists: take it over if it is ours or has expired.
	filter := bson.D{
		{Key: "_id", Value: name},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "holder", Value: holder}},
			bson.D{{Key: "expires", Value: bson.D{{Key: "$lte", Value: now}}}},
		}},
	}
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "holder", Value: holder}, {Key: "expires", Value: expires}}}}
	res, err := coll.UpdateOne(ctx, filter, set)
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	return res.MatchedCount == 1, nil
}

// ReleaseLease gives up holder's lease name; it does nothing when
// another holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := s.ensure(ctx, leaseCollection); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	if s.ferret {
		mu := s.lock(leaseCollection, name)
		mu.Lock()
		defer mu.Unlock()
	}
	filter := bson.D{{Key: "_id", Value: name}, {Key: "holder", Value: holder}}
	if _, err := s.db.Collection(leaseCollection).DeleteOne(ctx, filter); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
