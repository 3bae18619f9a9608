package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// DefaultDatabase is the database used when [Config.Database] is empty.
const DefaultDatabase = "fhirbill"

// recoverAge is how old a journal must be before it is rolled back as
// abandoned: a younger one may belong to a group another replica is still
// writing. It is above groupTimeout+undoTimeout (see group.go).
const recoverAge = 2 * time.Minute

// Config says where the store keeps its data.
type Config struct {
	// URI is a MongoDB connection string. Empty starts an embedded FerretDB.
	URI string
	// Database is the database name; empty means [DefaultDatabase].
	Database string
	// DataDir holds the embedded store's files, in DataDir/ferretdb. It is
	// required when URI is empty and ignored otherwise. One open Store at a
	// time may use it: [Open] takes an exclusive lock on
	// DataDir/fhirbill.lock, released by [Store.Close], and fails with
	// a [DataDirInUseError] while another holds it.
	DataDir string
	// Logger receives the store's logs and the embedded server's warnings
	// and errors. Nil discards them.
	Logger *slog.Logger
}

// Store keeps FHIR resources, their history and their search values in
// one MongoDB database. It is safe for concurrent use.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	log    *slog.Logger

	// ferret is set when the server is FerretDB v1, embedded or not: its
	// queries avoid what FerretDB v1 cannot run or runs as a scan.
	ferret bool
	// packed selects the layout for a server that scans every query other
	// than {_id: value}, decoding each document (FerretDB v1): search keys
	// packed into one string (see packed.go), versions read back one
	// lookup at a time, no indexes for search parameters, which such a
	// server would only maintain. It is set with ferret.
	packed bool

	// The embedded server, when there is one.
	fdb       *ferretdb.FerretDB
	stopFDB   context.CancelFunc
	fdbDone   chan struct{}
	sqlPath   string
	unlockDir func() error // releases the data directory's lock

	mu      sync.Mutex
	closed  bool
	ensured map[string]bool // embedded collections with their _id index
	sqlDB   *sql.DB

	// locks serialize compare-and-swap steps per resource on FerretDB,
	// which reads and then writes an update in two steps.
	locks [64]sync.Mutex

	recovering map[string]bool // journals being rolled back as abandoned, under mu

	bg background // rollbacks that outlive a request (journal.go)
}

// Open connects to the database cfg names, starting an embedded FerretDB
// first when cfg.URI is empty, and rolls back the groups of writes that
// were left unfinished (see [Store.PutAll]): on MongoDB those older than
// two minutes, on the embedded store, which one process uses at a time,
// all of them. A failure to roll back is logged, never fatal: the groups
// concerned stay pending for a later attempt. While open, the store
// sweeps every minute for groups left unfinished for two minutes, and
// retries in the background the rollbacks of its own groups that did not
// finish (journal.go); Close stops both.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{log: log, ensured: map[string]bool{}, recovering: map[string]bool{}}

	uri := cfg.URI
	if uri == "" {
		if err := s.startEmbedded(cfg.DataDir, cfg.Database); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		uri = s.fdb.MongoDBURI()
	}

	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", errors.Join(err, s.stopEmbedded()))
	}
	s.client = client
	s.db = client.Database(cfg.Database)

	if err := s.Ping(ctx); err != nil {
		_ = s.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("open store: %w", err)
	}
	if s.ferret, err = s.isFerretDB(ctx); err != nil {
		_ = s.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.packed = s.ferret
	if s.Embedded() {
		if err := s.ensureExisting(ctx); err != nil {
			_ = s.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	age := recoverAge
	if s.Embedded() {
		age = 0
	}
	n, err := s.Recover(ctx, age)
	if err != nil {
		log.ErrorContext(ctx, "recover groups failed", slog.Any("err", err))
	}
	s.startBackground()

	log.InfoContext(ctx, "store opened",
		slog.Bool("embedded", s.Embedded()),
		slog.Bool("ferretdb", s.ferret),
		slog.String("database", cfg.Database),
		slog.Int("groups_rolled_back", n))
	return s, nil
}

// Close disconnects from the database, then stops the embedded server,
// waits for it to finish and releases its data directory. Calls after the
// first do nothing.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	s.stopBackground()
	err := s.client.Disconnect(ctx)

	s.mu.Lock()
	if s.sqlDB != nil {
		err = errors.Join(err, s.sqlDB.Close())
		s.sqlDB = nil
	}
	s.mu.Unlock()

	err = errors.Join(err, s.stopEmbedded())
	if err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// Embedded reports whether the store runs on the embedded FerretDB.
func (s *Store) Embedded() bool {
	return s.fdb != nil
}

// isFerretDB reports whether the server is FerretDB, which says so in
// buildInfo.
func (s *Store) isFerretDB(ctx context.Context) (bool, error) {
	raw, err := s.db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err != nil {
		return false, fmt.Errorf("build info: %w", err)
	}
	_, err = raw.LookupErr("ferretdbVersion")
	return err == nil, nil
}

// lock returns the mutex guarding compare-and-swap steps on one resource.
func (s *Store) lock(coll, id string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(coll))
	_, _ = h.Write([]byte{'/'})
	_, _ = h.Write([]byte(id))
	return &s.locks[h.Sum32()%uint32(len(s.locks))]
}

// DatabaseName derives a database name from a test name: letters, digits
// and underscores, under 64 bytes, made unique by a short hash of the
// whole name. Tests use it to get a database of their own.
func DatabaseName(testName string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(testName))

	var b strings.Builder
	b.WriteString("t_")
	for _, r := range testName {
		if b.Len() >= 48 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("%s_%08x", b.String(), h.Sum32())
}

// isDup reports whether err is a duplicate-key error.
func isDup(err error) bool {
	return err != nil && mongo.IsDuplicateKeyError(err)
}

// hasCode reports whether err is a server error with the given code.
func hasCode(err error, code int) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(code)
}
