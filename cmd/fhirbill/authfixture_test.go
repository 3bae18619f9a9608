package main

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// The fixtures of the authorization tests of serve: keys, an auth
// configuration, a backend client's requests.

// authFixture is an auth configuration the test wrote, with the keys it
// made: the client's (EC P-384, registered inline as kid "e2e-k1") and,
// when asked for, the built-in issuer's signing key (EC P-256).
type authFixture struct {
	config    string // the --auth-config file
	clientKey *ecdsa.PrivateKey
	keyFile   string // the client's private key, PEM
}

const e2eClient = "e2e-client"

func genKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(t *testing.T, k crypto.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeAuthConfig writes an auth configuration in dir registering
// e2eClient for system/*.rs and system/Invoice.cu, with a signing key file
// when signingKey.
func writeAuthConfig(t *testing.T, dir string, signingKey bool) authFixture {
	t.Helper()
	f := authFixture{clientKey: genKey(t, elliptic.P384()), keyFile: filepath.Join(dir, "client.pem")}
	writeFile(t, f.keyFile, pemOf(t, f.clientKey))
	jwk, err := jwkset.NewJWKFromKey(&f.clientKey.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: "e2e-k1", USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"token_ttl": "2m",
		"clients": []any{map[string]any{
			"client_id": e2eClient, "scope": "system/*.rs system/Invoice.cu",
			"jwks": jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}},
		}},
	}
	if signingKey {
		writeFile(t, filepath.Join(dir, "signing.pem"), pemOf(t, genKey(t, elliptic.P256())))
		cfg["signing_key_file"] = "signing.pem" // relative to the config file
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.config = filepath.Join(dir, "auth.json")
	writeFile(t, f.config, b)
	return f
}

// assertionFor signs a client assertion for e2eClient, as a backend
// service would (backend-services.html, "Protocol details").
func (f authFixture) assertionFor(t *testing.T, tokenURL, jti string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES384, jwt.MapClaims{
		"iss": e2eClient, "sub": e2eClient, "aud": tokenURL, "jti": jti,
		"exp": time.Now().Add(4 * time.Minute).Unix(),
	})
	tok.Header["kid"] = "e2e-k1"
	s, err := tok.SignedString(f.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type tokenResponse struct {
	status      int
	AccessToken string `json:"access_token"`
	Scope       string `json:"scope"`
	ExpiresIn   int    `json:"expires_in"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func postToken(t *testing.T, tokenURL, scope, assertion string) tokenResponse {
	t.Helper()
	resp, err := http.PostForm(tokenURL, url.Values{
		"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatalf("token answer %d is not JSON: %v", resp.StatusCode, err)
	}
	tr.status = resp.StatusCode
	return tr
}

// call sends a request with an optional bearer token and FHIR body.
func call(t *testing.T, method, u, token, body string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, resp.Header, m
}

// logLines returns the JSON log lines whose msg starts with prefix.
func logLines(logs string, prefix string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
				out = append(out, m)
			}
		}
	}
	return out
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
