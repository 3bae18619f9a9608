package smart_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
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

// TestTokenEndpoint_Refusals checks each way a token request is refused,
// with the OAuth error RFC 6749 §5.2 and client-confidential-asymmetric.html
// name: no token is issued and nothing is remembered.
func TestTokenEndpoint_Refusals(t *testing.T) {
	key := ecKey(t, elliptic.P384())
	jwks := jwksOf(t, map[string]crypto.PublicKey{"c1": &key.PublicKey})
	e := start(t, smart.Client{ID: "ehr-1", JWKS: jwks, Scope: "system/Invoice.rs"})
	endpoint := e.srv.Base + "/auth/token"
	now := time.Now()
	claims := func(jti string) jwt.MapClaims {
		return jwt.MapClaims{"iss": "ehr-1", "sub": "ehr-1", "aud": endpoint, "jti": jti, "exp": now.Add(4 * time.Minute).Unix()}
	}
	with := func(jti, k string, v any) jwt.MapClaims {
		c := claims(jti)
		c[k] = v
		return c
	}
	jkuSigned := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES384, claims("j-jku"))
		tok.Header["kid"] = "c1"
		tok.Header["jku"] = "https://evil.example/jwks.json"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	tests := []struct {
		name, scope, assertion, wantErr string
	}{
		{"NoKid", "system/Invoice.rs", sign(t, jwt.SigningMethodES384, key, "", claims("j-nokid")), "invalid_client"},
		{"UnknownKid", "system/Invoice.rs", sign(t, jwt.SigningMethodES384, key, "c9", claims("j-kid9")), "invalid_client"},
		{"JKUNotRegistered", "system/Invoice.rs", jkuSigned(), "invalid_client"},
		{"Expired", "system/Invoice.rs", sign(t, jwt.SigningMethodES384, key, "c1", with("j-exp", "exp", now.Add(-time.Hour).Unix())), "invalid_client"},
		{"ExpTooFarAhead", "system/Invoice.rs", sign(t, jwt.SigningMethodES384, key, "c1", with("j-far", "exp", now.Add(time.Hour).Unix())), "invalid_client"},
		{"SubNotClient", "system/Invoice.rs", sign(t, jwt.SigningMethodES384, key, "c1", with("j-sub", "sub", "other")), "invalid_client"},
		{"AlgNone", "system/Invoice.rs", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "c1", claims("j-none")), "invalid_client"},
		{"NoScope", "", assertion(t, key, "c1", "ehr-1", endpoint, "j-noscope"), "invalid_request"},
		{"OnlyLaunchScopes", "openid launch/patient", assertion(t, key, "c1", "ehr-1", endpoint, "j-launch"), "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := askToken(t, endpoint, tt.scope, tt.assertion)
			if got.Error != tt.wantErr || got.Token != "" {
				t.Errorf("got %d error %q (%s) token %v, want %q and no token", got.status, got.Error, got.Desc, got.Token != "", tt.wantErr)
			}
			if tt.wantErr == "invalid_client" && got.status != 401 {
				t.Errorf("status %d, want 401", got.status)
			}
			if strings.Contains(got.Desc, tt.assertion) {
				t.Errorf("the answer echoes the assertion")
			}
		})
	}

	t.Run("NotAForm", func(t *testing.T) {
		r := e.srv.Do("POST", "/auth/token", []byte(`{"grant_type":"client_credentials"}`), "Content-Type", "application/json")
		if r.Status != 400 || !strings.Contains(string(r.Body), `"invalid_request"`) {
			t.Errorf("JSON body: got %d %s, want 400 invalid_request", r.Status, r.Body)
		}
	})
	t.Run("WrongGrant", func(t *testing.T) {
		r := e.srv.Do("POST", "/auth/token", []byte("grant_type=password&username=a"), "Content-Type", "application/x-www-form-urlencoded")
		if r.Status != 400 || !strings.Contains(string(r.Body), `"unsupported_grant_type"`) {
			t.Errorf("password grant: got %d %s, want 400 unsupported_grant_type", r.Status, r.Body)
		}
	})
	t.Run("RefusedAssertionNotSpent", func(t *testing.T) {
		// A jti is recorded only once everything else passed: the request
		// refused for its scope can be sent again with a good one.
		a := assertion(t, key, "c1", "ehr-1", endpoint, "j-retry")
		if got := askToken(t, endpoint, "system/Claim.rs", a); got.Error != "invalid_scope" {
			t.Fatalf("first: got %q, want invalid_scope", got.Error)
		}
		if got := askToken(t, endpoint, "system/Invoice.rs", a); got.status != 200 {
			t.Errorf("second: got %d %s %s, want 200", got.status, got.Error, got.Desc)
		}
	})
}

// TestTokenEndpoint_JWKSURL registers a client by the URL of its key set,
// as the spec prefers: its assertions verify against the keys served
// there, also with a jku naming that URL, and a key it adds later (a
// rotation) is found on its unknown kid.
func TestTokenEndpoint_JWKSURL(t *testing.T) {
	k1, k2 := ecKey(t, elliptic.P384()), rsaKey(t)
	keys := map[string]crypto.PublicKey{"k1": &k1.PublicKey}
	var mu sync.Mutex
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwksOf(t, keys))
	}))
	t.Cleanup(jwksSrv.Close)
	e := start(t, smart.Client{ID: "svc", JWKSURL: jwksSrv.URL, Scope: "system/*.rs"})
	endpoint := e.srv.Base + "/auth/token"

	if got := askToken(t, endpoint, "system/*.rs", assertion(t, k1, "k1", "svc", endpoint, "u1")); got.status != 200 {
		t.Fatalf("assertion by k1: got %d %s %s", got.status, got.Error, got.Desc)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES384, jwt.MapClaims{
		"iss": "svc", "sub": "svc", "aud": endpoint, "jti": "u2", "exp": time.Now().Add(time.Minute).Unix()})
	tok.Header["kid"], tok.Header["jku"] = "k1", jwksSrv.URL
	withJKU, err := tok.SignedString(k1)
	if err != nil {
		t.Fatal(err)
	}
	if got := askToken(t, endpoint, "system/*.rs", withJKU); got.status != 200 {
		t.Errorf("assertion with the registered jku: got %d %s %s", got.status, got.Error, got.Desc)
	}

	mu.Lock()
	keys["k2"] = &k2.PublicKey
	mu.Unlock()
	rotated := sign(t, jwt.SigningMethodRS384, k2, "k2", jwt.MapClaims{
		"iss": "svc", "sub": "svc", "aud": endpoint, "jti": "u3", "exp": time.Now().Add(time.Minute).Unix()})
	if got := askToken(t, endpoint, "system/*.rs", rotated); got.status != 200 {
		t.Errorf("assertion by the added key k2: got %d %s %s", got.status, got.Error, got.Desc)
	}
}

// TestNew_ClientRegistration checks that a registration that could not
// work, or would grant more than a backend service gets, stops the server
// from starting with a message naming the client and the fault.
func TestNew_ClientRegistration(t *testing.T) {
	key := ecKey(t, elliptic.P384())
	jwks := jwksOf(t, map[string]crypto.PublicKey{"c1": &key.PublicKey})
	noKid := jwksOf(t, map[string]crypto.PublicKey{"": &key.PublicKey})
	private, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: "p1"}})
	if err != nil {
		t.Fatal(err)
	}
	privateSet, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{private.Marshal()}})
	oct := json.RawMessage(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`)

	tests := []struct {
		name    string
		clients []smart.Client
		wantErr string
	}{
		{"NoID", []smart.Client{{JWKS: jwks, Scope: "system/*.rs"}}, "client_id"},
		{"Twice", []smart.Client{{ID: "a", JWKS: jwks, Scope: "system/*.rs"}, {ID: "a", JWKS: jwks, Scope: "system/*.rs"}}, "twice"},
		{"NoKeys", []smart.Client{{ID: "a", Scope: "system/*.rs"}}, "jwks or jwks_url"},
		{"BothKeys", []smart.Client{{ID: "a", JWKS: jwks, JWKSURL: "https://a.example/jwks", Scope: "system/*.rs"}}, "not both"},
		{"NoScope", []smart.Client{{ID: "a", JWKS: jwks}}, "no scope"},
		{"MalformedScope", []smart.Client{{ID: "a", JWKS: jwks, Scope: "system/Invoice.sr"}}, `"system/Invoice.sr" is not`},
		{"PatientScope", []smart.Client{{ID: "a", JWKS: jwks, Scope: "patient/*.rs"}}, "system/ scopes only"},
		{"PrivateKey", []smart.Client{{ID: "a", JWKS: privateSet, Scope: "system/*.rs"}}, "private key"},
		{"KeyWithoutKid", []smart.Client{{ID: "a", JWKS: noKid, Scope: "system/*.rs"}}, "no kid"},
		{"SymmetricKey", []smart.Client{{ID: "a", JWKS: oct, Scope: "system/*.rs"}}, "RSA or EC"},
		{"NotAKeySet", []smart.Client{{ID: "a", JWKS: json.RawMessage(`[1]`), Scope: "system/*.rs"}}, "JWK Set"},
		{"PlainHTTPURL", []smart.Client{{ID: "a", JWKSURL: "http://keys.example/jwks", Scope: "system/*.rs"}}, "https"},
		{"BadInsurer", []smart.Client{{ID: "a", JWKS: jwks, Scope: "system/*.rs", Insurer: "Patient/x"}}, "Organization"},
	}
	reg := registry(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := smart.New(t.Context(), smart.Config{Base: "http://fhir.test/fhir", Registry: reg,
				Clients: tt.clients, Replay: nopReplay{}})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), private.Marshal().D) {
				t.Errorf("the error echoes the private key")
			}
		})
	}
	if _, err := smart.New(t.Context(), smart.Config{Base: "http://fhir.test/fhir", Registry: reg, Replay: nopReplay{},
		Clients: []smart.Client{{ID: "ok", JWKS: jwks, Scope: "system/Claim.rs system/Coverage.read", Insurer: "ins-a"}}}); err != nil {
		t.Errorf("a valid registration: %v", err)
	}
}
