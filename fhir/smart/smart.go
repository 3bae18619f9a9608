package smart

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/fhirbill/fhirbill/fhir/search"
)

// Algorithms are the only signing algorithms accepted, on bearer tokens
// and on client assertions; none and HS* never are.
var Algorithms = []string{"RS256", "RS384", "ES256", "ES384"}

// leeway is the clock skew allowed on exp, nbf and iat.
const leeway = 30 * time.Second

// ReplayStore remembers keys used once; *store.Store implements it.
type ReplayStore interface {
	// UseOnce records key until expires; an error wrapping
	// resource.ErrConflict when it is already recorded.
	UseOnce(ctx context.Context, key string, expires, now time.Time) error
}

// Client is a backend-services client registered in configuration
// (https://hl7.org/fhir/smart-app-launch/backend-services.html#registering-a-client-communicating-public-keys).
type Client struct {
	// ID is the client_id.
	ID string `json:"client_id"`
	// JWKSURL is where the client publishes its public keys; or
	JWKSURL string `json:"jwks_url,omitempty"`
	// JWKS holds them inline.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// Scope lists, space-separated, the scopes it may be granted.
	Scope string `json:"scope"`
	// Insurer maps it to an Organization ("Organization/id" or "id"): it
	// then sees only the Claims, ClaimResponses and Coverage naming it.
	Insurer string `json:"insurer,omitempty"`
}

// Config configures a [Server].
type Config struct {
	// Base is the FHIR base URL: the built-in token issuer, the default
	// audience, and where the endpoints are served.
	Base string
	// Audience is the aud bearer tokens must carry; Base when empty.
	Audience string
	// Issuer is an external authorization server's issuer, whose tokens
	// are accepted beside the built-in ones; JWKSURL is its key set.
	Issuer, JWKSURL string
	// AuthorizeURL and TokenURL are the external server's endpoints,
	// advertised to user-facing apps in the smart-configuration.
	AuthorizeURL, TokenURL string
	// Clients are the registered backend-services clients.
	Clients []Client
	// SigningKey signs the tokens the built-in endpoint issues (ECDSA
	// P-256 or P-384, or RSA of 2048 bits or more). Nil: a P-256 key is
	// generated, and tokens are valid only on this process.
	SigningKey crypto.Signer
	// TokenTTL is the lifetime of issued tokens; 5 minutes when zero.
	TokenTTL time.Duration
	// Replay remembers assertion jti values; required for the token
	// endpoint.
	Replay ReplayStore
	// Registry gives the search parameters of compartment and scope
	// filters.
	Registry *search.Registry
	// RefreshUnknownKID bounds how often an unknown kid refetches a JWKS;
	// once a minute when nil.
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
	key      crypto.Signer
	alg      string
	kid      string
	jwks     []byte
	clients  map[string]*client
	log      *slog.Logger
}

type client struct {
	Client
	keys   keyfunc.Keyfunc
	scopes []Scope
}

// New builds a Server. It starts the JWKS fetching of the external issuer
// and of clients registered by URL; ctx ends it.
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
	if s.cfg.TokenTTL <= 0 {
		s.cfg.TokenTTL = 5 * time.Minute
	}
	if (cfg.Issuer == "") != (cfg.JWKSURL == "") {
		return nil, errors.New("smart: an external issuer needs both its issuer and its JWKS URL")
	}
	if cfg.JWKSURL != "" {
		kf, err := s.remoteKeys(ctx, cfg.JWKSURL)
		if err != nil {
			return nil, fmt.Errorf("smart: issuer JWKS: %w", err)
		}
		s.ext = kf
	}
	if err := s.setKey(cfg.SigningKey); err != nil {
		return nil, err
	}
	for _, c := range cfg.Clients {
		if err := s.addClient(ctx, c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// remoteKeys fetches and caches a JWKS, refetching it hourly and on an
// unknown kid at a bounded rate.
func (s *Server) remoteKeys(ctx context.Context, u string) (keyfunc.Keyfunc, error) {
	lim := s.cfg.RefreshUnknownKID
	if lim == nil {
		lim = rate.NewLimiter(rate.Every(time.Minute), 1)
	}
	return keyfunc.NewDefaultOverrideCtx(ctx, []string{u}, keyfunc.Override{
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

func (s *Server) addClient(ctx context.Context, c Client) error {
	if c.ID == "" {
		return errors.New("smart: a client needs a client_id")
	}
	if _, dup := s.clients[c.ID]; dup {
		return fmt.Errorf("smart: client %q registered twice", c.ID)
	}
	cl := &client{Client: c, scopes: ParseScopes(c.Scope)}
	cl.Insurer = insurerRef(c.Insurer)
	var err error
	switch {
	case len(c.JWKS) > 0 && c.JWKSURL != "":
		return fmt.Errorf("smart: client %q: give jwks or jwks_url, not both", c.ID)
	case len(c.JWKS) > 0:
		cl.keys, err = keyfunc.NewJWKSetJSON(c.JWKS)
	case c.JWKSURL != "":
		cl.keys, err = s.remoteKeys(ctx, c.JWKSURL)
	default:
		return fmt.Errorf("smart: client %q needs jwks or jwks_url", c.ID)
	}
	if err != nil {
		return fmt.Errorf("smart: client %q keys: %w", c.ID, err)
	}
	if len(cl.scopes) == 0 {
		return fmt.Errorf("smart: client %q has no clinical scope to grant", c.ID)
	}
	s.clients[c.ID] = cl
	return nil
}

// setKey takes the signing key of the built-in issuer, or makes one.
func (s *Server) setKey(k crypto.Signer) error {
	if k == nil {
		gen, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("smart: generate signing key: %w", err)
		}
		k = gen
	}
	switch pk := k.Public().(type) {
	case *ecdsa.PublicKey:
		switch pk.Curve {
		case elliptic.P256():
			s.alg = "ES256"
		case elliptic.P384():
			s.alg = "ES384"
		default:
			return errors.New("smart: signing key: ECDSA takes P-256 or P-384")
		}
	case *rsa.PublicKey:
		if pk.N.BitLen() < 2048 {
			return errors.New("smart: signing key: RSA needs 2048 bits or more")
		}
		s.alg = "RS256"
	default:
		return errors.New("smart: signing key must be ECDSA or RSA")
	}
	s.key = k
	jwk, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{})
	if err != nil {
		return fmt.Errorf("smart: signing key: %w", err)
	}
	// The kid is a hash of the public key, so a rotated key gets a new one.
	raw, err := json.Marshal(jwk.Marshal())
	if err != nil {
		return fmt.Errorf("smart: signing key: %w", err)
	}
	sum := sha256.Sum256(raw)
	s.kid = base64.RawURLEncoding.EncodeToString(sum[:16])
	jwk, err = jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: s.kid, ALG: jwkset.ALG(s.alg), USE: jwkset.UseSig,
	}})
	if err != nil {
		return fmt.Errorf("smart: signing key: %w", err)
	}
	s.jwks, err = json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	return err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// signingMethod returns the jwt method of the built-in issuer.
func (s *Server) signingMethod() jwt.SigningMethod { return jwt.GetSigningMethod(s.alg) }
