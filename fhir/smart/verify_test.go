package smart_test

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerify_RefusedTokens is "Must show" 1: each broken token is a 401
// with a challenge and an OperationOutcome naming the problem, never the
// token.
func TestVerify_RefusedTokens(t *testing.T) {
	e := start(t)
	good := sign(t, jwt.SigningMethodRS256, e.key, "k1", e.extClaims("system/Invoice.rs"))
	if r := e.as(good, "GET", "/Invoice", ""); r.Status != 200 {
		t.Fatalf("valid external token: got %d, want 200: %s", r.Status, r.Body)
	}

	other := rsaKey(t)
	pubDER, err := x509.MarshalPKIXPublicKey(&e.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	with := func(k string, v any) jwt.MapClaims {
		c := e.extClaims("system/Invoice.rs")
		c[k] = v
		return c
	}
	now := time.Now()

	tests := []struct {
		name     string
		token    string
		wantDiag string
	}{
		{"BadSignature", sign(t, jwt.SigningMethodRS256, other, "k1", e.extClaims("system/Invoice.rs")), "signature"},
		{"Expired", sign(t, jwt.SigningMethodRS256, e.key, "k1", with("exp", now.Add(-time.Hour).Unix())), "expired"},
		{"NotYetValid", sign(t, jwt.SigningMethodRS256, e.key, "k1", with("nbf", now.Add(time.Hour).Unix())), "not valid yet"},
		{"WrongAudience", sign(t, jwt.SigningMethodRS256, e.key, "k1", with("aud", "https://other.example/fhir")), "aud"},
		{"WrongIssuer", sign(t, jwt.SigningMethodRS256, e.key, "k1", with("iss", "https://evil.example")), "iss"},
		{"AlgNone", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1", e.extClaims("system/Invoice.rs")), "signature"},
		{"HS256WithPublicKey", sign(t, jwt.SigningMethodHS256, pubPEM, "k1", e.extClaims("system/Invoice.rs")), "signature"},
		{"HS256WithPublicKeyDER", sign(t, jwt.SigningMethodHS256, pubDER, "k1", e.extClaims("system/Invoice.rs")), "signature"},
		{"UnknownKid", sign(t, jwt.SigningMethodRS256, other, "k9", e.extClaims("system/Invoice.rs")), "signature"},
		{"NoExp", sign(t, jwt.SigningMethodRS256, e.key, "k1", with("exp", nil)), "exp"},
		{"Malformed", "eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24tY2xhaW1z.c2ln", "well-formed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as(tt.token, "GET", "/Invoice", "")
			if r.Status != 401 {
				t.Fatalf("got status %d, want 401: %s", r.Status, r.Body)
			}
			if got := r.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q, want error=\"invalid_token\"", got)
			}
			code, diag := outcome(r)
			if code != "login" || !strings.Contains(diag, tt.wantDiag) {
				t.Errorf("got issue %q %q, want login mentioning %q", code, diag, tt.wantDiag)
			}
			parts := strings.Split(tt.token, ".")
			if strings.Contains(string(r.Body), tt.token) || (len(parts) == 3 && strings.Contains(string(r.Body), parts[1])) {
				t.Errorf("the response echoes the token: %s", r.Body)
			}
		})
	}

	t.Run("Missing", func(t *testing.T) {
		r := e.as("", "GET", "/Invoice", "")
		if r.Status != 401 {
			t.Fatalf("got %d, want 401", r.Status)
		}
		if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="fhirbill"` {
			t.Errorf("WWW-Authenticate = %q, want Bearer realm=\"fhirbill\" without an error code (RFC 6750 §3.1)", got)
		}
	})
	t.Run("NotBearer", func(t *testing.T) {
		r := e.srv.Do("GET", "/Invoice", nil, "Authorization", "Basic dXNlcjpwYXNz")
		if r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_request"`) {
			t.Errorf("got %d %q, want 401 invalid_request", r.Status, r.Header.Get("WWW-Authenticate"))
		}
	})
	// Authorization is a singleton field (RFC 9110 §5.3): two are a
	// malformed request, 400 invalid_request (RFC 6750 §3.1), whichever
	// tokens they hold; taking the first would be a guess.
	t.Run("TwoAuthorizationHeaders", func(t *testing.T) {
		for _, second := range []string{"Bearer " + good, "Bearer not-a-token"} {
			r := e.srv.Do("GET", "/Invoice", nil, "Authorization", "Bearer "+good, "Authorization", second)
			if r.Status != 400 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_request"`) {
				t.Errorf("got %d %q, want 400 invalid_request", r.Status, r.Header.Get("WWW-Authenticate"))
			}
			if code, diag := outcome(r); code != "invalid" || !strings.Contains(diag, "more than one Authorization header") {
				t.Errorf("got issue %q %q, want invalid saying there is more than one Authorization header", code, diag)
			}
		}
	})
	t.Run("MetadataNeedsNoToken", func(t *testing.T) {
		r := e.as("", "GET", "/metadata", "")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"code":"SMART-on-FHIR"`) ||
			!strings.Contains(string(r.Body), "/auth/token") {
			t.Errorf("metadata: got %d without the SMART security section: %.300s", r.Status, r.Body)
		}
	})
}
