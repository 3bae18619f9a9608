package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/smart"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// authFlags switch authorization and name its configuration; serve takes
// them.
type authFlags struct {
	Auth       string `default:"on" enum:"on,off" env:"FHIRBILL_AUTH" help:"Authorization of every FHIR request by SMART bearer token: on, or off for local trials only (every request is then served)."`
	AuthConfig string `name:"auth-config" env:"FHIRBILL_AUTH_CONFIG" type:"existingfile" help:"JSON file of the backend-services clients, external issuer, signing key and token lifetime (see README, 'Authorization')."`
}

// authFile is the --auth-config file. Unknown fields are refused.
type authFile struct {
	// Clients are the backend-services clients of the built-in token
	// endpoint.
	Clients []smart.Client `json:"clients"`
	// External is an external authorization server for user-facing apps.
	External *smart.External `json:"external_issuer"`
	// SigningKeyFile (relative to the file) or SigningKeyEnv (the name of
	// an environment variable) holds the built-in issuer's private key.
	SigningKeyFile string `json:"signing_key_file"`
	SigningKeyEnv  string `json:"signing_key_env"`
	// TokenTTL is the lifetime of the tokens the built-in endpoint issues.
	TokenTTL string `json:"token_ttl"`
}

// authConfig is the validated configuration of the built-in issuer and
// the tokens fhirbill accepts.
type authConfig struct {
	path       string // the file, for messages
	clients    []smart.Client
	external   *smart.External
	signingKey crypto.Signer // nil: generated at start
	tokenTTL   time.Duration
}

// errNothingIssues refuses auth on with nothing that could issue or accept
// a token: every request would be a 401.
var errNothingIssues = errors.New("authorization is on, but nothing can get a token: " +
	"register backend-services clients or an external issuer in the file named by --auth-config " +
	"(README, \"Authorization\"), or run with --auth=off for a local trial")

// load reads and checks --auth-config; nil with auth off. What can be
// checked without the store is checked here, before the server starts.
func (f *authFlags) load(getenv func(string) string) (*authConfig, error) {
	if f.Auth == "off" {
		return nil, nil
	}
	if f.AuthConfig == "" {
		return nil, errNothingIssues
	}
	cfg, err := loadAuthFile(f.AuthConfig, getenv)
	if err != nil {
		return nil, fmt.Errorf("--auth-config %s: %w", f.AuthConfig, err)
	}
	if len(cfg.clients) == 0 && cfg.external == nil {
		return nil, errNothingIssues
	}
	return cfg, nil
}

// loadAuthFile reads an auth configuration file. Errors name the field at
// fault and never hold key material.
func loadAuthFile(path string, getenv func(string) string) (*authConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var af authFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&af); err != nil {
		return nil, fmt.Errorf("not a valid auth configuration: %w", err)
	}
	cfg := &authConfig{path: path, clients: af.Clients, external: af.External}
	if af.TokenTTL != "" {
		d, err := time.ParseDuration(af.TokenTTL)
		if err != nil || d < time.Second || d > smart.MaxTokenTTL {
			return nil, fmt.Errorf("token_ttl %q: want a duration from 1s to %s, such as 5m", af.TokenTTL, smart.MaxTokenTTL)
		}
		cfg.tokenTTL = d
	}

	var pemOrJWK []byte
	switch {
	case af.SigningKeyFile != "" && af.SigningKeyEnv != "":
		return nil, errors.New("set signing_key_file or signing_key_env, not both")
	case af.SigningKeyFile != "":
		p := af.SigningKeyFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		// The path is configuration, not a secret; the content is.
		if pemOrJWK, err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("signing_key_file: %w", err)
		}
	case af.SigningKeyEnv != "":
		if pemOrJWK = []byte(getenv(af.SigningKeyEnv)); len(pemOrJWK) == 0 {
			return nil, fmt.Errorf("signing_key_env: $%s is empty", af.SigningKeyEnv)
		}
	}
	if pemOrJWK != nil {
		if cfg.signingKey, err = smart.ParsePrivateKey(pemOrJWK); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
	}
	return cfg, nil
}

// newAuth builds the authorizer of serve from cfg, for the API at base;
// it checks the clients and the external issuer, and says at Warn what
// is risky.
func newAuth(
	ctx context.Context,
	cfg *authConfig,
	base string,
	st *store.Store,
	reg *search.Registry,
	logger *slog.Logger,
) (*smart.Server, error) {
	a, err := smart.New(ctx, smart.Config{
		Base: base, External: cfg.external, Clients: cfg.clients, SigningKey: cfg.signingKey,
		TokenTTL: cfg.tokenTTL, Replay: st, Registry: reg, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("--auth-config %s: %w", cfg.path, err)
	}
	if cfg.signingKey == nil && len(cfg.clients) > 0 {
		logger.Warn("no signing key configured: a key was generated, so the tokens the built-in endpoint issues "+
			"are valid only on this process and only until it stops; set signing_key_file or signing_key_env "+
			"in --auth-config to share them across replicas and restarts", "signing_key_kid", a.KeyID())
	}
	external := ""
	if cfg.external != nil {
		external = cfg.external.Issuer
	}
	logger.Info("authorization on", "token_endpoint", a.TokenURL(), "clients", a.Clients(),
		"external_issuer", external, "signing_key_kid", a.KeyID(), "token_ttl", cfg.tokenTTLString())
	return a, nil
}

func (cfg *authConfig) tokenTTLString() string {
	if cfg.tokenTTL == 0 {
		return "5m0s"
	}
	return cfg.tokenTTL.String()
}

// warnAuthOff says loudly, at start, that every request is served.
func warnAuthOff(logger *slog.Logger, f authFlags, addr net.Addr) {
	logger.Warn("authorization is off: every FHIR request is served without a token, to anyone who reaches "+
		"the server; for local trials only (--auth=on with --auth-config to secure it)",
		"addr", addr.String(), "notice", rest.AuthOffNotice)
	if tcp, ok := addr.(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		logger.Warn("authorization is off and the server listens beyond this machine: anyone on the network "+
			"reads and writes every resource", "addr", addr.String())
	}
	if f.AuthConfig != "" {
		logger.Warn("authorization is off: --auth-config is not read", "auth_config", f.AuthConfig)
	}
}
