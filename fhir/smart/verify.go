package smart

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"
)

// accessClaims are the claims of a bearer token fhirbill reads.
type accessClaims struct {
	jwt.RegisteredClaims
	// Scope is space-separated (RFC 8693 §4.2); some servers send an
	// array, also accepted.
	Scope    scopeClaim `json:"scope"`
	Patient  string     `json:"patient,omitempty"`
	ClientID string     `json:"client_id,omitempty"`
	AZP      string     `json:"azp,omitempty"`
}

// UnmarshalJSON reads the claims, refusing NumericDate claims that are
// not JSON numbers (see [checkDates]).
func (c *accessClaims) UnmarshalJSON(b []byte) error {
	if err := checkDates(b); err != nil {
		return err
	}
	type plain accessClaims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// assertionClaims are the claims of a client assertion.
type assertionClaims struct {
	jwt.RegisteredClaims
}

// UnmarshalJSON reads the claims as [accessClaims.UnmarshalJSON] does.
func (c *assertionClaims) UnmarshalJSON(b []byte) error {
	if err := checkDates(b); err != nil {
		return err
	}
	return json.Unmarshal(b, &c.RegisteredClaims)
}

// dateTypeError refuses a NumericDate claim (exp, nbf, iat) that is not a
// JSON number: RFC 7519 §2 defines NumericDate as "a JSON numeric value"
// (a fraction allowed), and jwt would also take a string of digits.
type dateTypeError struct{ claim string }

func (e *dateTypeError) Error() string {
	return e.claim + " must be a number (RFC 7519 NumericDate), not a string or another JSON value"
}

// checkDates checks the JSON types of the NumericDate claims of a JWT
// claims set.
func checkDates(b []byte) error {
	var raw struct {
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		v    json.RawMessage
	}{{"exp", raw.Exp}, {"nbf", raw.Nbf}, {"iat", raw.Iat}} {
		v := bytes.TrimSpace(c.v)
		if len(v) == 0 || string(v) == "null" {
			continue
		}
		if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
			return &dateTypeError{c.name}
		}
	}
	return nil
}

// scopeClaim reads a scope string or array of strings.
type scopeClaim string

func (s *scopeClaim) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = scopeClaim(str)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("scope must be a string or an array of strings")
	}
	*s = scopeClaim(strings.Join(list, " "))
	return nil
}

var (
	errUnknownIssuer = errors.New("smart: token issuer not trusted")
	errUnknownKey    = errors.New("smart: token kid is not the built-in issuer's key")
	errNoKid         = errors.New("smart: token header names no kid")
	errCrit          = errors.New("smart: token header lists crit extensions")
)

// checkHeader refuses a JWS header fhirbill cannot honour: one without a
// kid (every key fhirbill trusts is found by its kid), and one with crit,
// whose extensions a recipient must understand or refuse the token (RFC
// 7515 §4.1.11); fhirbill understands none.
func checkHeader(t *jwt.Token) error {
	if _, ok := t.Header["crit"]; ok {
		return errCrit
	}
	if kid, _ := t.Header["kid"].(string); kid == "" {
		return errNoKid
	}
	return nil
}

// Authorize implements [rest.Authorizer]: it verifies the bearer token of
// r and returns its Grant. Failures are 401s that name the problem and
// never echo the token (RFC 6750 §3.1); a request with more than one
// Authorization header is a 400 invalid_request: the field is a singleton
// (RFC 9110 §5.3 and §11.6.2), RFC 6750 §3.1 answers a request that is
// otherwise malformed with 400, and taking either token would be a guess.
func (s *Server) Authorize(r *http.Request) (rest.Access, error) {
	if len(r.Header.Values("Authorization")) > 1 {
		return nil, &rest.AuthError{Status: http.StatusBadRequest, Code: "invalid_request",
			Detail: "the request has more than one Authorization header: send one"}
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, &rest.AuthError{Status: http.StatusUnauthorized,
			Detail: "a bearer token is required (Authorization: Bearer ...)"}
	}
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, &rest.AuthError{Status: http.StatusUnauthorized, Code: "invalid_request",
			Detail: "the Authorization header must be: Bearer <token>"}
	}
	g, err := s.Verify(r, tok)
	if err != nil {
		var ae *rest.AuthError
		errors.As(err, &ae)
		s.log.InfoContext(r.Context(), "token refused", "reason", ae.Detail)
		return nil, err
	}
	return g, nil
}

// Verify checks a bearer token and returns its grant, or a 401
// *rest.AuthError.
func (s *Server) Verify(r *http.Request, tok string) (*Grant, error) {
	var claims accessClaims
	p := jwt.NewParser(
		jwt.WithValidMethods(Algorithms),
		jwt.WithAudience(s.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(s.cfg.Now),
	)
	// jwt decodes the claims before it asks for the key: the (unverified)
	// iss picks the key set, and the signature then proves the iss.
	_, err := p.ParseWithClaims(tok, &claims, func(t *jwt.Token) (any, error) {
		if err := checkHeader(t); err != nil {
			return nil, err
		}
		switch {
		case claims.Issuer == s.base:
			if t.Header["kid"] != s.kid {
				return nil, errUnknownKey
			}
			return s.key.Public(), nil
		case s.ext != nil && claims.Issuer == s.cfg.External.Issuer:
			return s.ext.KeyfuncCtx(r.Context())(t)
		}
		return nil, errUnknownIssuer
	})
	if err != nil {
		return nil, &rest.AuthError{Status: http.StatusUnauthorized, Code: "invalid_token",
			Detail: tokenProblem(err, missingClaim(&claims.RegisteredClaims, "exp", "aud"))}
	}
	if err := s.checkLifetime(&claims); err != nil {
		return nil, &rest.AuthError{Status: http.StatusUnauthorized, Code: "invalid_token", Detail: err.Error()}
	}
	patient := strings.TrimPrefix(claims.Patient, "Patient/")
	if patient != "" && !resource.ValidID(patient) {
		return nil, &rest.AuthError{Status: http.StatusUnauthorized, Code: "invalid_token",
			Detail: "the token's patient claim is not a Patient id"}
	}
	g := &Grant{
		ClientID: cmpOr(claims.ClientID, cmpOr(claims.AZP, claims.Subject)),
		Scopes:   ParseScopes(string(claims.Scope)),
		Patient:  patient,
		reg:      s.cfg.Registry,
		base:     s.base,
	}
	if claims.Issuer == s.base {
		if c := s.clients[g.ClientID]; c != nil {
			g.Insurer = c.Insurer
		}
	} else {
		g.Insurer = s.insurers[g.ClientID]
	}
	return g, nil
}

// checkLifetime bounds how long a verified token may live: one of the
// built-in issuer must carry iat and live at most [MaxIssueTTL], the
// longest lifetime it gives; one of any issuer must expire within
// MaxIssueTTL of now. A token living longer than a server issues is a
// forgery with a leaked key, or an issuer misconfigured, and a stolen one
// would serve for as long.
func (s *Server) checkLifetime(c *accessClaims) error {
	if c.Issuer == s.base {
		if c.IssuedAt == nil {
			return errors.New("the token lacks a required claim (iat)")
		}
		if c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxIssueTTL {
			return fmt.Errorf("the token's lifetime (exp - iat) is longer than the %s this server issues",
				MaxIssueTTL)
		}
	}
	if c.ExpiresAt.After(s.cfg.Now().Add(MaxIssueTTL + leeway)) {
		return fmt.Errorf("the token's lifetime is longer than this server accepts: "+
			"exp is more than %s ahead", MaxIssueTTL)
	}
	return nil
}

// missingClaim returns the first of names (exp, iss, sub, aud) that c
// lacks, "" when it has them all.
func missingClaim(c *jwt.RegisteredClaims, names ...string) string {
	for _, n := range names {
		if (n == "exp" && c.ExpiresAt == nil) || (n == "iss" && c.Issuer == "") ||
			(n == "sub" && c.Subject == "") || (n == "aud" && len(c.Audience) == 0) {
			return n
		}
	}
	return ""
}

// tokenProblem names what is wrong with a token, from jwt's sentinels,
// without its content. missing is the required claim it lacks, if any.
func tokenProblem(err error, missing string) string {
	var de *dateTypeError
	switch {
	case errors.As(err, &de):
		return "the token's " + de.Error()
	case errors.Is(err, errCrit):
		return "the token's header lists crit extensions, which this server does not understand (RFC 7515 §4.1.11)"
	case errors.Is(err, errNoKid):
		return "the token's header names no signing key (kid)"
	case errors.Is(err, errUnknownIssuer):
		return "the token's issuer (iss) is not trusted by this server"
	case errors.Is(err, errUnknownKey):
		return "the token's signature could not be verified (unknown kid)"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is not a well-formed JWT"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token's signature could not be verified (algorithm or key not accepted)"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired (exp)"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "the token is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token was issued in the future (iat)"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token is not meant for this server (aud)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && missing != "":
		return "the token lacks a required claim (" + missing + ")"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token lacks a required claim"
	}
	return "the token is not valid"
}
