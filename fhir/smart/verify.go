package smart

import (
	"encoding/json"
	"errors"
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
)

// Authorize implements [rest.Authorizer]: it verifies the bearer token of
// r and returns its Grant. Failures are 401s that name the problem and
// never echo the token (RFC 6750 §3.1).
func (s *Server) Authorize(r *http.Request) (rest.Access, error) {
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
		switch {
		case claims.Issuer == s.base:
			if kid, ok := t.Header["kid"]; ok && kid != s.kid {
				return nil, errUnknownKey
			}
			return s.key.Public(), nil
		case s.ext != nil && claims.Issuer == s.cfg.External.Issuer:
			return s.ext.KeyfuncCtx(r.Context())(t)
		}
		return nil, errUnknownIssuer
	})
	if err != nil {
		return nil, &rest.AuthError{Status: http.StatusUnauthorized, Code: "invalid_token", Detail: tokenProblem(err)}
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

// tokenProblem names what is wrong with a token, from jwt's sentinels,
// without its content.
func tokenProblem(err error) string {
	switch {
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
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token lacks a required claim (exp)"
	}
	return "the token is not valid"
}
