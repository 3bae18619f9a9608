package smart_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/smart"
)

// TestConfiguration_BuiltIn reads the smart-configuration of a server whose
// only token endpoint is the built-in one, field by field as
// conformance.html#metadata lists them, and the keys it points to.
func TestConfiguration_BuiltIn(t *testing.T) {
	e := start(t)
	r := e.srv.Do("GET", "/.well-known/smart-configuration", nil, "Accept", "application/fhir+xml")
	var conf struct {
		Issuer        *string  `json:"issuer"`
		JWKSURI       string   `json:"jwks_uri"`
		Authorize     *string  `json:"authorization_endpoint"`
		Token         string   `json:"token_endpoint"`
		GrantTypes    []string `json:"grant_types_supported"`
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
		AuthAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
		Scopes        []string `json:"scopes_supported"`
		Capabilities  []string `json:"capabilities"`
		CodeChallenge []string `json:"code_challenge_methods_supported"`
	}
	// JSON whatever the Accept header asks (conformance.html: "SHALL be JSON").
	if err := json.Unmarshal(r.Body, &conf); err != nil || r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("smart-configuration: %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	want := []struct {
		field string
		ok    bool
	}{
		{"issuer omitted without sso-openid-connect", conf.Issuer == nil},
		{"no authorization_endpoint without a launch", conf.Authorize == nil},
		{"token_endpoint", conf.Token == e.srv.Base+"/auth/token"},
		{"jwks_uri", conf.JWKSURI == e.srv.Base+"/.well-known/jwks.json"},
		{"grant_types_supported", slices.Equal(conf.GrantTypes, []string{"client_credentials"})},
		{"token_endpoint_auth_methods_supported", slices.Equal(conf.AuthMethods, []string{"private_key_jwt"})},
		{"signing algs hold RS384 and ES384", slices.Contains(conf.AuthAlgs, "RS384") && slices.Contains(conf.AuthAlgs, "ES384")},
		{"signing algs hold no HS*", !slices.ContainsFunc(conf.AuthAlgs, func(a string) bool { return strings.HasPrefix(a, "HS") })},
		{"scopes only system/", !slices.ContainsFunc(conf.Scopes, func(s string) bool { return !strings.HasPrefix(s, "system/") })},
		{"capabilities", slices.Equal(conf.Capabilities, []string{"client-confidential-asymmetric", "permission-v1", "permission-v2"})},
		{"code_challenge_methods_supported", slices.Equal(conf.CodeChallenge, []string{"S256"})},
	}
	for _, w := range want {
		if !w.ok {
			t.Errorf("%s: wrong in %s", w.field, r.Body)
		}
	}

	keys := e.srv.Do("GET", "/.well-known/jwks.json", nil)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(keys.Body, &set); err != nil || len(set.Keys) != 1 || set.Keys[0]["kid"] != e.auth.KeyID() ||
		set.Keys[0]["d"] != nil {
		t.Errorf("jwks: %s, want the one public key with kid %s", keys.Body, e.auth.KeyID())
	}
}

// TestConfiguration_External checks the discovery document of a server
// with an external authorization server for user-facing apps.
func TestConfiguration_External(t *testing.T) {
	reg := registry(t)
	ext := &smart.External{Issuer: "https://idp.example/realms/x", JWKSURL: "https://idp.example/realms/x/certs",
		AuthorizeURL: "https://idp.example/realms/x/auth", TokenURL: "https://idp.example/realms/x/token"}
	s, err := smart.New(t.Context(), smart.Config{Base: "https://bill.example/fhir", Registry: reg, External: ext})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s.Configuration())
	var conf map[string]any
	_ = json.Unmarshal(b, &conf)
	list := func(k string) []string {
		var out []string
		for _, v := range conf[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if conf["issuer"] != ext.Issuer || conf["jwks_uri"] != ext.JWKSURL || conf["authorization_endpoint"] != ext.AuthorizeURL ||
		conf["token_endpoint"] != ext.TokenURL {
		t.Errorf("endpoints: %s", b)
	}
	if !slices.Equal(list("grant_types_supported"), []string{"authorization_code"}) {
		t.Errorf("grant_types_supported = %v, want authorization_code", list("grant_types_supported"))
	}
	for _, c := range []string{"launch-standalone", "sso-openid-connect", "permission-patient", "permission-v2"} {
		if !slices.Contains(list("capabilities"), c) {
			t.Errorf("capabilities %v lack %s", list("capabilities"), c)
		}
	}
	if !slices.Contains(list("scopes_supported"), "patient/*.rs") || !slices.Equal(list("code_challenge_methods_supported"), []string{"S256"}) {
		t.Errorf("scopes or PKCE: %s", b)
	}
	if sec := string(s.Security()); !strings.Contains(sec, `"url":"authorize"`) || !strings.Contains(sec, ext.AuthorizeURL) {
		t.Errorf("security: %s, want the authorize URI", sec)
	}

	// Without sso-openid-connect the issuer is omitted, as the spec asks.
	ext.Capabilities = []string{"launch-ehr", "context-ehr-patient", "client-confidential-symmetric"}
	s, err = smart.New(t.Context(), smart.Config{Base: "https://bill.example/fhir", Registry: reg, External: ext})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(s.Configuration())
	if strings.Contains(string(b), `"issuer"`) || !strings.Contains(string(b), `"launch-ehr"`) {
		t.Errorf("configured capabilities without sso: %s", b)
	}

	for name, bad := range map[string]smart.External{
		"NoJWKS":        {Issuer: "https://idp.example"},
		"HalfEndpoints": {Issuer: "https://idp.example", JWKSURL: "https://idp.example/k", AuthorizeURL: "https://idp.example/a"},
		"PlainHTTP":     {Issuer: "https://idp.example", JWKSURL: "http://idp.example/k"},
		"SameAsBase":    {Issuer: "https://bill.example/fhir", JWKSURL: "https://idp.example/k"},
		"BadInsurer":    {Issuer: "https://idp.example", JWKSURL: "https://idp.example/k", Insurers: map[string]string{"c": "x/y"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := smart.New(t.Context(), smart.Config{Base: "https://bill.example/fhir", Registry: reg, External: &bad}); err == nil {
				t.Errorf("got no error for %+v", bad)
			}
		})
	}
}

// TestInsurer_ExternalClient maps a client of the external issuer to an
// insurer: its system token sees that insurer's claims only.
func TestInsurer_ExternalClient(t *testing.T) {
	e := startExt(t, func(x *smart.External) { x.Insurers = map[string]string{"payer-app": "Organization/ins-b"} })
	twoPatients(e)
	c := e.extClaims("system/Claim.rs system/Invoice.rs")
	c["client_id"] = "payer-app"
	tok := sign(t, jwtRS256, e.key, "k1", c)
	r := e.as(tok, "GET", "/Claim", "")
	if got := strings.Join(ids(r), ","); got != "Claim/claim-b (match)" {
		t.Errorf("Claim search: got %s, want claim-b only", got)
	}
	if r := e.as(tok, "GET", "/Invoice", ""); r.Status != 403 {
		t.Errorf("Invoice search: got %d, want 403", r.Status)
	}
	// Another client of the same issuer is not restricted.
	c["client_id"] = "staff-app"
	if r := e.as(sign(t, jwtRS256, e.key, "k1", c), "GET", "/Claim", ""); len(ids(r)) != 2 {
		t.Errorf("unmapped client: got %v, want both claims", ids(r))
	}
}
