package smart

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"golang.org/x/time/rate"

	"github.com/fhirbill/fhirbill/fhir/search"
)

// Algorithms are the only signing algorithms accepted, on bearer tokens
// and on client assertions; none and HS* never are.
var Algorithms = []string{"RS256", "RS384", "ES256", "ES384"}

// leeway is the clock skew allowed on exp, nbf and iat.
const leeway = 30 * time.Second

// MaxTokenTTL is the longest lifetime of a token the built-in endpoint
// issues (backend-services.html recommends five minutes).
const MaxTokenTTL = time.Hour

// ReplayStore remembers keys used once; *store.Store implements it.
type ReplayStore interface {
	// UseOnce records key until expires; an error wrapping
	// resource.ErrConflict when it is already recorded.
	UseOnce(ctx context.Context, key string, expires, now time.Time) error
}

// External is an external authorization server, any OpenID Connect
// server issuing SMART scopes, whose access tokens are accepted beside the
// built-in issuer's. User-facing SMART apps get their tokens there.
type External struct {
	// Issuer is the iss of its tokens.
	Issuer string `json:"issuer"`
	// JWKSURL is where its signing keys are published.
	JWKSURL string `json:"jwks_url"`
	// AuthorizeURL and TokenURL are its endpoints; when both are set the
	// smart-configuration advertises them to apps (with Capabilities and
	// GrantTypes) instead of the built-in endpoint.
	AuthorizeURL string `json:"authorize_url,omitempty"`
	TokenURL     string `json:"token_url,omitempty"`
	// Capabilities are the SMART capabilities of the server
	// (conformance.html#capabilities) besides the permission-* ones
	// fhirbill itself has; [DefaultExternalCapabilities] when empty.
	Capabilities []string `json:"capabilities,omitempty"`
	// GrantTypes are the grant types its token endpoint takes;
	// authorization_code when empty.
	GrantTypes []string `json:"grant_types,omitempty"`
	// Insurers maps the client ids of its tokens (client_id, else azp)
	// to insurer Organizations, as [Client.Insurer] does.
	Insurers map[string]string `json:"insurers,omitempty"`
}

// DefaultExternalCapabilities are the capabilities advertised for an
// external server whose configuration names none: a standalone launch
// with a patient picked at launch, public and secret-holding apps, and
// OpenID Connect single sign-on.
var DefaultExternalCapabilities = []string{
	"launch-standalone", "context-standalone-patient", "client-public",
	"client-confidential-symmetric", "sso-openid-connect",
}

// Config configures a [Server].
type Config struct {
	// Base is the FHIR base URL: the built-in token issuer, the default
	// audience, and where the endpoints are served.
	Base string
	// Audience is the aud bearer tokens must carry; Base when empty.
	Audience string
	// External is an external authorization server; nil for none.
	External *External
	// Clients are the backend-services clients the built-in token
	// endpoint serves.
	Clients []Client
	// SigningKey signs the tokens the built-in issuer issues (ECDSA
	// P-256 or P-384, or RSA of 2048 bits or more). Nil: a P-256 key is
	// generated, and its tokens are valid only on this process.
	SigningKey crypto.Signer
	// TokenTTL is the lifetime of issued tokens; 5 minutes when zero, at
	// most [MaxTokenTTL].
	TokenTTL time.Duration
	// Replay remembers assertion jti values; required for the token
	// endpoint.
	Replay ReplayStore
	// Registry gives the search parameters of compartment and scope
	// filters.
	Registry *search.Registry
	// RefreshUnknownKID bounds how often an unknown kid refetches a JWKS;
	// once a minute per JWKS URL when nil.
	RefreshUnknownKID *rate.Limiter
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Server checks tokens and issues them. It implements rest.Authorizer.
type Server struct {
	cfg      Config
	base     string
	audience string
	ext      keyfunc.Keyfunc // nil without an external issuer
	insurers map[string]string
	key      crypto.Signer
	alg      string
	kid      string
	jwks     []byte
	clients  map[string]*client
	log      *slog.Logger
}

// New builds a Server. It starts the JWKS fetching of the external issuer
// and of clients registered by URL; ctx ends it. A JWKS URL that does not
// answer yet is no error: it is fetched again on use.
func New(ctx context.Context, cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, base: strings.TrimSuffix(cfg.Base, "/"), log: cfg.Logger, clients: map[string]*client{}}
	if s.base == "" || cfg.Registry == nil {
		return nil, errors.New("smart: base URL and search registry are required")
	}
	s.audience = cmpOr(cfg.Audience, s.base)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	switch {
	case s.cfg.TokenTTL == 0:
		s.cfg.TokenTTL = 5 * time.Minute
	case s.cfg.TokenTTL < time.Second || s.cfg.TokenTTL > MaxTokenTTL:
		return nil, fmt.Errorf("smart: token lifetime must be between 1s and %s", MaxTokenTTL)
	}
	if err := s.setExternal(ctx, cfg.External); err != nil {
		return nil, err
	}
	if err := s.setKey(cfg.SigningKey); err != nil {
		return nil, err
	}
	if len(cfg.Clients) > 0 && cfg.Replay == nil {
		return nil, errors.New("smart: the token endpoint needs a replay store")
	}
	for _, c := range cfg.Clients {
		if err := s.addClient(ctx, c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// setExternal checks and starts the external issuer, if any.
func (s *Server) setExternal(ctx context.Context, ext *External) error {
	if ext == nil {
		return nil
	}
	if ext.Issuer == "" || ext.JWKSURL == "" {
		return errors.New("smart: an external issuer needs both issuer and jwks_url")
	}
	if strings.TrimSuffix(ext.Issuer, "/") == s.base {
		return errors.New("smart: the external issuer must differ from the base URL, the built-in issuer")
	}
	for name, u := range map[string]string{"jwks_url": ext.JWKSURL, "authorize_url": ext.AuthorizeURL, "token_url": ext.TokenURL} {
		if u == "" {
			continue
		}
		if err := checkKeyURL(u); err != nil {
			return fmt.Errorf("smart: external issuer %s: %w", name, err)
		}
	}
	if (ext.AuthorizeURL == "") != (ext.TokenURL == "") {
		return errors.New("smart: the external issuer needs both authorize_url and token_url, or neither")
	}
	s.insurers = map[string]string{}
	for id, org := range ext.Insurers {
		ref, err := insurerRef(org)
		if err != nil {
			return fmt.Errorf("smart: external issuer insurers[%q]: %w", id, err)
		}
		s.insurers[id] = ref
	}
	kf, err := s.remoteKeys(ctx, ext.JWKSURL, time.Hour)
	if err != nil {
		return fmt.Errorf("smart: external issuer JWKS: %w", err)
	}
	s.ext = kf
	return nil
}

// remoteKeys fetches and caches a JWKS, refetching it every refresh and
// on an unknown kid at a bounded rate.
func (s *Server) remoteKeys(ctx context.Context, u string, refresh time.Duration) (keyfunc.Keyfunc, error) {
	lim := s.cfg.RefreshUnknownKID
	if lim == nil {
		lim = rate.NewLimiter(rate.Every(time.Minute), 1)
	}
	return keyfunc.NewDefaultOverrideCtx(ctx, []string{u}, keyfunc.Override{
		RefreshInterval:   refresh,
		RefreshUnknownKID: lim,
		RateLimitWaitMax:  time.Second,
		HTTPTimeout:       10 * time.Second,
		RefreshErrorHandlerFunc: func(u string) func(ctx context.Context, err error) {
			return func(ctx context.Context, err error) {
				s.log.WarnContext(ctx, "jwks refresh failed", "jwks_url", u, "err", err)
			}
		},
	})
}

// checkKeyURL accepts an absolute https URL, or http on a loopback host
// (a key set fetched in the clear could be swapped on the way).
func checkKeyURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("want an absolute https URL")
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return errors.New("want https (http only on localhost)")
	}
	return nil
}

func loopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

// Issuer returns the iss of the built-in issuer's tokens: the base URL.
func (s *Server) Issuer() string { return s.base }

// KeyID returns the kid of the built-in issuer's signing key, a hash of
// its public half, for logs.
func (s *Server) KeyID() string { return s.kid }

// Clients returns the number of registered backend-services clients.
func (s *Server) Clients() int { return len(s.clients) }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
