package main

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/rest"
)

// TestServe_Auth runs `fhirbill serve` with authorization on and a
// configuration the test wrote: no token is a 401 with a challenge and an
// OperationOutcome; a backend client gets a token from the built-in
// endpoint with a signed assertion and reads, searches and writes what
// its scopes allow; the same assertion replayed is refused; `fhirbill
// token` does the same flow; a token outlives a restart because the
// signing key is configured; no token reaches the logs.
func TestServe_Auth(t *testing.T) {
	dir := t.TempDir()
	f := writeAuthConfig(t, dir, true)
	data := filepath.Join(dir, "data")
	// A fixed port: the base URL, the tokens' iss and aud, must stay the
	// same across the restart at the end.
	listen := "--listen=" + freeAddr(t)
	base, logs, stop := startServeWith(t, data, listen, "--auth-config", f.config)
	defer func() { stop() }()

	t.Run("NoToken", func(t *testing.T) {
		status, h, body := call(t, "GET", base+"/Invoice", "", "")
		issues, _ := body["issue"].([]any)
		if status != 401 || h.Get("WWW-Authenticate") != `Bearer realm="fhirbill"` ||
			body["resourceType"] != "OperationOutcome" || len(issues) != 1 ||
			issues[0].(map[string]any)["code"] != "login" {
			t.Errorf("got %d %q %v, want 401, Bearer realm=\"fhirbill\", an OperationOutcome with a login issue",
				status, h.Get("WWW-Authenticate"), body)
		}
		if status, _, _ := call(t, "GET", base+"/metadata", "", ""); status != 200 {
			t.Errorf("metadata without a token: got %d, want 200", status)
		}
	})

	status, _, conf := call(t, "GET", base+"/.well-known/smart-configuration", "", "")
	tokenURL, _ := conf["token_endpoint"].(string)
	if status != 200 || tokenURL != base+"/auth/token" {
		t.Fatalf("smart-configuration: %d token_endpoint %q, want %s/auth/token", status, tokenURL, base)
	}

	assertion := f.assertionFor(t, tokenURL, "e2e-jti-1")
	tr := postToken(t, tokenURL, "system/*.rs system/Invoice.cu", assertion)
	if tr.status != 200 || tr.Scope != "system/*.rs system/Invoice.cu" || tr.ExpiresIn != 120 {
		t.Fatalf("token: got %d %+v, want 200 with both scopes and the configured 2 minutes", tr.status, tr)
	}
	tok := tr.AccessToken

	t.Run("UseToken", func(t *testing.T) {
		inv := `{"resourceType":"Invoice","id":"inv-1","status":"issued","totalNet":{"value":10.50,"currency":"USD"}}`
		if status, _, body := call(t, "PUT", base+"/Invoice/inv-1", tok, inv); status != 201 {
			t.Fatalf("PUT: got %d %v, want 201", status, body)
		}
		if status, _, body := call(t, "GET", base+"/Invoice/inv-1", tok, ""); status != 200 || body["id"] != "inv-1" {
			t.Errorf("read: got %d %v, want 200 inv-1", status, body)
		}
		if status, _, body := call(t, "GET", base+"/Invoice?status=issued&_total=accurate", tok, ""); status != 200 ||
			body["total"] != float64(1) {
			t.Errorf("search: got %d total %v, want 200 total 1", status, body["total"])
		}
		status, h, _ := call(t, "DELETE", base+"/Invoice/inv-1", tok, "")
		if status != 403 || !strings.Contains(h.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Errorf("delete without .d: got %d %q, want 403 insufficient_scope", status, h.Get("WWW-Authenticate"))
		}
	})

	t.Run("Replay", func(t *testing.T) {
		again := postToken(t, tokenURL, "system/*.rs", assertion)
		if again.status != 401 || again.Error != "invalid_client" || again.AccessToken != "" {
			t.Errorf("replayed assertion: got %d %+v, want 401 invalid_client", again.status, again)
		}
	})

	t.Run("TokenCommand", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"token", "--base-url", base, "--client-id", e2eClient,
			"--key-file", f.keyFile, "--kid", "e2e-k1", "--scope", "system/Invoice.rs"}, &out, &errOut)
		if err != nil {
			t.Fatalf("fhirbill token: %v %s", err, errOut.String())
		}
		cmdTok := strings.TrimSpace(out.String())
		if status, _, _ := call(t, "GET", base+"/Invoice/inv-1", cmdTok, ""); status != 200 {
			t.Errorf("read with the printed token: got %d, want 200", status)
		}
		if status, _, _ := call(t, "GET", base+"/Patient", cmdTok, ""); status != 403 {
			t.Errorf("Patient search with system/Invoice.rs: got %d, want 403", status)
		}
		err = run(context.Background(), []string{"token", "--base-url", base, "--client-id", "nobody",
			"--key-file", f.keyFile, "--kid", "e2e-k1"}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "invalid_client") {
			t.Errorf("an unregistered client: got %v, want invalid_client", err)
		}
	})

	t.Run("LaunchToken", func(t *testing.T) {
		// Two patients' invoices, stored by the backend client.
		for _, p := range []string{"pa", "pb"} {
			inv := `{"resourceType":"Invoice","id":"inv-` + p + `","status":"issued","subject":{"reference":"Patient/` + p + `"}}`
			if status, _, body := call(t, "PUT", base+"/Invoice/inv-"+p, tok, inv); status != 201 {
				t.Fatalf("PUT inv-%s: %d %v", p, status, body)
			}
		}
		var out bytes.Buffer
		err := run(context.Background(), []string{"launch-token", "--auth-config", f.config, "--base-url", base,
			"--patient", "pa"}, &out, io.Discard)
		if err != nil {
			t.Fatalf("fhirbill launch-token: %v", err)
		}
		pt := strings.TrimSpace(out.String())
		_, _, bundle := call(t, "GET", base+"/Invoice?_total=accurate", pt, "")
		if bundle["total"] != float64(1) {
			t.Errorf("patient pa's invoice search: total %v, want 1 (inv-pa only)", bundle["total"])
		}
		if status, _, _ := call(t, "GET", base+"/Invoice/inv-pb", pt, ""); status != 404 {
			t.Errorf("pa reading pb's invoice: got %d, want 404", status)
		}
		noKey := writeAuthConfig(t, t.TempDir(), false)
		err = run(context.Background(), []string{"launch-token", "--auth-config", noKey.config, "--patient", "pa"}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "signing key") {
			t.Errorf("without a signing key: got %v, want an error naming it", err)
		}
	})

	// token and launch-token read FHIRBILL_BASE_URL as serve does: on a
	// port other than 8080, either it or --base-url names the server, and a
	// token command that reaches no server says so.
	t.Run("BaseURLFromEnvironment", func(t *testing.T) {
		t.Setenv("FHIRBILL_BASE_URL", base)
		var out bytes.Buffer
		if err := run(context.Background(), []string{"token", "--client-id", e2eClient, "--key-file", f.keyFile,
			"--kid", "e2e-k1", "--scope", "system/Invoice.rs"}, &out, io.Discard); err != nil {
			t.Fatalf("fhirbill token with FHIRBILL_BASE_URL: %v", err)
		}
		if status, _, _ := call(t, "GET", base+"/Invoice/inv-1", strings.TrimSpace(out.String()), ""); status != 200 {
			t.Errorf("read with the token: got %d, want 200", status)
		}
		out.Reset()
		if err := run(context.Background(), []string{"launch-token", "--auth-config", f.config, "--patient", "pa"},
			&out, io.Discard); err != nil {
			t.Fatalf("fhirbill launch-token with FHIRBILL_BASE_URL: %v", err)
		}
		if status, _, _ := call(t, "GET", base+"/Invoice/inv-pa", strings.TrimSpace(out.String()), ""); status != 200 {
			t.Errorf("read with the launch token: got %d, want 200", status)
		}

		t.Setenv("FHIRBILL_BASE_URL", "http://"+freeAddr(t)+"/fhir") // nothing listens there
		err := run(context.Background(), []string{"token", "--client-id", e2eClient, "--key-file", f.keyFile},
			io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--base-url") ||
			!strings.Contains(err.Error(), "FHIRBILL_BASE_URL") {
			t.Errorf("token with no server at the base URL: got %v, "+
				"want a hint naming --base-url and FHIRBILL_BASE_URL", err)
		}
	})

	t.Run("Metadata", func(t *testing.T) {
		_, _, cs := call(t, "GET", base+"/metadata", "", "")
		b, _ := json.Marshal(cs)
		if !strings.Contains(string(b), `"SMART-on-FHIR"`) || !strings.Contains(string(b), base+"/auth/token") ||
			strings.Contains(string(b), rest.AuthOffNotice) {
			t.Errorf("CapabilityStatement security: %.600s", b)
		}
	})

	stop()
	if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), strings.Split(assertion, ".")[2]) {
		t.Errorf("the logs hold a token or an assertion")
	}
	if on := logLines(logs.String(), "authorization on"); len(on) != 1 || on[0]["clients"] != float64(1) {
		t.Errorf("start summary: %v, want one 'authorization on' line with clients 1", on)
	}
	if w := logLines(logs.String(), "no signing key"); len(w) != 0 {
		t.Errorf("a signing key is configured, yet: %v", w)
	}

	// The configured signing key signs the same way after a restart.
	base, _, stop = startServeWith(t, data, listen, "--auth-config", f.config)
	if status, _, _ := call(t, "GET", base+"/Invoice/inv-1", tok, ""); status != 200 {
		t.Errorf("the token after a restart with the same signing key: got %d, want 200", status)
	}
}

// TestServe_AuthGeneratedKey starts serve with clients but no signing
// key: it warns, and its tokens die with the process.
func TestServe_AuthGeneratedKey(t *testing.T) {
	dir := t.TempDir()
	f := writeAuthConfig(t, dir, false)
	data := filepath.Join(dir, "data")
	listen := "--listen=" + freeAddr(t) // the same base URL on both processes
	base, logs, stop := startServeWith(t, data, listen, "--auth-config", f.config)
	w := logLines(logs.String(), "no signing key configured")
	if len(w) != 1 || w[0]["level"] != "WARN" {
		t.Errorf("got %v, want one Warn about the generated key", w)
	}
	tr := postToken(t, base+"/auth/token", "system/*.rs", f.assertionFor(t, base+"/auth/token", "gen-1"))
	if status, _, _ := call(t, "GET", base+"/Invoice", tr.AccessToken, ""); tr.status != 200 || status != 200 {
		t.Fatalf("token %d, search %d: want 200, 200", tr.status, status)
	}
	stop()

	base, _, stop = startServeWith(t, data, listen, "--auth-config", f.config)
	defer stop()
	if status, _, _ := call(t, "GET", base+"/Invoice", tr.AccessToken, ""); status != 401 {
		t.Errorf("the first process's token on the second: got %d, want 401 (another generated key)", status)
	}
}

// TestServe_AuthOff runs serve --auth=off: a Warn at start and the notice
// on /metadata, and every request served.
func TestServe_AuthOff(t *testing.T) {
	base, logs, stop := startServeWith(t, t.TempDir(), "--auth=off")
	defer stop()
	w := logLines(logs.String(), "authorization is off")
	if len(w) != 1 || w[0]["level"] != "WARN" || w[0]["notice"] != rest.AuthOffNotice {
		t.Errorf("start logs: %v, want one Warn 'authorization is off' with the notice", w)
	}
	_, _, cs := call(t, "GET", base+"/metadata", "", "")
	b, _ := json.Marshal(cs)
	if !strings.Contains(string(b), `"security":{"description":"`+rest.AuthOffNotice+`"}`) {
		t.Errorf("metadata does not say auth is off: %.600s", b)
	}
	if status, _, _ := call(t, "GET", base+"/Invoice", "", ""); status != 200 {
		t.Errorf("search without a token: got %d, want 200", status)
	}
}

// TestServe_AuthRefusesToStart checks that serve with authorization on
// does not start on a configuration that cannot work, and says what to
// configure.
func TestServe_AuthRefusesToStart(t *testing.T) {
	if os.Getenv("MONGODB_URI") != "" {
		t.Setenv("MONGODB_URI", "")
	}
	dir := t.TempDir()
	good := writeAuthConfig(t, dir, true)
	goodJSON, _ := os.ReadFile(good.config)
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, []byte(content))
		return p
	}
	edit := func(name string, change func(map[string]any)) string {
		var m map[string]any
		_ = json.Unmarshal(goodJSON, &m)
		change(m)
		b, _ := json.Marshal(m)
		return file(name, string(b))
	}
	writeFile(t, filepath.Join(dir, "garbage.pem"), []byte("not a key"))

	tests := []struct {
		name    string
		flags   []string
		wantErr []string
	}{
		{"NoConfig", nil, []string{"nothing can get a token", "--auth-config", "--auth=off"}},
		{"EmptyConfig", []string{"--auth-config", file("empty.json", `{"clients":[]}`)}, []string{"nothing can get a token"}},
		{"UnknownField", []string{"--auth-config", file("unknown.json", `{"client":[]}`)}, []string{"unknown field"}},
		{"TokenTTL", []string{"--auth-config", edit("ttl.json", func(m map[string]any) { m["token_ttl"] = "2h" })}, []string{"token_ttl"}},
		{"NoSigningKeyFile", []string{"--auth-config", edit("nokey.json", func(m map[string]any) { m["signing_key_file"] = "missing.pem" })},
			[]string{"signing_key_file"}},
		{"BadSigningKey", []string{"--auth-config", edit("badkey.json", func(m map[string]any) { m["signing_key_file"] = "garbage.pem" })},
			[]string{"signing key", "PEM"}},
		{"TwoSigningKeys", []string{"--auth-config", edit("two.json", func(m map[string]any) { m["signing_key_env"] = "X" })},
			[]string{"not both"}},
		{"EmptySigningKeyEnv", []string{"--auth-config", edit("env.json", func(m map[string]any) {
			delete(m, "signing_key_file")
			m["signing_key_env"] = "FHIRBILL_TEST_NO_SUCH_KEY"
		})}, []string{"$FHIRBILL_TEST_NO_SUCH_KEY is empty"}},
		{"PatientScopeClient", []string{"--auth-config", edit("scope.json", func(m map[string]any) {
			m["clients"].([]any)[0].(map[string]any)["scope"] = "patient/*.rs"
		})}, []string{e2eClient, "system/ scopes only"}},
		{"ExternalWithoutJWKS", []string{"--auth-config", edit("ext.json", func(m map[string]any) {
			m["external_issuer"] = map[string]any{"issuer": "https://idp.example"}
		})}, []string{"jwks_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data-"+tt.name)}, tt.flags...)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := run(ctx, args, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("serve started")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestToken_PrintJWKS prints the key set of a client key and registers it
// as printed: the server takes it, and an assertion signed by the key with
// the default kid (its thumbprint) gets a token.
func TestToken_PrintJWKS(t *testing.T) {
	dir := t.TempDir()
	key := genKey(t, elliptic.P384())
	keyFile := filepath.Join(dir, "client.pem")
	writeFile(t, keyFile, pemOf(t, key))
	var out bytes.Buffer
	if err := run(context.Background(), []string{"token", "--key-file", keyFile, "--print-jwks"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(out.Bytes(), &set); err != nil || len(set.Keys) != 1 || set.Keys[0]["d"] != nil ||
		set.Keys[0]["kid"] != ehr.Thumbprint(&key.PublicKey) || set.Keys[0]["alg"] != "ES384" {
		t.Fatalf("printed %s, want one public ES384 key with its thumbprint as kid", out.String())
	}
	cfg := `{"clients":[{"client_id":"printed","scope":"system/*.rs","jwks":` + strings.TrimSpace(out.String()) + `}]}`
	writeFile(t, filepath.Join(dir, "auth.json"), []byte(cfg))
	base, _, stop := startServeWith(t, filepath.Join(dir, "data"), "--auth-config", filepath.Join(dir, "auth.json"))
	defer stop()
	out.Reset()
	if err := run(context.Background(), []string{"token", "--base-url", base, "--client-id", "printed", "--key-file", keyFile},
		&out, io.Discard); err != nil {
		t.Fatalf("token with the printed key set registered: %v", err)
	}
	if status, _, _ := call(t, "GET", base+"/Invoice", strings.TrimSpace(out.String()), ""); status != 200 {
		t.Errorf("search: got %d, want 200", status)
	}
	if err := run(context.Background(), []string{"token", "--key-file", keyFile}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "--client-id") {
		t.Errorf("a token without --client-id: got %v, want an error naming it", err)
	}
}
