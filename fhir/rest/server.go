package rest

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// Store is what the REST layer needs from persistence; *store.Store
// implements it.
type Store interface {
	Read(ctx context.Context, typ, id string) (*store.Record, error)
	ReadVersion(ctx context.Context, typ, id string, version int64) (*store.Record, error)
	Put(ctx context.Context, w store.Write) error
	PutAll(ctx context.Context, ws []store.Write) error
	History(ctx context.Context, typ, id string, p store.Page) ([]*store.Record, int, error)
	Search(ctx context.Context, q *search.Query) ([]*store.Record, bool, error)
	Count(ctx context.Context, q *search.Query) (int, error)
	Ping(ctx context.Context) error
}

// Config configures a Server.
type Config struct {
	// Base is the public base URL of the FHIR API, e.g.
	// "http://localhost:8080/fhir". Its path is where the API is mounted.
	Base string
	// MaxBody is the largest request body accepted, in bytes (default 16 MiB).
	MaxBody int64
	// MaxEntries is the most entries a batch or transaction Bundle may
	// hold (default [DefaultMaxEntries]).
	MaxEntries int
	// Logger receives request and fault logs; never resource content.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Version is the software version shown in the CapabilityStatement.
	Version string
	// Authorizer checks every request's credentials (see access.go). Nil
	// turns authorization off: every request is served, and the
	// CapabilityStatement says so.
	Authorizer Authorizer
	// Security is the JSON of CapabilityStatement.rest.security that
	// describes the Authorizer (SMART's oauth-uris); nil for none.
	Security []byte
	// OnCommit, when set, is told of every client write stored (see
	// [CommitHook]); [Server.AddCommitHook] adds more.
	OnCommit CommitHook
}

// DefaultMaxEntries is the most entries of a batch or transaction when
// [Config.MaxEntries] is 0. A transaction's writes are stored as one group
// within the store's time bound for groups (a minute), and undone within
// its bound for rollbacks; a thousand entries take a few seconds on the
// embedded store, tens of thousands took longer than both.
const DefaultMaxEntries = 1000

// Server is the FHIR REST API.
type Server struct {
	store   Store
	reg     *search.Registry
	base    string // without trailing slash
	maxBody int64
	maxEnts int
	logger  *slog.Logger
	now     func() time.Time
	version string
	started time.Time
	ops     map[string]*Operation
	checks  map[string]WriteCheck
	// createChecks vet clients' creates by type.
	createChecks map[string]CreateCheck
	echo         *echo.Echo
	prefix       string              // path of the base URL
	allowed      map[string][]string // route path → the methods it serves, for Allow
	auth         Authorizer
	secJSON      []byte

	onCommit []CommitHook
	// patientReadOnly lists the types no caller in a patient's launch
	// context writes ([Server.RegisterReadOnlyForPatients]).
	patientReadOnly map[string]bool
}

// New builds a Server and its routes.
func New(st Store, reg *search.Registry, cfg Config) (*Server, error) {
	u, err := url.Parse(cfg.Base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, &configError{"base URL must be absolute, e.g. http://localhost:8080/fhir"}
	}
	s := &Server{
		store:        st,
		reg:          reg,
		base:         strings.TrimSuffix(cfg.Base, "/"),
		maxBody:      cfg.MaxBody,
		maxEnts:      cfg.MaxEntries,
		logger:       cfg.Logger,
		now:          cfg.Now,
		version:      cfg.Version,
		ops:          make(map[string]*Operation),
		checks:       make(map[string]WriteCheck),
		createChecks: make(map[string]CreateCheck),
	}
	if s.maxBody <= 0 {
		s.maxBody = 16 << 20
	}
	if s.maxEnts <= 0 {
		s.maxEnts = DefaultMaxEntries
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.version == "" {
		s.version = "dev"
	}
	s.auth, s.secJSON = cfg.Authorizer, cfg.Security
	if cfg.OnCommit != nil {
		s.onCommit = append(s.onCommit, cfg.OnCommit)
	}
	s.started = s.clock()
	s.prefix = strings.TrimSuffix(u.Path, "/")
	s.echo = s.routes(s.prefix)
	return s, nil
}

type configError struct{ msg string }

func (e *configError) Error() string { return "rest: " + e.msg }

// Handler returns the HTTP handler serving the API, /healthz and /readyz.
func (s *Server) Handler() http.Handler { return s.echo }

// Base returns the public base URL, without a trailing slash.
func (s *Server) Base() string { return s.base }

// clock returns the current time in UTC at the millisecond precision the
// store keeps.
func (s *Server) clock() time.Time {
	return s.now().UTC().Truncate(time.Millisecond)
}

// newID returns a random logical id: 26 base32 characters, 130 bits.
func newID() string { return rand.Text() }
