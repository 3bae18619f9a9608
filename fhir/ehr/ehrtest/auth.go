package ehrtest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxAssertionLife is the furthest ahead an assertion may expire (SMART
// Backend Services: "no more than five minutes in the future").
const maxAssertionLife = 5 * time.Minute

// token is an access token issued.
type token struct {
	client  string
	scopes  []string
	expires time.Time
}

func (s *Server) handleSmartConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                                   s.TokenURL(),
		"token_endpoint_auth_methods_supported":            []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS384", "ES384"},
		"grant_types_supported":                            []string{"client_credentials"},
		"scopes_supported":                                 []string{"system/*.read"},
		"capabilities":                                     []string{"client-confidential-asymmetric"},
	})
}

// oauthError answers an OAuth error (RFC 6749 §5.2). The description
// never echoes the assertion.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// handleToken is the token endpoint: client credentials with a JWT
// client assertion (RFC 7523, SMART Backend Services).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "client_assertion_type must be jwt-bearer")
		return
	}
	assertion := r.PostForm.Get("client_assertion")
	s.mu.Lock()
	s.seenJWTs = append(s.seenJWTs, assertion)
	s.mu.Unlock()

	c, err := s.verify(assertion)
	if err != nil {
		s.log.Info("client assertion refused", "reason", err.Error())
		oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	granted := grant(c, strings.Fields(r.PostForm.Get("scope")))
	if len(granted) == 0 {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "none of the scopes asked for may be granted")
		return
	}

	s.mu.Lock()
	now := s.now()
	ttl := s.tokenTTL
	expires := now.Add(ttl)
	if s.faults.tokenLife > 0 {
		expires = now.Add(s.faults.tokenLife)
	}
	tok := rand.Text()
	s.tokens[tok] = &token{client: c.ID, scopes: granted, expires: expires}
	s.issued = append(s.issued, tok)
	s.mu.Unlock()

	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(ttl / time.Second),
		"scope":        strings.Join(granted, " "),
	})
}

// verify checks a client assertion: signature with the registered key of
// the client its iss names (and kid), algorithm RS384 or ES384, iss = sub,
// aud = the token endpoint, exp present and at most five minutes ahead,
// and a jti not seen before. The jti is remembered only once all else
// passed, so a forged assertion cannot burn a client's jti.
func (s *Server) verify(assertion string) (*Client, error) {
	var client *Client
	keyfunc := func(t *jwt.Token) (any, error) {
		iss, err := t.Claims.GetIssuer()
		if err != nil || iss == "" {
			return nil, errors.New("no iss")
		}
		s.mu.Lock()
		client = s.clients[iss]
		s.mu.Unlock()
		if client == nil {
			return nil, errors.New("unknown client")
		}
		if kid, _ := t.Header["kid"].(string); kid == "" || (client.KeyID != "" && kid != client.KeyID) {
			return nil, errors.New("kid missing or not the client's")
		}
		return client.Key, nil
	}
	// The algorithm first, to say so: jwt reports a wrong one as a bad
	// signature.
	if t, _, err := jwt.NewParser().ParseUnverified(assertion, &jwt.RegisteredClaims{}); err == nil {
		if alg := t.Method.Alg(); alg != "RS384" && alg != "ES384" {
			return nil, errors.New("the assertion must be signed with RS384 or ES384")
		}
	}
	var claims jwt.RegisteredClaims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS384", "ES384"}),
		jwt.WithAudience(s.TokenURL()),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.now),
	)
	if _, err := p.ParseWithClaims(assertion, &claims, keyfunc); err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			return nil, errors.New("the assertion has expired")
		case errors.Is(err, jwt.ErrTokenInvalidAudience):
			return nil, errors.New("the assertion's aud is not this token endpoint")
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			return nil, errors.New("the assertion's signature does not match the client's key")
		}
		return nil, errors.New("the assertion is not valid")
	}
	if claims.Subject != client.ID {
		return nil, errors.New("the assertion's sub is not its iss")
	}
	now := s.now()
	if claims.ExpiresAt.Time.After(now.Add(maxAssertionLife)) {
		return nil, errors.New("the assertion expires more than five minutes ahead")
	}
	if claims.ID == "" {
		return nil, errors.New("the assertion has no jti")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for j, exp := range s.jtis {
		if exp.Before(now) {
			delete(s.jtis, j) // expired assertions are refused anyway
		}
	}
	key := client.ID + "\x00" + claims.ID
	if _, seen := s.jtis[key]; seen {
		return nil, errors.New("the assertion's jti was used before")
	}
	s.jtis[key] = claims.ExpiresAt.Time
	return client, nil
}

// grant returns the scopes asked for that the client may have.
func grant(c *Client, asked []string) []string {
	allowed := c.Scopes
	if len(allowed) == 0 {
		allowed = []string{"system/*.read"}
	}
	var out []string
	for _, a := range asked {
		for _, al := range allowed {
			if a == al || (strings.HasPrefix(a, "system/") && strings.HasSuffix(a, ".read") && al == "system/*.read") {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// fhir wraps a FHIR handler: faults, bearer token and scope checks, and
// the request log.
func (s *Server) fhir(h func(http.ResponseWriter, *http.Request) int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status := s.serveFHIR(w, r, h)
		s.mu.Lock()
		s.requests = append(s.requests, Request{At: s.now(), Method: r.Method, Path: r.URL.RequestURI(), Status: status})
		s.mu.Unlock()
	}
}

func (s *Server) serveFHIR(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request) int) int {
	if status, done := s.misbehave(w); done {
		return status
	}
	auth := r.Header.Get("Authorization")
	if len(auth) < 7 || !strings.EqualFold(auth[:7], "bearer ") {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		writeOutcome(w, http.StatusUnauthorized, "login", "a bearer token is required")
		return http.StatusUnauthorized
	}
	s.mu.Lock()
	tok := s.tokens[auth[7:]]
	now := s.now()
	s.mu.Unlock()
	if tok == nil || !now.Before(tok.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeOutcome(w, http.StatusUnauthorized, "login", "the token is unknown or has expired")
		return http.StatusUnauthorized
	}
	if !allows(tok.scopes, r.PathValue("type")) {
		writeOutcome(w, http.StatusForbidden, "forbidden", "the token's scopes do not cover this resource type")
		return http.StatusForbidden
	}
	return h(w, r)
}

// allows reports whether scopes let the holder read typ (SMART v1 .read
// or v2 .rs).
func allows(scopes []string, typ string) bool {
	for _, sc := range scopes {
		for _, t := range []string{typ, "*"} {
			if sc == "system/"+t+".read" || sc == "system/"+t+".rs" || sc == "system/"+t+".*" {
				return true
			}
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeOutcome(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"resourceType": "OperationOutcome",
		"issue":        []any{map[string]any{"severity": "error", "code": code, "diagnostics": msg}},
	})
}
