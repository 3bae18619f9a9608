package ehr_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
)

// TestSync_LogsHoldNoSecrets runs a full sync, with a token renewed on a
// 401 and a resource refused, every component logging at debug level into
// one buffer, and looks for the private key, every token and every
// assertion in it.
func TestSync_LogsHoldNoSecrets(t *testing.T) {
	var logs logBuffer
	logger := logs.logger()

	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	jwk, err := jwkset.NewJWKFromKey(pk, jwkset.JWKOptions{
		Marshal: jwkset.JWKMarshalOptions{Private: true}, Metadata: jwkset.JWKMetadataOptions{KID: "k-env"},
	})
	if err != nil {
		t.Fatal(err)
	}
	jwkJSON, _ := json.Marshal(jwk.Marshal())

	srv := ehrtest.New(logger)
	ehrtest.Start(t, srv)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ehr.pem"), pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"connections": [
		{"name": "pem", "base": %q, "client_id": "fhirbill", "key_file": "ehr.pem", "kid": "k-pem", "page_size": 5},
		{"name": "jwk", "base": %q, "client_id": "fhirbill", "key_env": "EHR_KEY", "interval": "10m"}]}`,
		srv.Base(), srv.Base())
	path := filepath.Join(dir, "ehr.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	conns, err := ehr.LoadConnections(path, func(k string) string {
		if k == "EHR_KEY" {
			return string(jwkJSON)
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if conns[0].Key().Algorithm() != "RS384" || conns[1].Key().KeyID() != "k-env" || conns[1].Interval != 10*time.Minute {
		t.Fatalf("loaded %v and %v", conns[0].Key(), conns[1].Key())
	}
	srv.RegisterClient(ehrtest.Client{ID: "fhirbill", Key: &pk.PublicKey, KeyID: "k-pem"})

	addVisits(t, srv, "p1", 12)
	bad := `{"resourceType":"Encounter","id":"bad-1","status":"no-such-status","class":{"code":"AMB"},
		"subject":{"reference":"Patient/p1"}}`
	if err := srv.Put([]byte(bad)); err != nil {
		t.Fatal(err)
	}
	srv.ExpireTokensAfter(150 * time.Millisecond)
	srv.Slow(20 * time.Millisecond)

	l := newLocal(t, logger, nil)
	s, err := ehr.NewSyncer(ehr.Config{Connections: conns, Records: l.API, State: l.Store, Logger: logger,
		Bill: (&biller{}).Bill})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.Sync(t.Context(), "pem", nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Pulled["Encounter"] != 13 || len(sum.Skipped) != 1 || srv.TokenRequests() < 2 {
		t.Fatalf("pulled %v, skipped %v, %d tokens: the sync did not renew and skip as set up",
			sum.Pulled, sum.Skipped, srv.TokenRequests())
	}
	logger.Info("connections", "conns", conns, "key", conns[0].Key())

	out := logs.String()
	if !strings.Contains(out, `"ehr sync finished"`) || !strings.Contains(out, `"ehr resource skipped"`) {
		t.Fatalf("the log lacks the sync's lines:\n%s", out)
	}
	secrets := map[string]string{
		"PEM body":           strings.Split(string(pemKey), "\n")[1],
		"private exponent":   pk.D.String(),
		"JWK d":              base64.RawURLEncoding.EncodeToString(pk.D.Bytes()),
		"JWK d (marshalled)": jwk.Marshal().D,
		"prime p":            base64.RawURLEncoding.EncodeToString(pk.Primes[0].Bytes())[:40],
	}
	for i, sec := range srv.Secrets() {
		secrets[fmt.Sprintf("token or assertion %d", i)] = sec
		if parts := strings.Split(sec, "."); len(parts) == 3 {
			secrets[fmt.Sprintf("assertion %d signature", i)] = parts[2]
		}
	}
	if len(srv.Secrets()) < 4 {
		t.Fatalf("only %d tokens and assertions to look for", len(srv.Secrets()))
	}
	for what, sec := range secrets {
		if sec == "" {
			t.Fatalf("%s is empty", what)
		}
		if strings.Contains(out, sec) {
			t.Errorf("the log holds the %s", what)
		}
	}
	for _, v := range []string{fmt.Sprint(conns[0]), fmt.Sprintf("%+v", conns[0]), fmt.Sprintf("%#v", conns[0])} {
		if strings.Contains(v, pk.D.String()) || strings.Contains(v, "PRIVATE") {
			t.Errorf("printing a connection shows the key")
		}
	}
	t.Logf("looked for %d secrets in %d log lines", len(secrets), strings.Count(out, "\n"))
}
