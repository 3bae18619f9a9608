package store

// FerretDB v1.24.2 with the SQLite backend sends only a filter that is
// exactly {_id: <string>} to SQLite, as
// WHERE _ferretdb_sjson->'$._id' = ?; its own unique _id index is on
// another expression (_ferretdb_sjson->"_id"), so even that lookup scans the
// table. For every collection the store uses, we add a unique index on the
// very expression FerretDB queries, through the same SQLite file. FerretDB
// does not know about it, so it must be added to every collection FerretDB
// creates: before the first write to a collection, and at Open for the
// collections already there.
// See internal/backends/sqlite/collection.go and metadata/registry.go in
// FerretDB v1.24.2.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/gofrs/flock"

	_ "modernc.org/sqlite" // the SQLite driver FerretDB uses too
)

// codeNamespaceExists is the server error code of createCollection when the
// collection exists.
const codeNamespaceExists = 48

// DataDirInUseError is returned by [Open] when another process, or another
// open [Store] of this one, holds the embedded store's data directory.
type DataDirInUseError struct {
	Dir string // the data directory, absolute
}

func (e *DataDirInUseError) Error() string {
	return "embedded store: data directory " + e.Dir + " is in use by another fhirbill process; " +
		"stop it, or point this command at the running server's API"
}

// lockFile is the file, in the data directory, that the embedded store
// holds an exclusive lock on while it is open. It stays when the store
// closes: removing it would let a second process lock a new file while a
// third still holds the old one.
const lockFile = "fhirbill.lock"

// LockDataDir makes dataDir and takes the exclusive lock the embedded
// store holds on it while open, without waiting, failing with a
// [DataDirInUseError] while another holds it; release gives it back. The
// embedded store rolls back every journal it finds at [Open] and
// serializes its compare-and-swap steps within the process, so a second
// process on the same files could undo the first one's writes. Commands
// that remove a data directory take the lock first.
func LockDataDir(dataDir string) (release func() error, err error) {
	if dataDir, err = filepath.Abs(dataDir); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	l := flock.New(filepath.Join(dataDir, lockFile))
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("embedded store: lock data directory %s: %w", dataDir, err)
	}
	if !ok {
		return nil, &DataDirInUseError{Dir: dataDir}
	}
	return l.Close, nil
}

// startEmbedded locks dataDir and starts FerretDB on an ephemeral local
// port, with its SQLite files in dataDir/ferretdb.
func (s *Store) startEmbedded(dataDir, database string) (err error) {
	if dataDir == "" {
		return errors.New("embedded store: no data directory")
	}
	release, err := LockDataDir(dataDir)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = release()
		}
	}()
	dir, err := filepath.Abs(filepath.Join(dataDir, "ferretdb"))
	if err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: (&url.URL{Scheme: "file", Path: dir + "/"}).String(),
		Logger:    slog.New(serverLogHandler{s.log.Handler()}),
	})
	if err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx) // it only returns nil, once ctx ends
	}()

	s.fdb, s.stopFDB, s.fdbDone = f, cancel, done
	s.sqlPath = filepath.Join(dir, database+".sqlite")
	s.unlockDir = release
	return nil
}

// stopEmbedded stops the embedded server, if any, waits for it, and
// releases the data directory.
func (s *Store) stopEmbedded() error {
	if s.fdb == nil {
		return nil
	}
	s.stopFDB()
	<-s.fdbDone
	if err := s.unlockDir(); err != nil {
		return fmt.Errorf("unlock data directory: %w", err)
	}
	return nil
}

// ensure makes sure, on the embedded store, that the collections exist and
// have their _id index. It does nothing on MongoDB, which creates
// collections on first write.
func (s *Store) ensure(ctx context.Context, colls ...string) error {
	if !s.Embedded() {
		return nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	for _, c := range colls {
		if s.ensured[c] {
			continue
		}
		table, err := s.tableName(ctx, c)
		if err != nil {
			return fmt.Errorf("ensure collection %s: %w", c, err)
		}
		if table == "" {
			err := s.db.CreateCollection(ctx, c)
			if err != nil && !hasCode(err, codeNamespaceExists) {
				return fmt.Errorf("ensure collection %s: %w", c, err)
			}
			if table, err = s.tableName(ctx, c); err != nil {
				return fmt.Errorf("ensure collection %s: %w", c, err)
			}
		}
		if err := s.indexID(ctx, table); err != nil {
			return fmt.Errorf("ensure collection %s: %w", c, err)
		}
		s.ensured[c] = true
	}
	return nil
}

// ensureExisting adds the _id index to every collection of the embedded
// database, for data written before this process started.
func (s *Store) ensureExisting(ctx context.Context) error {
	if _, err := os.Stat(s.sqlPath); errors.Is(err, os.ErrNotExist) {
		return nil // FerretDB creates the file with the first collection
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	db, err := s.sqlite()
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT name, table_name FROM _ferretdb_collections`)
	if err != nil {
		return fmt.Errorf("list embedded collections: %w", err)
	}
	tables := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			_ = rows.Close()
			return fmt.Errorf("list embedded collections: %w", err)
		}
		tables[name] = table
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("list embedded collections: %w", err)
	}

	for name, table := range tables {
		if err := s.indexID(ctx, table); err != nil {
			return fmt.Errorf("ensure collection %s: %w", name, err)
		}
		s.ensured[name] = true
	}
	return nil
}

// tableName returns the SQLite table of an embedded collection, or "" when
// the collection does not exist. The caller holds s.mu.
func (s *Store) tableName(ctx context.Context, coll string) (string, error) {
	if _, err := os.Stat(s.sqlPath); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	db, err := s.sqlite()
	if err != nil {
		return "", err
	}
	var table string
	err = db.QueryRowContext(ctx,
		`SELECT table_name FROM _ferretdb_collections WHERE name = ?`, coll).Scan(&table)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return table, err
}

// indexID creates the unique index on the _id expression FerretDB queries.
// The caller holds s.mu.
func (s *Store) indexID(ctx context.Context, table string) error {
	db, err := s.sqlite()
	if err != nil {
		return err
	}
	q := fmt.Sprintf(`CREATE UNIQUE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`,
		table+"_fhirbill_id", table)
	_, err = db.ExecContext(ctx, q)
	return err
}

// sqlite returns a connection to the embedded database file, opened on
// first use without creating the file. The caller holds s.mu.
func (s *Store) sqlite() (*sql.DB, error) {
	if s.sqlDB != nil {
		return s.sqlDB, nil
	}
	db, err := sql.Open("sqlite", "file:"+s.sqlPath+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open embedded database file: %w", err)
	}
	db.SetMaxOpenConns(1)
	s.sqlDB = db
	return db, nil
}

// serverLogHandler passes the embedded server's warnings and errors on,
// except its dumps of wire messages, which may hold resource content.
type serverLogHandler struct {
	h slog.Handler
}

// Enabled reports whether a record of that level is passed on.
func (h serverLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.h.Enabled(ctx, l)
}

// Handle passes the record on unless it dumps a wire message.
func (h serverLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "Response header") ||
		strings.Contains(r.Message, "Response message") {
		return nil
	}
	return h.h.Handle(ctx, r)
}

// WithAttrs returns a handler adding attrs.
func (h serverLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return serverLogHandler{h.h.WithAttrs(attrs)}
}

// WithGroup returns a handler with a group.
func (h serverLogHandler) WithGroup(name string) slog.Handler {
	return serverLogHandler{h.h.WithGroup(name)}
}
