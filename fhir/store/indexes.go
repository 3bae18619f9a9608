package store

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/fhirbill/fhirbill/fhir/search"
)

// EnsureIndexes creates the indexes behind every search parameter in
// params, the history indexes of their resource types and the journal
// index. It is idempotent and meant to run at start.
//
// Per parameter: token, reference and uri get s.<code>.k; string gets
// s.<code>.k and s.<code>.x; date gets {s.<code>.r.lo, s.<code>.r.hi}.
// Every type gets {ts} for _lastUpdated; every history {id, v: -1} and
// {ts: -1}.
//
// On FerretDB, which serves no query from these indexes, the search
// values are packed (see packed.go) and get none: they would only cost
// it time per write (about 8 %, measured with 11 of them). On the
// embedded store it also creates the collections with their _id index
// (see embedded.go).
func (s *Store) EnsureIndexes(ctx context.Context, params []*search.Param) error {
	byType := map[string][]mongo.IndexModel{}
	for _, p := range params {
		if p == nil || p.Resource == "" {
			continue
		}
		byType[p.Resource] = append(byType[p.Resource], s.paramIndexes(p)...)
	}
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	slices.Sort(types)

	colls := []string{journalCollection}
	for _, t := range types {
		colls = append(colls, t, t+historySuffix)
	}
	if err := s.ensure(ctx, colls...); err != nil {
		return fmt.Errorf("ensure indexes: %w", err)
	}

	for _, t := range types {
		models := append(byType[t], index("ts", bson.E{Key: "ts", Value: 1}))
		if err := s.createIndexes(ctx, t, models); err != nil {
			return err
		}
		err := s.createIndexes(ctx, t+historySuffix, []mongo.IndexModel{
			index("id_v", bson.E{Key: "id", Value: 1}, bson.E{Key: "v", Value: -1}),
			index("ts", bson.E{Key: "ts", Value: -1}),
		})
		if err != nil {
			return err
		}
	}
	return s.createIndexes(ctx, journalCollection, []mongo.IndexModel{
		index("created", bson.E{Key: "created", Value: 1}),
	})
}

// paramIndexes returns the indexes of one search parameter.
func (s *Store) paramIndexes(p *search.Param) []mongo.IndexModel {
	if s.packed || p.Code == "_id" || p.Code == "_lastUpdated" {
		return nil // none that serve packed keys; _id and ts
	}
	f := "s." + p.Code
	name := "s_" + p.Code
	switch p.Type {
	case search.TypeToken, search.TypeReference, search.TypeURI:
		return []mongo.IndexModel{index(name+"_k", bson.E{Key: f + ".k", Value: 1})}
	case search.TypeString:
		return []mongo.IndexModel{
			index(name+"_k", bson.E{Key: f + ".k", Value: 1}),
			index(name+"_x", bson.E{Key: f + ".x", Value: 1}),
		}
	case search.TypeDate:
		return []mongo.IndexModel{index(name+"_r",
			bson.E{Key: f + ".r.lo", Value: 1}, bson.E{Key: f + ".r.hi", Value: 1})}
	}
	return nil
}

// index describes one index with a short, fixed name.
func index(name string, keys ...bson.E) mongo.IndexModel {
	return mongo.IndexModel{Keys: bson.D(keys), Options: options.Index().SetName(name)}
}

// createIndexes creates the indexes of one collection, skipping repeated
// keys (a parameter listed twice). It sends one index per command:
// FerretDB v1.24 panics on a createIndexes naming two or more indexes
// that exist already (validateIndexesForCreation deletes from a slice by
// stale positions).
func (s *Store) createIndexes(ctx context.Context, coll string, models []mongo.IndexModel) error {
	seen := map[string]bool{}
	for _, m := range models {
		key := fmt.Sprint(m.Keys)
		if seen[key] {
			continue
		}
		seen[key] = true
		if _, err := s.db.Collection(coll).Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("ensure indexes of %s: %w", coll, err)
		}
	}
	return nil
}
