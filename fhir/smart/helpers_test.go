package smart_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/smart"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/profiles"
)

// extIssuer is an external authorization server: an RSA key published in
// a JWKS over real HTTP.
const extIssuer = "https://idp.example.test"

type env struct {
	t    *testing.T
	srv  *resttest.Server
	auth *smart.Server
	// key signs the external issuer's tokens, published as kid "k1".
	key *rsa.PrivateKey
	// own is the built-in issuer's signing key (ES256).
	own *ecdsa.PrivateKey
}

// start runs the API on a fresh store with SMART auth on, trusting the
// built-in issuer and extIssuer, with the given backend clients.
func start(t *testing.T, clients ...smart.Client) *env {
	t.Helper()
	return startExt(t, nil, clients...)
}

// startExt is start with the external issuer's configuration changed by
// ext (nil: left as it is).
func startExt(t *testing.T, ext func(*smart.External), clients ...smart.Client) *env {
	t.Helper()
	e := &env{t: t, key: rsaKey(t), own: ecKey(t, elliptic.P256())}
	jwks := jwksOf(t, map[string]crypto.PublicKey{"k1": &e.key.PublicKey})
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(idp.Close)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e.srv = resttest.NewWith(t, func(base string, st *store.Store, reg *search.Registry) rest.Config {
		x := &smart.External{Issuer: extIssuer, JWKSURL: idp.URL}
		if ext != nil {
			ext(x)
		}
		a, err := smart.New(ctx, smart.Config{Base: base, External: x, Clients: clients, Replay: st, Registry: reg,
			SigningKey: e.own})
		if err != nil {
			t.Fatalf("smart.New: %v", err)
		}
		e.auth = a
		return rest.Config{Base: base, Authorizer: a, Security: a.Security()}
	})
	e.auth.Mount(e.srv.API)
	return e
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// jwksOf prints public keys as a JWKS.
func jwksOf(t *testing.T, keys map[string]crypto.PublicKey) []byte {
	t.Helper()
	var set jwkset.JWKSMarshal
	for kid, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// token issues a built-in token for scopes, with patient in context
// when not "".
func (e *env) token(scopes, patient string) string {
	e.t.Helper()
	tok, err := e.auth.IssueToken(e.t.Context(), smart.TokenRequest{Subject: "test-client", Scope: scopes, Patient: patient})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// sign signs claims with method and key under kid.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// extClaims are valid claims of the external issuer for e's audience.
func (e *env) extClaims(scope string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": extIssuer, "sub": "app", "aud": e.srv.Base, "scope": scope,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
}

// ext signs a token of the external issuer for scope, with patient in
// context when not "": the way scopes fhirbill would never issue itself
// (malformed ones) reach it.
func (e *env) ext(scope, patient string) string {
	e.t.Helper()
	c := e.extClaims(scope)
	if patient != "" {
		c["patient"] = patient
	}
	return sign(e.t, jwt.SigningMethodRS256, e.key, "k1", c)
}

// as sends a request with a bearer token.
func (e *env) as(tok, method, path string, body string) *resttest.Response {
	e.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	if tok == "" {
		return e.srv.Do(method, path, b)
	}
	return e.srv.Do(method, path, b, "Authorization", "Bearer "+tok)
}

// put stores a resource with a full-power token.
func (e *env) put(typ, id, body string) {
	e.t.Helper()
	admin := e.token("system/*.cruds", "")
	r := e.as(admin, "PUT", "/"+typ+"/"+id, body)
	if r.Status != 201 && r.Status != 200 {
		e.t.Fatalf("PUT %s/%s: status %d: %s", typ, id, r.Status, r.Body)
	}
}

// outcome returns the first issue's code and diagnostics.
func outcome(r *resttest.Response) (code, diag string) {
	m := r.JSON()
	issues, _ := m["issue"].([]any)
	if len(issues) == 0 {
		return "", ""
	}
	is, _ := issues[0].(map[string]any)
	code, _ = is["code"].(string)
	diag, _ = is["diagnostics"].(string)
	return code, diag
}

// ids lists "Type/id (mode)" of a Bundle's entries.
func ids(r *resttest.Response) []string {
	var out []string
	entries, _ := r.JSON()["entry"].([]any)
	for _, e := range entries {
		m := e.(map[string]any)
		res, _ := m["resource"].(map[string]any)
		mode := ""
		if s, ok := m["search"].(map[string]any); ok {
			mode = " (" + s["mode"].(string) + ")"
		}
		if res != nil {
			out = append(out, fmt.Sprintf("%s/%s%s", res["resourceType"], res["id"], mode))
		}
	}
	return out
}

func total(r *resttest.Response) string {
	return fmt.Sprint(r.JSON()["total"])
}

// jwtRS256 is the external issuer's signing method.
var jwtRS256 = jwt.SigningMethodRS256

// Fixtures: minimal valid R4 resources.

func patient(id string) string { return `{"resourceType":"Patient","id":"` + id + `","active":true}` }

func invoice(id, subject, status string, recipient string) string {
	s := `{"resourceType":"Invoice",`
	if id != "" {
		s += `"id":"` + id + `",`
	}
	s += `"status":"` + status + `","subject":{"reference":"Patient/` + subject + `"}`
	if recipient != "" {
		s += `,"recipient":{"reference":"` + recipient + `"}`
	}
	return s + `}`
}

func claim(id, pat, insurer string) string {
	return `{"resourceType":"Claim","id":"` + id + `","status":"active",` +
		`"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},` +
		`"use":"claim","patient":{"reference":"Patient/` + pat + `"},"created":"2025-01-02",` +
		`"insurer":{"reference":"Organization/` + insurer + `"},"provider":{"reference":"Organization/clinic"},` +
		`"priority":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/processpriority","code":"normal"}]},` +
		`"insurance":[{"sequence":1,"focal":true,"coverage":{"reference":"Coverage/cov-` + pat + `"}}]}`
}

func coverage(id, pat, payor string) string {
	return `{"resourceType":"Coverage","id":"` + id + `","status":"active",` +
		`"beneficiary":{"reference":"Patient/` + pat + `"},"payor":[{"reference":"Organization/` + payor + `"}]}`
}

func chargeItem(id, pat string) string {
	return `{"resourceType":"ChargeItem","id":"` + id + `","status":"billable",` +
		`"code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]},` +
		`"subject":{"reference":"Patient/` + pat + `"}}`
}

// registry loads fhirbill's search parameters.
func registry(t *testing.T) *search.Registry {
	t.Helper()
	reg, err := search.Load(profiles.SearchParameters)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// nopReplay is a replay store for servers that issue nothing in the test.
type nopReplay struct{}

func (nopReplay) UseOnce(context.Context, string, time.Time, time.Time) error { return nil }
