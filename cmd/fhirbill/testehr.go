package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
)

// testehrCmd is `fhirbill testehr --bundles DIR`: the test EHR on Synthea
// bundles, to watch a pull end to end.
type testehrCmd struct {
	Bundles    string        `required:"" type:"existingdir" help:"Directory of FHIR Bundles (Synthea's) to serve."`
	Listen     string        `default:"127.0.0.1:9090" help:"Address to listen on (host:port)."`
	ClientID   string        `name:"client-id" default:"fhirbill" help:"Client id to register."`
	PublicKey  string        `name:"public-key" type:"existingfile" help:"The client's public key (PEM or JWK). Without it a key pair is made and the private key written to --key-out."`
	KeyOut     string        `name:"key-out" default:"testehr-key.pem" help:"Where to write the private key made when --public-key is not given."`
	ConfigOut  string        `name:"config-out" default:"testehr-connections.json" help:"Where to write a connections file for fhirbill (--ehr-config)."`
	Fail429    int           `name:"fail-429" help:"Answer the first N FHIR requests 429 with --retry-after."`
	RetryAfter time.Duration `name:"retry-after" default:"2s" help:"Retry-After of the 429s."`
	Fail500    int           `name:"fail-500" help:"Answer the next N FHIR requests 500."`
	Slow       time.Duration `help:"Wait this long before every FHIR answer."`
	TokenLife  time.Duration `name:"token-life" help:"Make tokens stop working after this, while expires_in says 5 minutes."`
}

// Run serves the test EHR until ctx ends.
func (c *testehrCmd) Run(ctx context.Context, stdout io.Writer, logOut logOutput) error {
	logger := newLogger(logOut, "info")
	srv := ehrtest.New(logger)
	files, n, err := srv.LoadDir(c.Bundles)
	if err != nil {
		return fmt.Errorf("--bundles: %w", err)
	}
	if files == 0 {
		return fmt.Errorf("--bundles: no *.json bundles in %s", c.Bundles)
	}

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	srv.SetURL("http://" + ln.Addr().String())

	pub, kid, err := c.clientKey()
	if err != nil {
		return err
	}
	srv.RegisterClient(ehrtest.Client{ID: c.ClientID, Key: pub, KeyID: kid})
	srv.TooManyRequests(c.Fail429, c.RetryAfter)
	srv.ServerErrors(c.Fail500)
	srv.Slow(c.Slow)
	srv.ExpireTokensAfter(c.TokenLife)
	if err := c.writeConfig(srv.Base()); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "test EHR: %d resources (%d Encounters) from %d bundles\n", n, srv.Count("Encounter"), files)
	fmt.Fprintf(stdout, "  FHIR base:  %s\n  token URL:  %s\n  client id:  %s (kid %s)\n",
		srv.Base(), srv.TokenURL(), c.ClientID, kid)
	self := selfCommand(os.Args[0], os.TempDir())
	fmt.Fprintf(stdout, "pull it with:\n  %s sync --ehr-config %s --ehr testehr\n", self, c.ConfigOut)
	fmt.Fprintf(stdout, "(serve --ehr-config %s pulls and bills it every %s: the file's interval)\n",
		c.ConfigOut, testehrInterval)

	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// clientKey reads --public-key, or makes an ES384 key pair and writes the
// private key to --key-out (mode 0600).
func (c *testehrCmd) clientKey() (any, string, error) {
	if c.PublicKey != "" {
		data, err := os.ReadFile(c.PublicKey)
		if err != nil {
			return nil, "", err
		}
		if block, _ := pem.Decode(data); block != nil {
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, "", fmt.Errorf("--public-key: not a PEM public key")
			}
			return pub, ehr.Thumbprint(pub), nil
		}
		jwk, err := jwkset.NewJWKFromRawJSON(data, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			return nil, "", fmt.Errorf("--public-key: neither PEM nor a JWK")
		}
		kid := jwk.Marshal().KID
		if kid == "" {
			kid = ehr.Thumbprint(jwk.Key())
		}
		return jwk.Key(), kid, nil
	}
	pk, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		return nil, "", err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.WriteFile(c.KeyOut, out, 0o600); err != nil {
		return nil, "", fmt.Errorf("--key-out: %w", err)
	}
	return &pk.PublicKey, ehr.Thumbprint(&pk.PublicKey), nil
}

// testehrInterval is the interval of the connections file testehr writes:
// serve with that file pulls (and bills) on this schedule.
const testehrInterval = "1m"

// writeConfig writes a connections file naming the test EHR.
func (c *testehrCmd) writeConfig(base string) error {
	conn := map[string]any{"name": "testehr", "base": base, "client_id": c.ClientID, "interval": testehrInterval}
	if c.PublicKey == "" {
		abs, err := filepath.Abs(c.KeyOut)
		if err != nil {
			return err
		}
		conn["key_file"] = abs
	} else {
		conn["key_env"] = "FHIRBILL_TESTEHR_KEY"
	}
	b, err := json.MarshalIndent(map[string]any{"connections": []any{conn}}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(c.ConfigOut, append(b, '\n'), 0o600)
}

// selfCommand is how to run this program again, from arg0 (os.Args[0]):
// a binary go run built under tmp is named as go run, any other as given.
func selfCommand(arg0, tmp string) string {
	if rel, err := filepath.Rel(tmp, arg0); err == nil && strings.HasPrefix(rel, "go-build") {
		return "go run ./cmd/fhirbill"
	}
	return arg0
}
