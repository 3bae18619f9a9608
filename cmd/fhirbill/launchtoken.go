package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/smart"
	"github.com/fhirbill/fhirbill/profiles"
)

// launchTokenCmd is `fhirbill launch-token`: it signs, with the built-in
// issuer's key from --auth-config, the access token a SMART app launch
// would have given an app for a patient (smart.Server.IssueToken), so that
// people can try patient compartments without an authorization server.
// Whoever can read the signing key can mint tokens anyway; this only
// makes it a command.
type launchTokenCmd struct {
	AuthConfig string        `name:"auth-config" required:"" env:"FHIRBILL_AUTH_CONFIG" type:"existingfile" help:"The server's auth configuration; it must name a signing key (signing_key_file or signing_key_env)."`
	BaseURL    string        `name:"base-url" default:"http://localhost:8080/fhir" env:"FHIRBILL_BASE_URL" help:"The server's FHIR base URL, as serve's --base-url (the same FHIRBILL_BASE_URL): the token's issuer and audience, which the server checks. A server on another port needs it."`
	Patient    string        `required:"" help:"The id of the Patient in context."`
	Scope      string        `default:"launch/patient patient/*.rs" help:"The scopes granted, space-separated."`
	Subject    string        `default:"fhirbill-launch-token" help:"The token's sub and client_id."`
	TTL        time.Duration `name:"ttl" default:"1h" help:"How long the token is valid (at most 24h)."`
}

// Run prints the token alone on stdout.
func (c *launchTokenCmd) Run(ctx context.Context, stdout io.Writer) error {
	cfg, err := loadAuthFile(c.AuthConfig, os.Getenv)
	if err != nil {
		return fmt.Errorf("--auth-config %s: %w", c.AuthConfig, err)
	}
	if cfg.signingKey == nil {
		return errors.New("--auth-config names no signing key: the server then generates one that no other " +
			"process has; set signing_key_file or signing_key_env and restart the server with it")
	}
	reg, err := search.Load(profiles.SearchParameters)
	if err != nil {
		return fmt.Errorf("load search parameters: %w", err)
	}
	// Only the issuer is needed: no clients, no external key sets.
	iss, err := smart.New(ctx, smart.Config{Base: c.BaseURL, SigningKey: cfg.signingKey, Registry: reg})
	if err != nil {
		return err
	}
	tok, err := iss.IssueToken(ctx, smart.TokenRequest{Subject: c.Subject, Scope: c.Scope, Patient: c.Patient, TTL: c.TTL})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
