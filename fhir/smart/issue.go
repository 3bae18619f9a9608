package smart

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// MaxIssueTTL is the longest lifetime [Server.IssueToken] gives a token.
const MaxIssueTTL = 24 * time.Hour

// TokenRequest asks [Server.IssueToken] for an access token.
type TokenRequest struct {
	// Subject is who the token is for: its sub and client_id claims.
	Subject string
	// Scope is the space-separated scope string granted, such as
	// "launch/patient patient/*.rs". Clinical scopes must be well formed;
	// others (openid, launch/patient, ...) are carried as they are.
	Scope string
	// Patient is the id of the patient in context; required with
	// patient/ scopes, which grant nothing without one.
	Patient string
	// TTL is the token's lifetime; the configured TokenTTL when zero, at
	// most [MaxIssueTTL].
	TTL time.Duration
}

// IssueToken signs an access token of the built-in issuer: what a SMART
// app launch would have given an app once the authorization server had
// established the patient in context (scopes-and-launch-context.html,
// "Launch context arrives with your access_token"), without the launch.
// It is for people trying the API and for demos; an installation serving
// real apps puts an external authorization server in front. The patient
// is not looked up: a patient that does not exist simply has an empty
// compartment.
func (s *Server) IssueToken(ctx context.Context, req TokenRequest) (string, error) {
	if req.Subject == "" {
		return "", errors.New("smart: a token needs a subject")
	}
	hasPatientScope := false
	clinical := 0
	for _, f := range strings.Fields(req.Scope) {
		if !strings.HasPrefix(f, "patient/") && !strings.HasPrefix(f, "user/") && !strings.HasPrefix(f, "system/") {
			continue
		}
		sc, ok := ParseScope(f)
		if !ok {
			return "", fmt.Errorf("smart: scope %q is not a SMART clinical scope", f)
		}
		clinical++
		hasPatientScope = hasPatientScope || sc.Level == "patient"
	}
	switch {
	case clinical == 0:
		return "", errors.New("smart: a token needs at least one clinical scope (patient/*.rs, ...)")
	case hasPatientScope && req.Patient == "":
		return "", errors.New("smart: patient/ scopes need a patient in context")
	case req.Patient != "" && !resource.ValidID(req.Patient):
		return "", errors.New("smart: the patient must be a Patient id")
	case req.TTL < 0 || req.TTL > MaxIssueTTL:
		return "", fmt.Errorf("smart: a token lives at most %s", MaxIssueTTL)
	}
	tok, err := s.issue(req.Subject, strings.Fields(req.Scope), req.Patient, req.TTL)
	if err != nil {
		return "", err
	}
	s.log.InfoContext(ctx, "token issued", "client_id", req.Subject, "patient_context", req.Patient != "")
	return tok, nil
}

// issue signs an access token of the built-in issuer for clientID with
// scopes and, when patient is not "", that patient in context; ttl 0 is
// the configured lifetime.
func (s *Server) issue(clientID string, scopes []string, patient string, ttl time.Duration) (string, error) {
	if ttl == 0 {
		ttl = s.cfg.TokenTTL
	}
	now := s.cfg.Now()
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.base,
			Subject:   clientID,
			Audience:  jwt.ClaimStrings{s.audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
		Scope:    scopeClaim(strings.Join(scopes, " ")),
		Patient:  patient,
		ClientID: clientID,
	}
	t := jwt.NewWithClaims(s.signingMethod(), claims)
	t.Header["kid"] = s.kid
	return t.SignedString(s.key)
}
