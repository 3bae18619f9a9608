package ehr

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// assertionLifetime is how far ahead a client assertion expires: SMART
// Backend Services allows at most five minutes.
const assertionLifetime = 4 * time.Minute

// assertionType is the client_assertion_type of a JWT assertion (RFC 7523).
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// TokenSource gets access tokens for one connection with the client
// credentials grant and a signed client assertion
// (https://hl7.org/fhir/smart-app-launch/backend-services.html#obtaining-an-access-token),
// and keeps each until shortly before it expires. It is safe for
// concurrent use.
type TokenSource struct {
	conn *Connection
	http *fetcher
	now  func() time.Time
	log  *slog.Logger

	mu       sync.Mutex
	tokenURL string
	token    string
	scope    string
	renewAt  time.Time
	refused  bool // the cached token was dropped after a 401
	renewals int  // tokens asked for after the first
}

// Token returns a current access token, asking for a new one when there
// is none, when the cached one expires or is about to, or when the EHR
// refused it ([TokenSource.Invalidate]). A new token is logged at debug,
// with the reason and a count, never the token.
func (ts *TokenSource) Token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && ts.now().Before(ts.renewAt) {
		return ts.token, nil
	}
	reason := "expiring"
	switch {
	case ts.refused:
		reason = "refused"
	case ts.renewAt.IsZero():
		reason = "none yet"
	}
	if ts.tokenURL == "" {
		u, err := ts.discover(ctx)
		if err != nil {
			return "", err
		}
		ts.tokenURL = u
	}
	tok, err := ts.request(ctx)
	if err != nil {
		return "", err
	}
	ts.refused = false
	renewIn := ts.renewAt.Sub(ts.now()).Round(time.Second).String()
	if reason == "none yet" {
		ts.log.DebugContext(ctx, "ehr token obtained", "ehr", ts.conn.Name, "renew_in", renewIn)
		return tok, nil
	}
	ts.renewals++
	ts.log.DebugContext(ctx, "ehr token renewed", "ehr", ts.conn.Name, "reason", reason,
		"renewals", ts.renewals, "renew_in", renewIn)
	return tok, nil
}

// Invalidate drops token from the cache: the server refused it (401).
func (ts *TokenSource) Invalidate(token string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token == token && token != "" {
		ts.token, ts.refused = "", true
	}
}

// Scope returns the scope the server granted with the last token; it may
// be narrower than the scope asked for.
func (ts *TokenSource) Scope() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.scope
}

// discover reads the token endpoint from [base]/.well-known/smart-configuration
// (https://hl7.org/fhir/smart-app-launch/conformance.html). The endpoint is
// used only on the base's own origin or over https.
func (ts *TokenSource) discover(ctx context.Context) (string, error) {
	if ts.conn.TokenURL != "" {
		return ts.conn.TokenURL, nil
	}
	discovery := ts.conn.Base + "/.well-known/smart-configuration"
	body, err := ts.http.do(ctx, ts.conn.Name, http.MethodGet, discovery, nil, nil)
	if err != nil {
		return "", fmt.Errorf("smart discovery: %w", err)
	}
	var cfg struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(body, &cfg); err != nil || cfg.TokenEndpoint == "" {
		return "", errors.New("smart discovery: no token_endpoint in .well-known/smart-configuration")
	}
	if err := checkURL(cfg.TokenEndpoint); err != nil {
		return "", fmt.Errorf("smart discovery: token_endpoint: %w", err)
	}
	tu, _ := url.Parse(cfg.TokenEndpoint)
	bu, _ := url.Parse(ts.conn.Base)
	if tu.Scheme != "https" && (tu.Scheme != bu.Scheme || tu.Host != bu.Host) {
		return "", errors.New("smart discovery: a token_endpoint on another origin must use https")
	}
	return cfg.TokenEndpoint, nil
}

// request asks for a new token; ts.mu is held.
func (ts *TokenSource) request(ctx context.Context) (string, error) {
	// Each attempt signs a new assertion: a retried request must not
	// replay a jti, which the server refuses.
	form := func() ([]byte, error) {
		now := ts.now()
		assertion, err := ts.conn.key.sign(jwt.RegisteredClaims{
			Issuer:    ts.conn.ClientID,
			Subject:   ts.conn.ClientID,
			Audience:  jwt.ClaimStrings{ts.tokenURL},
			ExpiresAt: jwt.NewNumericDate(now.Add(assertionLifetime)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		})
		if err != nil {
			return nil, err
		}
		return []byte(url.Values{
			"grant_type":            {"client_credentials"},
			"scope":                 {ts.conn.Scopes},
			"client_assertion_type": {assertionType},
			"client_assertion":      {assertion},
		}.Encode()), nil
	}
	now := ts.now()
	body, err := ts.http.do(ctx, ts.conn.Name, http.MethodPost, ts.tokenURL, form, nil)
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", errors.New("token request: the answer holds no access_token")
	}
	if !strings.EqualFold(tr.TokenType, "bearer") {
		return "", errors.New("token request: token_type is not bearer")
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life <= 0 {
		life = 5 * time.Minute
	}
	// Renew a little early: a fifth of the lifetime, at most a minute.
	ts.renewAt = now.Add(life - min(life/5, time.Minute))
	ts.token, ts.scope = tr.AccessToken, tr.Scope
	if ts.scope == "" {
		ts.scope = ts.conn.Scopes // RFC 6749 §5.1: omitted means as asked
	}
	return ts.token, nil
}
