package smart_test

import (
	"crypto"
	"crypto/elliptic"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirbill/fhirbill/fhir/smart"
)

// signWith signs claims with method and key under the given header
// fields (kid, crit, ...), each left out when nil.
func signWith(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerify_ClaimsAndHeaders checks what a bearer token's claims and
// header must hold beyond its signature: NumericDate claims that are
// JSON numbers (RFC 7519 §2: non-integer values are allowed), a kid, no
// crit extension fhirbill does not understand (RFC 7515 §4.1.11: every
// one listed must be understood, and fhirbill understands none), a
// lifetime the issuer could have given (from the built-in issuer at most
// smart.MaxIssueTTL, from any issuer no further ahead than that), and a
// refusal that names the claim missing.
func TestVerify_ClaimsAndHeaders(t *testing.T) {
	e := start(t)
	e.put("Invoice", "inv1", invoice("inv1", "p1", "issued", ""))
	now := time.Now()
	ownClaims := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": e.srv.Base, "sub": "app", "client_id": "app", "aud": e.srv.Base, "scope": "system/Invoice.rs",
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		}
		if v == nil {
			delete(c, k)
		} else if k != "" {
			c[k] = v
		}
		return c
	}
	extClaims := func(k string, v any) jwt.MapClaims {
		c := e.extClaims("system/Invoice.rs")
		if v == nil {
			delete(c, k)
		} else if k != "" {
			c[k] = v
		}
		return c
	}
	own := func(header map[string]any, c jwt.MapClaims) string {
		h := map[string]any{"kid": e.auth.KeyID()}
		for k, v := range header {
			h[k] = v
		}
		return signWith(t, jwt.SigningMethodES256, e.own, h, c)
	}
	ext := func(header map[string]any, c jwt.MapClaims) string {
		h := map[string]any{"kid": "k1"}
		for k, v := range header {
			h[k] = v
		}
		return signWith(t, jwt.SigningMethodRS256, e.key, h, c)
	}
	ahead := func(d time.Duration) int64 { return now.Add(d).Unix() }

	tests := []struct {
		name     string
		token    string
		wantDiag string // "" for a token that is accepted
	}{
		{"Own", own(nil, ownClaims("", "")), ""},
		{"OwnFractionalExp", own(nil, ownClaims("exp", float64(ahead(5*time.Minute))+0.5)), ""},
		{"OwnExpString", own(nil, ownClaims("exp", strconv.FormatInt(ahead(5*time.Minute), 10))), "exp must be a number"},
		{"OwnNbfString", own(nil, ownClaims("nbf", strconv.FormatInt(now.Unix(), 10))), "nbf must be a number"},
		{"OwnIatString", own(nil, ownClaims("iat", strconv.FormatInt(now.Unix(), 10))), "iat must be a number"},
		{"OwnNoKid", own(map[string]any{"kid": nil}, ownClaims("", "")), "kid"},
		{"OwnCrit", own(map[string]any{"crit": []string{"https://example.org/ext"}, "https://example.org/ext": true},
			ownClaims("", "")), "crit"},
		{"OwnTenYears", own(nil, ownClaims("exp", ahead(10*365*24*time.Hour))), "lifetime"},
		{"OwnDayAndMore", own(nil, ownClaims("exp", ahead(smart.MaxIssueTTL+time.Hour))), "lifetime"},
		{"OwnDay", own(nil, ownClaims("exp", ahead(smart.MaxIssueTTL))), ""},
		{"OwnNoIat", own(nil, ownClaims("iat", nil)), "lacks a required claim (iat)"},
		{"OwnNoAud", own(nil, ownClaims("aud", nil)), "lacks a required claim (aud)"},
		{"OwnNoExp", own(nil, ownClaims("exp", nil)), "lacks a required claim (exp)"},
		{"External", ext(nil, extClaims("", "")), ""},
		{"ExternalNoKid", ext(map[string]any{"kid": nil}, extClaims("", "")), "kid"},
		{"ExternalCrit", ext(map[string]any{"crit": []string{"b64"}, "b64": false}, extClaims("", "")), "crit"},
		{"ExternalExpString", ext(nil, extClaims("exp", strconv.FormatInt(ahead(5*time.Minute), 10))), "exp must be a number"},
		{"ExternalTenYears", ext(nil, extClaims("exp", ahead(10*365*24*time.Hour))), "lifetime"},
		{"ExternalNoIatDayAhead", ext(nil, extClaims("iat", nil)), ""},
		{"ExternalNoAud", ext(nil, extClaims("aud", nil)), "lacks a required claim (aud)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as(tt.token, "GET", "/Invoice/inv1", "")
			if tt.wantDiag == "" {
				if r.Status != 200 {
					t.Fatalf("got %d, want 200: %s", r.Status, r.Body)
				}
				return
			}
			if r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("got %d %q, want 401 invalid_token: %s", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
			}
			if _, diag := outcome(r); !strings.Contains(diag, tt.wantDiag) {
				t.Errorf("diagnostics %q, want it to mention %q", diag, tt.wantDiag)
			}
		})
	}
}

// TestTokenEndpoint_ClientAndMethod checks the token endpoint against
// RFC 7521 §4.2 and RFC 6749 §3.2: a client_id sent beside the assertion
// must be the assertion's client, an assertion's header and claims are
// held to what bearer tokens are, and the endpoint takes POST only,
// answering other methods as OAuth does, never with a FHIR
// OperationOutcome.
func TestTokenEndpoint_ClientAndMethod(t *testing.T) {
	key := ecKey(t, elliptic.P384())
	jwks := jwksOf(t, map[string]crypto.PublicKey{"c1": &key.PublicKey})
	other := jwksOf(t, map[string]crypto.PublicKey{"c2": &ecKey(t, elliptic.P384()).PublicKey})
	e := start(t,
		smart.Client{ID: "ehr-1", JWKS: jwks, Scope: "system/Invoice.rs"},
		smart.Client{ID: "ehr-2", JWKS: other, Scope: "system/*.cruds"})
	endpoint := e.srv.Base + "/auth/token"
	now := time.Now()
	claims := func(jti string) jwt.MapClaims {
		return jwt.MapClaims{"iss": "ehr-1", "sub": "ehr-1", "aud": endpoint, "jti": jti, "exp": now.Add(4 * time.Minute).Unix()}
	}
	post := func(form url.Values) (int, map[string]string) {
		t.Helper()
		resp, err := http.PostForm(endpoint, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]string
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	form := func(assertion, clientID string) url.Values {
		f := url.Values{
			"grant_type": {"client_credentials"}, "scope": {"system/Invoice.rs"},
			"client_assertion_type": {smart.AssertionType}, "client_assertion": {assertion},
		}
		if clientID != "" {
			f.Set("client_id", clientID)
		}
		return f
	}

	t.Run("OtherClientID", func(t *testing.T) {
		a := sign(t, jwt.SigningMethodES384, key, "c1", claims("j-other"))
		status, m := post(form(a, "ehr-2"))
		if status != 401 || m["error"] != "invalid_client" || m["access_token"] != "" {
			t.Fatalf("client_id ehr-2 with ehr-1's assertion: got %d %v, want 401 invalid_client", status, m)
		}
		// The assertion was not spent: sent as its client's, it is good.
		if status, m := post(form(a, "ehr-1")); status != 200 || m["access_token"] == "" {
			t.Errorf("client_id ehr-1 with its own assertion: got %d %v, want 200", status, m)
		}
	})

	for _, tt := range []struct {
		name, assertion, wantDesc string
	}{
		{"AssertionCrit", signWith(t, jwt.SigningMethodES384, key,
			map[string]any{"kid": "c1", "crit": []string{"exp"}}, claims("j-crit")), "crit"},
		{"AssertionExpString", sign(t, jwt.SigningMethodES384, key, "c1", jwt.MapClaims{"iss": "ehr-1", "sub": "ehr-1", "aud": endpoint,
			"jti": "j-str", "exp": strconv.FormatInt(now.Add(4*time.Minute).Unix(), 10)}), "exp must be a number"},
		{"AssertionNoSub", sign(t, jwt.SigningMethodES384, key, "c1", jwt.MapClaims{"iss": "ehr-1", "aud": endpoint,
			"jti": "j-nosub", "exp": now.Add(4 * time.Minute).Unix()}), "(sub)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, m := post(form(tt.assertion, ""))
			if status != 401 || m["error"] != "invalid_client" || !strings.Contains(m["error_description"], tt.wantDesc) {
				t.Errorf("got %d %v, want 401 invalid_client mentioning %q", status, m, tt.wantDesc)
			}
		})
	}

	for _, method := range []string{"GET", "PUT", "DELETE"} {
		t.Run("Method"+method, func(t *testing.T) {
			r := e.srv.Do(method, "/auth/token", nil)
			if r.Status != 405 || r.Header.Get("Allow") != "POST" {
				t.Fatalf("got %d Allow %q, want 405 with Allow: POST: %s", r.Status, r.Header.Get("Allow"), r.Body)
			}
			var m map[string]string
			if err := json.Unmarshal(r.Body, &m); err != nil || m["error"] != "invalid_request" {
				t.Errorf("body %s, want an RFC 6749 §5.2 error invalid_request", r.Body)
			}
			if strings.HasPrefix(r.Header.Get("Content-Type"), "application/fhir+json") {
				t.Errorf("Content-Type %q: an OAuth endpoint answers application/json", r.Header.Get("Content-Type"))
			}
		})
	}
}
