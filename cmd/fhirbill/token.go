package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/smart"
)

// tokenCmd is `fhirbill token`: the SMART Backend Services flow for a
// client registered in --auth-config, so that curl users can try the
// secured API. It prints the access token alone on stdout; with
// --print-jwks, the key set to register for the key instead.
type tokenCmd struct {
	BaseURL  string `name:"base-url" default:"http://localhost:8080/fhir" env:"FHIRBILL_BASE_URL" help:"FHIR base URL of the server, as serve's --base-url (the same FHIRBILL_BASE_URL); its token endpoint is [base]/auth/token. A server on another port needs it."`
	TokenURL string `name:"token-url" help:"Token endpoint, when not [base]/auth/token."`
	ClientID string `name:"client-id" help:"The client_id registered in the server's --auth-config."`
	KeyFile  string `name:"key-file" type:"existingfile" xor:"key" help:"The client's private key: PEM or a JWK (EC P-256/P-384 or RSA)."`
	KeyEnv   string `name:"key-env" xor:"key" help:"Name of an environment variable holding the private key instead."`
	KeyID    string `name:"kid" help:"The key's kid as registered (default: the JWK's kid, else its RFC 7638 thumbprint)."`
	Scope    string `default:"system/*.rs" help:"The scopes asked for, space-separated; the server grants those the client is registered for."`
	JWKS     bool   `name:"print-jwks" help:"Print the public key set to register as the client's jwks (with its kid), and ask for no token."`
}

// Run asks for a token and prints it.
func (c *tokenCmd) Run(ctx context.Context, stdout io.Writer) error {
	var data []byte
	switch {
	case c.KeyFile != "":
		b, err := os.ReadFile(c.KeyFile)
		if err != nil {
			return fmt.Errorf("--key-file: %w", err)
		}
		data = b
	case c.KeyEnv != "":
		if data = []byte(os.Getenv(c.KeyEnv)); len(data) == 0 {
			return fmt.Errorf("--key-env: $%s is empty", c.KeyEnv)
		}
	default:
		return errors.New("give the client's private key with --key-file or --key-env")
	}
	if c.JWKS {
		return printJWKS(stdout, data, c.KeyID)
	}
	if c.ClientID == "" {
		return errors.New("--client-id is required to ask for a token")
	}
	tokenURL := c.TokenURL
	if tokenURL == "" {
		tokenURL = strings.TrimSuffix(c.BaseURL, "/") + smart.TokenPath
	}
	tok, err := requestToken(ctx, http.DefaultClient, tokenURL, c.ClientID, data, c.KeyID, c.Scope, time.Now())
	var dialErr *net.OpError
	if errors.As(err, &dialErr) && dialErr.Op == "dial" && c.TokenURL == "" {
		return fmt.Errorf("%w (no fhirbill server answers at --base-url %s: is it running, on that port? "+
			"name the server's base URL with --base-url or FHIRBILL_BASE_URL)", err, c.BaseURL)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// keyID is the kid of a client key: the one given, else the JWK's, else
// the RFC 7638 thumbprint of its public half.
func keyID(keyData []byte, key crypto.Signer, kid string) string {
	if kid != "" {
		return kid
	}
	var jwk struct {
		KID string `json:"kid"`
	}
	if json.Unmarshal(keyData, &jwk) == nil && jwk.KID != "" {
		return jwk.KID
	}
	return ehr.Thumbprint(key.Public())
}

// printJWKS prints the public JWK Set of the private key in keyData, as a
// client registers it (client-confidential-asymmetric.html: kty and kid).
func printJWKS(w io.Writer, keyData []byte, kid string) error {
	key, err := smart.ParsePrivateKey(keyData)
	if err != nil {
		return fmt.Errorf("client key: %w", err)
	}
	alg, _ := smart.SigningAlgorithm(key.Public())
	jwk, err := jwkset.NewJWKFromKey(key.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: keyID(keyData, key, kid), ALG: jwkset.ALG(alg), USE: jwkset.UseSig}})
	if err != nil {
		return fmt.Errorf("client key: %w", err)
	}
	b, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// requestToken signs a client assertion with the private key in keyData
// and exchanges it at tokenURL for an access token
// (https://hl7.org/fhir/smart-app-launch/backend-services.html#obtaining-an-access-token).
func requestToken(
	ctx context.Context,
	hc *http.Client,
	tokenURL, clientID string,
	keyData []byte,
	kid, scope string,
	now time.Time,
) (string, error) {
	key, err := smart.ParsePrivateKey(keyData)
	if err != nil {
		return "", fmt.Errorf("client key: %w", err)
	}
	alg, _ := smart.SigningAlgorithm(key.Public()) // ParsePrivateKey checked it
	kid = keyID(keyData, key, kid)
	a := jwt.NewWithClaims(jwt.GetSigningMethod(alg), jwt.RegisteredClaims{
		Issuer: clientID, Subject: clientID, Audience: jwt.ClaimStrings{tokenURL},
		ExpiresAt: jwt.NewNumericDate(now.Add(4 * time.Minute)), IssuedAt: jwt.NewNumericDate(now),
		ID: rand.Text(),
	})
	a.Header["kid"] = kid
	assertion, err := a.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign client assertion: %w", err)
	}

	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {scope},
		"client_assertion_type": {smart.AssertionType},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&tr); err != nil {
		return "", fmt.Errorf("token request: %s answered %d, not a JSON token response", tokenURL, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return "", fmt.Errorf("token request refused (%d %s): %s", resp.StatusCode, tr.Error, tr.Description)
	}
	return tr.AccessToken, nil
}
