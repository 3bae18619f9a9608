package smart

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// Client is a backend-services client the built-in token endpoint serves
// (https://hl7.org/fhir/smart-app-launch/backend-services.html#registering-a-client-communicating-public-keys).
type Client struct {
	// ID is the client_id.
	ID string `json:"client_id"`
	// JWKSURL is where the client publishes its public keys (preferred by
	// the spec: the client rotates its keys there); or
	JWKSURL string `json:"jwks_url,omitempty"`
	// JWKS holds them inline.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// Scope lists, space-separated, the system/ scopes it may be granted.
	Scope string `json:"scope"`
	// Insurer maps it to an Organization ("Organization/id" or "id"): it
	// then sees only the Claims, ClaimResponses and Coverage naming it.
	Insurer string `json:"insurer,omitempty"`
}

// clientKeyRefresh is how often a client's JWKS URL is fetched again.
// TODO(#5): client JWKS URLs are refetched every 5 minutes and on an unknown kid, not per their Cache-Control (jwkset ignores it).
const clientKeyRefresh = 5 * time.Minute

type client struct {
	Client
	keys   keyfunc.Keyfunc
	scopes []Scope
}

// addClient checks a registration and adds it. Every scope must be a
// system/ clinical scope: a backend service has no user or patient.
func (s *Server) addClient(ctx context.Context, c Client) error {
	if c.ID == "" {
		return errors.New("smart: a client needs a client_id")
	}
	if _, dup := s.clients[c.ID]; dup {
		return fmt.Errorf("smart: client %q registered twice", c.ID)
	}
	cl := &client{Client: c}
	for _, f := range strings.Fields(c.Scope) {
		sc, ok := ParseScope(f)
		switch {
		case !ok:
			return fmt.Errorf("smart: client %q: scope %q is not a SMART clinical scope "+
				"(system/Type.cruds, system/Type.read, ...)", c.ID, f)
		case sc.Level != "system":
			return fmt.Errorf("smart: client %q: scope %q: a backend-services client is granted system/ scopes only", c.ID, f)
		}
		cl.scopes = append(cl.scopes, sc)
	}
	if len(cl.scopes) == 0 {
		return fmt.Errorf("smart: client %q has no scope to grant", c.ID)
	}
	if c.Insurer != "" {
		ref, err := insurerRef(c.Insurer)
		if err != nil {
			return fmt.Errorf("smart: client %q insurer: %w", c.ID, err)
		}
		cl.Insurer = ref
	}

	var err error
	switch {
	case len(c.JWKS) > 0 && c.JWKSURL != "":
		return fmt.Errorf("smart: client %q: give jwks or jwks_url, not both", c.ID)
	case len(c.JWKS) > 0:
		if err := checkJWKS(c.JWKS); err != nil {
			return fmt.Errorf("smart: client %q jwks: %w", c.ID, err)
		}
		if cl.keys, err = keyfunc.NewJWKSetJSON(c.JWKS); err != nil {
			return fmt.Errorf("smart: client %q jwks: the key set could not be loaded: %w", c.ID, err)
		}
	case c.JWKSURL != "":
		if err := checkKeyURL(c.JWKSURL); err != nil {
			return fmt.Errorf("smart: client %q jwks_url: %w", c.ID, err)
		}
		cl.keys, err = s.remoteKeys(ctx, c.JWKSURL, clientKeyRefresh)
	default:
		return fmt.Errorf("smart: client %q needs jwks or jwks_url", c.ID)
	}
	if err != nil {
		return fmt.Errorf("smart: client %q keys: %w", c.ID, err)
	}
	s.clients[c.ID] = cl
	return nil
}

// checkJWKS checks an inline key set as client-confidential-asymmetric.html
// registers them: public RSA or EC keys, each with a kid.
func checkJWKS(raw json.RawMessage) error {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(raw, &set); err != nil {
		return errors.New(`want a JWK Set: {"keys": [...]}`)
	}
	if len(set.Keys) == 0 {
		return errors.New("the key set holds no key")
	}
	for i, k := range set.Keys {
		switch {
		case k.KTY != jwkset.KtyRSA && k.KTY != jwkset.KtyEC:
			return fmt.Errorf("key %d: kty must be RSA or EC", i)
		case k.D != "" || k.P != "" || k.Q != "":
			// Never echo the key: only that it is private.
			return fmt.Errorf("key %d is a private key: register only its public half", i)
		case k.KID == "":
			return fmt.Errorf("key %d has no kid", i)
		}
		if err := checkPublicKey(k); err != nil {
			return fmt.Errorf("key %d (kid %q) %w", i, k.KID, err)
		}
	}
	return nil
}

// checkPublicKey checks that an RSA or EC public JWK is one a client
// assertion can be verified with: well formed (jwkset also checks that an
// EC point is on its curve), on P-256 or P-384 (ES256, ES384), an RSA
// modulus of 2048 bits or more. Its errors
// say what to look at in the JWK, the key library's cause wrapped.
func checkPublicKey(k jwkset.JWKMarshal) error {
	what := "RSA public key (n and e, base64url without padding)"
	if k.KTY == jwkset.KtyEC {
		what = "EC public key (crv P-256 or P-384; x and y, its coordinates, base64url without padding)"
	}
	jwk, err := jwkset.NewJWKFromMarshal(k, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return fmt.Errorf("is not a valid %s: %w", what, err)
	}
	switch pk := jwk.Key().(type) {
	case *ecdsa.PublicKey:
		if pk.Curve != elliptic.P256() && pk.Curve != elliptic.P384() {
			return fmt.Errorf("is not a valid %s: crv %s signs with no algorithm this server takes", what, k.CRV)
		}
	case *rsa.PublicKey:
		if pk.N.BitLen() < 2048 {
			return fmt.Errorf("is not a valid %s: %d bits, and an RSA key needs 2048 or more", what, pk.N.BitLen())
		}
	default:
		return fmt.Errorf("is not a valid %s", what)
	}
	return nil
}

// insurerRef normalizes a configured insurer to Organization/id.
func insurerRef(s string) (string, error) {
	id, ok := strings.CutPrefix(s, "Organization/")
	if !ok && strings.Contains(s, "/") {
		return "", errors.New("want Organization/[id] or an Organization id")
	}
	if !resource.ValidID(id) {
		return "", errors.New("want Organization/[id] with a valid FHIR id")
	}
	return "Organization/" + id, nil
}
