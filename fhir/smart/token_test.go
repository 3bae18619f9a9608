package smart_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirbill/fhirbill/fhir/smart"
)

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// assertion is a backend-services client assertion for clientID.
func assertion(t *testing.T, key *ecdsa.PrivateKey, kid, clientID, aud, jti string) string {
	t.Helper()
	now := time.Now()
	return sign(t, jwt.SigningMethodES384, key, kid, jwt.MapClaims{
		"iss": clientID, "sub": clientID, "aud": aud, "jti": jti,
		"exp": now.Add(4 * time.Minute).Unix(),
	})
}

type tokenAnswer struct {
	status int
	Token  string `json:"access_token"`
	Type   string `json:"token_type"`
	Exp    int    `json:"expires_in"`
	Scope  string `json:"scope"`
	Error  string `json:"error"`
	Desc   string `json:"error_description"`
}

// askToken posts a client_credentials request to the token endpoint.
func askToken(t *testing.T, endpoint, scope, assertion string) tokenAnswer {
	t.Helper()
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	resp, err := http.PostForm(endpoint, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a tokenAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("token answer %d not JSON: %s", resp.StatusCode, b)
	}
	a.status = resp.StatusCode
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token answer Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
	}
	return a
}

// TestTokenEndpoint_BackendClient is "Must show" 5: a registered client
// finds the token endpoint in the smart-configuration, gets a token with a
// signed assertion and uses it; the same assertion replayed is refused.
func TestTokenEndpoint_BackendClient(t *testing.T) {
	key := ecKey(t, elliptic.P384())
	jwks := jwksOf(t, map[string]crypto.PublicKey{"c1": &key.PublicKey})
	e := start(t, smart.Client{ID: "ehr-1", JWKS: jwks, Scope: "system/Invoice.rs system/Encounter.cruds"})
	e.put("Invoice", "inv1", invoice("inv1", "p1", "issued", ""))

	r := e.as("", "GET", "/.well-known/smart-configuration", "")
	var conf map[string]any
	if err := json.Unmarshal(r.Body, &conf); err != nil || r.Status != 200 {
		t.Fatalf("smart-configuration: %d %s", r.Status, r.Body)
	}
	endpoint, _ := conf["token_endpoint"].(string)
	if endpoint != e.srv.Base+"/auth/token" {
		t.Fatalf("token_endpoint = %q, want %s/auth/token", endpoint, e.srv.Base)
	}
	for field, want := range map[string]string{
		"grant_types_supported":                            "client_credentials",
		"token_endpoint_auth_methods_supported":            "private_key_jwt",
		"token_endpoint_auth_signing_alg_values_supported": "ES384",
		"capabilities": "client-confidential-asymmetric",
	} {
		list, _ := conf[field].([]any)
		if !slices.Contains(list, any(want)) {
			t.Errorf("smart-configuration %s = %v, want it to hold %s", field, list, want)
		}
	}

	a := assertion(t, key, "c1", "ehr-1", endpoint, "jti-1")
	got := askToken(t, endpoint, "system/Invoice.rs system/Claim.rs", a)
	if got.status != 200 || got.Type != "bearer" || got.Scope != "system/Invoice.rs" || got.Exp != 300 {
		t.Fatalf("token: got %d %+v, want 200 bearer with scope system/Invoice.rs (Claim not registered), 300 s", got.status, got)
	}
	if r := e.as(got.Token, "GET", "/Invoice/inv1", ""); r.Status != 200 {
		t.Errorf("read with the issued token: got %d, want 200: %s", r.Status, r.Body)
	}
	if r := e.as(got.Token, "GET", "/Claim", ""); r.Status != 403 {
		t.Errorf("Claim search with the issued token: got %d, want 403", r.Status)
	}

	replay := askToken(t, endpoint, "system/Invoice.rs", a)
	if replay.status != 401 || replay.Error != "invalid_client" || !strings.Contains(replay.Desc, "already used") {
		t.Errorf("replayed assertion: got %d %s %q, want 401 invalid_client already used", replay.status, replay.Error, replay.Desc)
	}

	tests := []struct {
		name, scope, assertion, wantErr string
	}{
		{"UnknownClient", "system/Invoice.rs", assertion(t, key, "c1", "stranger", endpoint, "j2"), "invalid_client"},
		{"WrongKey", "system/Invoice.rs", assertion(t, ecKey(t, elliptic.P384()), "c1", "ehr-1", endpoint, "j3"), "invalid_client"},
		{"WrongAudience", "system/Invoice.rs", assertion(t, key, "c1", "ehr-1", e.srv.Base, "j4"), "invalid_client"},
		{"NoJTI", "system/Invoice.rs", assertion(t, key, "c1", "ehr-1", endpoint, ""), "invalid_client"},
		{"ScopeNotRegistered", "system/Claim.rs", assertion(t, key, "c1", "ehr-1", endpoint, "j5"), "invalid_scope"},
		{"NarrowerScopeGranted", "system/Encounter.rs?status=finished", assertion(t, key, "c1", "ehr-1", endpoint, "j6"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := askToken(t, endpoint, tt.scope, tt.assertion)
			if got.Error != tt.wantErr {
				t.Errorf("got %d error %q (%s), want %q", got.status, got.Error, got.Desc, tt.wantErr)
			}
			if tt.wantErr == "" && got.Scope != tt.scope {
				t.Errorf("granted %q, want %q", got.Scope, tt.scope)
			}
		})
	}
}

// TestInsurer_SeesOwnClaims is "Must show" 4: insurer A's system token
// searching Claims sees only A's; B's claim reads as 404, and other types
// are closed to it.
func TestInsurer_SeesOwnClaims(t *testing.T) {
	key := ecKey(t, elliptic.P384())
	jwks := jwksOf(t, map[string]crypto.PublicKey{"a1": &key.PublicKey})
	e := start(t, smart.Client{ID: "insurer-a", JWKS: jwks, Scope: "system/*.rs", Insurer: "ins-a"})
	twoPatients(e)

	endpoint := e.srv.Base + "/auth/token"
	got := askToken(t, endpoint, "system/Claim.rs system/Coverage.rs system/Invoice.rs",
		assertion(t, key, "a1", "insurer-a", endpoint, "ins-jti-1"))
	if got.status != 200 {
		t.Fatalf("token: got %d %s %s", got.status, got.Error, got.Desc)
	}
	tok := got.Token

	r := e.as(tok, "GET", "/Claim?_total=accurate", "")
	if ids := strings.Join(ids(r), ","); ids != "Claim/claim-a (match)" || total(r) != "1" {
		t.Errorf("Claim search: got %s total %s, want claim-a only, total 1", ids, total(r))
	}
	r = e.as(tok, "GET", "/Coverage", "")
	if ids := strings.Join(ids(r), ","); ids != "Coverage/cov-a (match)" {
		t.Errorf("Coverage search: got %s, want cov-a only", ids)
	}
	if r := e.as(tok, "GET", "/Claim/claim-b", ""); r.Status != 404 {
		t.Errorf("read of B's claim: got %d, want 404", r.Status)
	}
	if r := e.as(tok, "GET", "/Claim/claim-a", ""); r.Status != 200 {
		t.Errorf("read of A's claim: got %d, want 200", r.Status)
	}
	if r := e.as(tok, "GET", "/Invoice", ""); r.Status != 403 {
		t.Errorf("Invoice search by an insurer: got %d, want 403", r.Status)
	}
}
