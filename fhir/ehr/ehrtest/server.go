package ehrtest

import (
	"crypto"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Client is a backend-services client registered at the EHR.
type Client struct {
	ID string
	// Key is the client's public key (*rsa.PublicKey or *ecdsa.PublicKey).
	Key crypto.PublicKey
	// KeyID, when set, must be the kid of the client's assertions.
	KeyID string
	// Scopes are the scopes the client may be granted, e.g.
	// "system/*.read"; empty allows every system/*.read scope.
	Scopes []string
}

// Server is the test EHR. Its methods are safe for concurrent use.
type Server struct {
	mu        sync.Mutex
	url       string // scheme://host:port, no trailing slash
	clients   map[string]*Client
	jtis      map[string]time.Time
	tokens    map[string]*token
	data      map[string]map[string]*stored // type → id → resource
	lastStamp time.Time
	faults    faults
	requests  []Request
	issued    []string // tokens issued, for tests that look for leaks
	seenJWTs  []string // assertions received, likewise
	tokenTTL  time.Duration
	log       *slog.Logger
	now       func() time.Time
	mux       *http.ServeMux
}

// Request is one FHIR request the EHR answered.
type Request struct {
	At     time.Time
	Method string
	Path   string // with the query
	Status int
}

// New returns an empty EHR. Set its URL with [Server.SetURL] before
// serving: the token endpoint's audience and the links in Bundles use it.
func New(logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		clients:  map[string]*Client{},
		jtis:     map[string]time.Time{},
		tokens:   map[string]*token{},
		data:     map[string]map[string]*stored{},
		tokenTTL: 5 * time.Minute,
		log:      logger,
		now:      time.Now,
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /fhir/.well-known/smart-configuration", s.handleSmartConfig)
	s.mux.HandleFunc("POST /auth/token", s.handleToken)
	s.mux.HandleFunc("GET /fhir/metadata", s.handleMetadata)
	s.mux.HandleFunc("GET /fhir/{type}", s.fhir(s.handleSearch))
	s.mux.HandleFunc("GET /fhir/{type}/{id}", s.fhir(s.handleRead))
	return s
}

// SetURL sets the URL the EHR is reached at, e.g. http://127.0.0.1:9090.
func (s *Server) SetURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.url = strings.TrimSuffix(u, "/")
}

// Base is the FHIR base URL: [URL]/fhir.
func (s *Server) Base() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url + "/fhir"
}

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url + "/auth/token"
}

// Handler serves the EHR.
func (s *Server) Handler() http.Handler { return s.mux }

// RegisterClient registers (or replaces) a client.
func (s *Server) RegisterClient(c Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = &c
}

// SetTokenTTL sets the expires_in of new tokens (default 5 min).
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// Requests returns the FHIR requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// TokenRequests counts the tokens issued.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.issued)
}

// Secrets returns every access token issued and every client assertion
// received: what must never appear in a client's logs.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(append([]string(nil), s.issued...), s.seenJWTs...)
}
