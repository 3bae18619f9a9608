package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// blobCollection holds named data that is not a FHIR resource, such as an
// imported fee schedule: {_id: name, b: gzip(data), ts}. blobTimes holds
// {_id: name, ts} alone: FerretDB decodes a whole document even to
// project one field, and a blob is megabytes.
const (
	blobCollection = "fhirbill_blobs"
	blobTimes      = "fhirbill_blob_times"
)

// maxBlob keeps a blob well under MongoDB's 16 MB document limit once
// compressed.
const maxBlob = 64 << 20

type blobDoc struct {
	Name string    `bson:"_id"`
	B    []byte    `bson:"b"`
	TS   time.Time `bson:"ts"`
}

// PutBlob stores data under name, replacing what was there. It is for
// reference data fhirbill imports (not resources): read back whole by
// name, which is a lookup by _id on every store.
func (s *Store) PutBlob(ctx context.Context, name string, data []byte, now time.Time) error {
	if len(data) > maxBlob {
		return fmt.Errorf("put blob %s: %d bytes is over the %d byte limit", name, len(data), maxBlob)
	}
	for _, c := range []string{blobCollection, blobTimes} {
		if err := s.ensure(ctx, c); err != nil {
			return fmt.Errorf("put blob %s: %w", name, err)
		}
	}
	b, err := compress(data)
	if err != nil {
		return fmt.Errorf("put blob %s: %w", name, err)
	}
	d := blobDoc{Name: name, B: b, TS: now.UTC().Truncate(time.Millisecond)}
	upsert := options.Replace().SetUpsert(true)
	key := bson.D{{Key: "_id", Value: name}}
	if _, err = s.db.Collection(blobCollection).ReplaceOne(ctx, key, d, upsert); err != nil {
		return fmt.Errorf("put blob %s: %w", name, err)
	}
	// The time goes second: a reader that sees it finds the data too.
	if _, err = s.db.Collection(blobTimes).ReplaceOne(ctx, key, bson.D{{Key: "ts", Value: d.TS}}, upsert); err != nil {
		return fmt.Errorf("put blob %s: %w", name, err)
	}
	return nil
}

// BlobTime returns when the blob name was stored; the error wraps
// resource.ErrNotFound when there is none. It reads a small document, so
// a cache can check cheaply whether its copy is current.
func (s *Store) BlobTime(ctx context.Context, name string) (time.Time, error) {
	var d struct {
		TS time.Time `bson:"ts"`
	}
	err := s.db.Collection(blobTimes).FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return time.Time{}, fmt.Errorf("blob %s: %w", name, resource.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("blob %s: %w", name, err)
	}
	return d.TS.UTC(), nil
}

// GetBlob returns the data stored under name and when it was stored; the
// error wraps resource.ErrNotFound when there is none.
func (s *Store) GetBlob(ctx context.Context, name string) ([]byte, time.Time, error) {
	var d blobDoc
	err := s.db.Collection(blobCollection).FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, time.Time{}, fmt.Errorf("blob %s: %w", name, resource.ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("blob %s: %w", name, err)
	}
	data, err := decompress(d.B)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("blob %s: %w", name, err)
	}
	return data, d.TS.UTC(), nil
}
