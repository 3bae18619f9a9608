package smart

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// TokenPath is where the built-in token endpoint is served, under the
// base URL.
const TokenPath = "/auth/token"

// AssertionType is the client_assertion_type of private_key_jwt
// (RFC 7523 §2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxAssertionLife is how far in the future an assertion's exp may be
// (client-confidential-asymmetric.html: "no more than five minutes in the
// future").
const maxAssertionLife = 5 * time.Minute

// TokenURL returns the URL of the built-in token endpoint, the audience
// client assertions must name.
func (s *Server) TokenURL() string { return s.base + TokenPath }

// oauthError is an RFC 6749 §5.2 error. The token endpoint answers OAuth
// errors, not OperationOutcomes, as SMART backend services require.
type oauthError struct {
	status int
	Code   string `json:"error"`
	Detail string `json:"error_description"`
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Detail }

func badClient(detail string) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", detail}
}

func badRequest(code, detail string) *oauthError {
	return &oauthError{http.StatusBadRequest, code, detail}
}

// handleToken serves the client_credentials grant with private_key_jwt
// client authentication
// (https://hl7.org/fhir/smart-app-launch/backend-services.html#obtaining-an-access-token).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost) // RFC 9110 §15.5.6
	}
	body, clientID, err := s.token(r)
	if err != nil {
		var oe *oauthError
		if !errors.As(err, &oe) {
			s.log.ErrorContext(r.Context(), "token endpoint failed", "client_id", clientID, "err", err)
			oe = &oauthError{http.StatusInternalServerError, "server_error", "the token could not be issued"}
		} else {
			s.log.InfoContext(r.Context(), "token refused", "client_id", clientID, "reason", oe.Code)
		}
		w.WriteHeader(oe.status)
		_ = json.NewEncoder(w).Encode(oe)
		return
	}
	s.log.InfoContext(r.Context(), "token issued", "client_id", clientID)
	_, _ = w.Write(body)
}

func (s *Server) token(r *http.Request) (body []byte, clientID string, err error) {
	if r.Method != http.MethodPost {
		return nil, "", &oauthError{http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST"}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, "", badRequest("invalid_request", "the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, "", badRequest("invalid_request", "the body is not a valid form")
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		return nil, "", badRequest("unsupported_grant_type", "grant_type must be client_credentials")
	case f.Get("client_assertion_type") != AssertionType:
		return nil, "", badRequest("invalid_request", "client_assertion_type must be "+AssertionType)
	case f.Get("client_assertion") == "":
		return nil, "", badRequest("invalid_request", "client_assertion is required")
	case strings.TrimSpace(f.Get("scope")) == "":
		return nil, "", badRequest("invalid_request", "scope is required (backend-services.html)")
	}

	c, claims, err := s.checkAssertion(r, f.Get("client_assertion"))
	if c != nil {
		clientID = c.ID
	}
	if err != nil {
		return nil, clientID, err
	}
	// A client_id beside the assertion must name the same client (RFC
	// 7521 §4.2).
	if id := f.Get("client_id"); id != "" && id != c.ID {
		return nil, clientID, badClient("client_id is not the client of client_assertion (its iss)")
	}

	granted := grant(c.scopes, f.Get("scope"))
	if len(granted) == 0 {
		return nil, clientID, badRequest("invalid_scope",
			"none of the requested scopes is allowed to this client")
	}
	// The jti is remembered as long as the assertion could be accepted.
	key := "assertion/" + c.ID + "/" + claims.ID
	exp := claims.ExpiresAt.Add(leeway)
	if err := s.cfg.Replay.UseOnce(r.Context(), key, exp, s.cfg.Now()); err != nil {
		if errors.Is(err, resource.ErrConflict) {
			return nil, clientID, badClient("this client_assertion (jti) was already used")
		}
		return nil, clientID, err
	}

	tok, err := s.issue(c.ID, granted, "", 0)
	if err != nil {
		return nil, clientID, err
	}
	body, err = json.Marshal(map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(s.cfg.TokenTTL / time.Second),
		"scope":        strings.Join(granted, " "),
	})
	return body, clientID, err
}

// checkAssertion verifies a client assertion as
// client-confidential-asymmetric.html#signature-verification asks: signed
// by a registered client's key (found by kid; a jku must be the client's
// registered JWKS URL) with a pinned algorithm, iss = sub = client_id, aud
// = this token endpoint, exp at most five minutes ahead, a jti.
func (s *Server) checkAssertion(r *http.Request, assertion string) (*client, *jwt.RegisteredClaims, error) {
	var unverified assertionClaims
	tok, _, err := jwt.NewParser().ParseUnverified(assertion, &unverified)
	var de *dateTypeError
	switch {
	case errors.As(err, &de):
		return nil, nil, badClient("client_assertion refused: " + tokenProblem(err, ""))
	case err != nil:
		return nil, nil, badClient("client_assertion is not a well-formed JWT")
	}
	c := s.clients[unverified.Issuer]
	if c == nil {
		return nil, nil, badClient("the client (iss of client_assertion) is not registered")
	}
	if err := checkHeader(tok); err != nil {
		return c, nil, badClient("client_assertion refused: " + tokenProblem(err, ""))
	}
	if jku, ok := tok.Header["jku"]; ok && (c.JWKSURL == "" || jku != c.JWKSURL) {
		return c, nil, badClient("the jku of client_assertion is not the client's registered JWKS URL")
	}

	var claims assertionClaims
	p := jwt.NewParser(
		jwt.WithValidMethods(Algorithms),
		jwt.WithAudience(s.TokenURL()),
		jwt.WithIssuer(c.ID),
		jwt.WithSubject(c.ID),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(s.cfg.Now),
	)
	if _, err := p.ParseWithClaims(assertion, &claims, c.keys.KeyfuncCtx(r.Context())); err != nil {
		return c, nil, badClient("client_assertion refused: " +
			tokenProblem(err, missingClaim(&claims.RegisteredClaims, "exp", "iss", "sub", "aud")))
	}
	if claims.ExpiresAt.After(s.cfg.Now().Add(maxAssertionLife + leeway)) {
		return c, nil, badClient("client_assertion exp is more than five minutes ahead")
	}
	if claims.ID == "" {
		return c, nil, badClient("client_assertion needs a jti")
	}
	return c, &claims.RegisteredClaims, nil
}

// grant returns the requested scopes the client's registered scopes cover.
func grant(allowed []Scope, requested string) []string {
	var out []string
	for _, f := range strings.Fields(requested) {
		want, ok := ParseScope(f)
		if !ok {
			continue
		}
		for _, a := range allowed {
			if a.covers(want) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}
