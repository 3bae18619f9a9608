package ehr

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// Records is where pulled resources are read and stored, with the same
// validation and versioning as the REST API; *rest.Server implements it.
type Records interface {
	ReadResource(ctx context.Context, typ, id string) (*resource.Resource, int64, error)
	Commit(ctx context.Context, changes []rest.Change) ([]*store.Record, error)
}

// State keeps each connection's watermark and the lease that lets one
// replica pull a given EHR at a time; *store.Store implements it.
type State interface {
	PutBlob(ctx context.Context, name string, data []byte, now time.Time) error
	GetBlob(ctx context.Context, name string) ([]byte, time.Time, error)
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// BillFunc bills a finished Encounter stored under encounterID. cmd/fhirbill
// wires it to the billing engine, which this package must not import.
type BillFunc func(ctx context.Context, encounterID string) error

// ErrBusy: another replica (or another sync in this one) holds the
// connection's lease.
var ErrBusy = errors.New("ehr: a sync of this connection is already running")

// ErrUnknown: no connection has that name.
var ErrUnknown = errors.New("ehr: no such connection")

// Config configures a [Syncer].
type Config struct {
	Connections []*Connection
	Records     Records
	State       State
	// Bill, when set, bills each finished Encounter a sync stores.
	Bill BillFunc
	// Logger gets ids and counts, never resource content, keys or tokens.
	Logger *slog.Logger
	// HTTPClient sends the requests to EHRs; its redirects are turned off.
	HTTPClient *http.Client
	Retry      Retry
	// LeaseTTL is how long a lease lasts unless renewed (default 2 min);
	// it is renewed after every page.
	LeaseTTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Syncer pulls from the configured EHRs. It is safe for concurrent use.
type Syncer struct {
	conns   map[string]*Connection
	names   []string
	tokens  map[string]*TokenSource
	fetch   *fetcher
	records Records
	state   State
	bill    BillFunc
	log     *slog.Logger
	ttl     time.Duration
	now     func() time.Time
}

// NewSyncer returns a Syncer for cfg's connections.
func NewSyncer(cfg Config) (*Syncer, error) {
	if cfg.Records == nil || cfg.State == nil {
		return nil, errors.New("ehr: a Syncer needs Records and State")
	}
	s := &Syncer{
		conns:   map[string]*Connection{},
		tokens:  map[string]*TokenSource{},
		records: cfg.Records,
		state:   cfg.State,
		bill:    cfg.Bill,
		log:     cfg.Logger,
		ttl:     cfg.LeaseTTL,
		now:     cfg.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.fetch = newFetcher(cfg.HTTPClient, cfg.Retry, s.log)
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = 2 * time.Minute
	}
	for _, c := range cfg.Connections {
		if _, dup := s.conns[c.Name]; dup {
			return nil, fmt.Errorf("ehr: connection %q configured twice", c.Name)
		}
		s.conns[c.Name] = c
		s.names = append(s.names, c.Name)
		s.tokens[c.Name] = &TokenSource{conn: c, http: s.fetch, now: s.now, log: s.log}
	}
	sort.Strings(s.names)
	return s, nil
}

// Connections lists the connection names, sorted.
func (s *Syncer) Connections() []string { return s.names }

// Connection returns the named connection, or nil.
func (s *Syncer) Connection(name string) *Connection { return s.conns[name] }

// Tokens returns the token source of the named connection, or nil.
func (s *Syncer) Tokens(name string) *TokenSource { return s.tokens[name] }

// Sync runs one pass of the named connection: every Encounter updated at
// the EHR since its watermark, with its Conditions and Procedures, its
// Patient and their Coverage, and the Organizations, Locations and
// Practitioners (rendering providers) billing reads. progress, when not nil, is called after
// each page. The summary is returned with the error, too: what was
// stored before a failure stays stored, and the next sync resumes there.
// It fails with [ErrBusy] when the lease is held elsewhere.
func (s *Syncer) Sync(ctx context.Context, name string, progress func(Summary)) (*Summary, error) {
	conn := s.conns[name]
	if conn == nil {
		return nil, fmt.Errorf("sync %s: %w", name, ErrUnknown)
	}
	lease, holder := "ehr-sync/"+name, rand.Text()
	ok, err := s.state.AcquireLease(ctx, lease, holder, s.ttl, s.now())
	if err != nil {
		return nil, fmt.Errorf("sync %s: %w", name, err)
	}
	if !ok {
		return nil, fmt.Errorf("sync %s: %w", name, ErrBusy)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.state.ReleaseLease(rctx, lease, holder); err != nil {
			s.log.WarnContext(ctx, "ehr lease not released", "ehr", name, "err", err)
		}
	}()

	r := &run{
		s: s, conn: conn, tokens: s.tokens[name], lease: lease, holder: holder,
		sum:      &Summary{Connection: name, Pulled: map[string]int{}},
		fetched:  map[string]bool{},
		got:      map[string]bool{},
		progress: progress,
	}
	start := s.now()
	err = r.pull(ctx)
	r.sum.Duration = s.now().Sub(start)
	attrs := append(r.sum.logAttrs(), slog.String("ehr", name))
	if err != nil {
		s.log.ErrorContext(ctx, "ehr sync failed", append(attrs, slog.Any("err", err))...)
		return r.sum, fmt.Errorf("sync %s: %w", name, err)
	}
	s.log.InfoContext(ctx, "ehr sync finished", attrs...)
	return r.sum, nil
}
