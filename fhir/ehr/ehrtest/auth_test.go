package ehrtest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
)

// assertion signs a client assertion for client "app" with key and kid.
func assertion(t *testing.T, key any, method jwt.SigningMethod, kid string, claims jwt.RegisteredClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tokenRequest posts a client-credentials request and returns the status
// and the decoded answer.
func tokenRequest(t *testing.T, srv *ehrtest.Server, assertion string) (int, map[string]any) {
	t.Helper()
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {"system/Encounter.read system/Claim.write"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	resp, err := http.PostForm(srv.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestTokenEndpoint_Assertions(t *testing.T) {
	srv := ehrtest.New(nil)
	ehrtest.Start(t, srv)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv.RegisterClient(ehrtest.Client{ID: "app", Key: &rsaKey.PublicKey, KeyID: "k1"})
	srv.RegisterClient(ehrtest.Client{ID: "ec-app", Key: &ecKey.PublicKey, KeyID: "k2"})

	now := time.Now()
	claims := func(iss, jti string, aud string, exp time.Duration) jwt.RegisteredClaims {
		return jwt.RegisteredClaims{
			Issuer: iss, Subject: iss, Audience: jwt.ClaimStrings{aud}, ID: jti,
			ExpiresAt: jwt.NewNumericDate(now.Add(exp)), IssuedAt: jwt.NewNumericDate(now),
		}
	}
	good := assertion(t, rsaKey, jwt.SigningMethodRS384, "k1", claims("app", "jti-1", srv.TokenURL(), 4*time.Minute))

	status, body := tokenRequest(t, srv, good)
	if status != http.StatusOK {
		t.Fatalf("a correct assertion: %d %v", status, body)
	}
	if body["scope"] != "system/Encounter.read" || body["token_type"] != "bearer" {
		t.Errorf("granted %v: want only system/Encounter.read, narrower than asked", body)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.Base()+"/Encounter", nil)
	req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a search with the token: %d", resp.StatusCode)
	}

	ecGood := assertion(t, ecKey, jwt.SigningMethodES384, "k2", claims("ec-app", "jti-1", srv.TokenURL(), time.Minute))
	if status, body := tokenRequest(t, srv, ecGood); status != http.StatusOK {
		t.Errorf("a correct ES384 assertion: %d %v", status, body)
	}

	refused := map[string]string{
		"WrongKey": assertion(t, otherKey, jwt.SigningMethodRS384, "k1",
			claims("app", "jti-2", srv.TokenURL(), time.Minute)),
		"Expired": assertion(t, rsaKey, jwt.SigningMethodRS384, "k1",
			claims("app", "jti-3", srv.TokenURL(), -time.Minute)),
		"WrongAudience": assertion(t, rsaKey, jwt.SigningMethodRS384, "k1",
			claims("app", "jti-4", srv.Base(), time.Minute)),
		"TooFarAhead": assertion(t, rsaKey, jwt.SigningMethodRS384, "k1",
			claims("app", "jti-5", srv.TokenURL(), time.Hour)),
		"WrongKid": assertion(t, rsaKey, jwt.SigningMethodRS384, "k9",
			claims("app", "jti-6", srv.TokenURL(), time.Minute)),
		"WeakAlgorithm": assertion(t, rsaKey, jwt.SigningMethodRS256, "k1",
			claims("app", "jti-7", srv.TokenURL(), time.Minute)),
		"Replayed": good,
	}
	why := map[string]string{
		"WrongKey": "signature", "Expired": "expired", "WrongAudience": "aud", "TooFarAhead": "five minutes",
		"WrongKid": "not valid", "WeakAlgorithm": "RS384 or ES384", "Replayed": "jti",
	}
	for name, a := range refused {
		t.Run(name, func(t *testing.T) {
			status, body := tokenRequest(t, srv, a)
			if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
				t.Errorf("answered %d %v, want 401 invalid_client", status, body)
			}
			desc, _ := body["error_description"].(string)
			if !strings.Contains(desc, why[name]) {
				t.Errorf("refused because %q, want a reason naming %q", desc, why[name])
			}
			if strings.Contains(desc, a) {
				t.Errorf("the error echoes the assertion")
			}
		})
	}

	// A forged assertion did not burn the jti it names: a genuine one
	// with jti-2 is still accepted.
	genuine := assertion(t, rsaKey, jwt.SigningMethodRS384, "k1", claims("app", "jti-2", srv.TokenURL(), time.Minute))
	if status, body := tokenRequest(t, srv, genuine); status != http.StatusOK {
		t.Errorf("genuine assertion after a forged one with its jti: %d %v", status, body)
	}
}
