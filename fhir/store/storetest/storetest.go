// Package storetest starts a [store.Store] for a test: on MongoDB when the
// environment variable MONGODB_URI is set, else on an embedded FerretDB in
// a temporary directory. Each test gets a database of its own, named by
// [store.DatabaseName], which is dropped when the test ends unless it
// failed (its name, or directory, is then logged for inspection).
//
// It is for tests only; it must not be imported by non-test code.
package storetest

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/fhirbill/fhirbill/fhir/store"
)

// URIEnv is the environment variable naming a MongoDB to test against.
const URIEnv = "MONGODB_URI"

// New returns an open store with a fresh database for t, closed when the
// test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	return Open(t, Config(t))
}

// Config returns the configuration of a fresh database for t, so that a
// test can open, close and reopen the same data. The database (or, for
// the embedded store, its directory) is removed when the test ends,
// unless the test failed.
func Config(t testing.TB) store.Config {
	t.Helper()
	cfg := store.Config{
		URI:      os.Getenv(URIEnv),
		Database: store.DatabaseName(t.Name()),
		Logger:   Logger(t),
	}

	if cfg.URI == "" {
		dir, err := os.MkdirTemp("", "fhirbill-store-")
		if err != nil {
			t.Fatal(err)
		}
		cfg.DataDir = dir
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("kept embedded store of failed test in %s", dir)
				return
			}
			_ = os.RemoveAll(dir)
		})
		return cfg
	}

	drop(t, cfg) // left over by an earlier failed run
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept database %s of failed test", cfg.Database)
			return
		}
		drop(t, cfg)
	})
	return cfg
}

// Open opens a store with cfg and closes it when the test ends.
func Open(t testing.TB, cfg store.Config) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			if err := s.Close(context.Background()); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
	})
	return s
}

// drop drops the database of cfg on MongoDB.
func drop(t testing.TB, cfg store.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := mongo.Connect(options.Client().ApplyURI(cfg.URI))
	if err != nil {
		t.Errorf("drop database %s: %v", cfg.Database, err)
		return
	}
	defer func() { _ = c.Disconnect(ctx) }()
	if err := c.Database(cfg.Database).Drop(ctx); err != nil {
		t.Errorf("drop database %s: %v", cfg.Database, err)
	}
}

// Logger returns a logger writing to the test log, at Warn and above.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// logWriter writes log lines to the test log.
type logWriter struct {
	t testing.TB
}

// Write logs p as one line.
func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
