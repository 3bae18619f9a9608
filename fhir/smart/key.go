package smart

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// errKey is what every unreadable key reports: never a piece of the key.
var errKey = errors.New("want an EC (P-256 or P-384) or RSA (2048 bits or more) private key, " +
	"as PEM (PKCS #8, PKCS #1 or SEC 1) or a JWK")

// ParsePrivateKey reads a private key from PEM (PKCS #8, PKCS #1 or SEC 1)
// or a JWK: ECDSA on P-256 or P-384, or RSA of 2048 bits or more. Errors
// never hold a piece of the key.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	data = bytes.TrimSpace(data)
	var raw any
	if bytes.HasPrefix(data, []byte("{")) {
		jwk, err := jwkset.NewJWKFromRawJSON(data, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
		if err != nil {
			return nil, errKey
		}
		raw = jwk.Key()
	} else {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, errKey
		}
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			raw, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			raw, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			raw, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, errKey
		}
		if err != nil {
			return nil, errKey
		}
	}
	k, ok := raw.(crypto.Signer)
	if !ok {
		return nil, errKey
	}
	if _, err := SigningAlgorithm(k.Public()); err != nil {
		return nil, err
	}
	return k, nil
}

// SigningAlgorithm returns the JWS algorithm fhirbill signs with for a
// public key: ES256 on P-256, ES384 on P-384, RS384 for RSA (the
// algorithms backend-services.html asks clients to support).
func SigningAlgorithm(pub crypto.PublicKey) (string, error) {
	switch pk := pub.(type) {
	case *ecdsa.PublicKey:
		switch pk.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		}
	case *rsa.PublicKey:
		if pk.N.BitLen() >= 2048 {
			return "RS384", nil
		}
	}
	return "", errKey
}

// setKey takes the signing key of the built-in issuer, or makes one, and
// publishes its public half as a JWKS.
func (s *Server) setKey(k crypto.Signer) error {
	if k == nil {
		gen, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("smart: generate signing key: %w", err)
		}
		k = gen
	}
	alg, err := SigningAlgorithm(k.Public())
	if err != nil {
		return fmt.Errorf("smart: signing key: %w", err)
	}
	s.key, s.alg = k, alg

	// The kid is a hash of the public key, so a rotated key gets a new one.
	jwk, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{})
	if err != nil {
		return fmt.Errorf("smart: signing key: %w", err)
	}
	raw, err := json.Marshal(jwk.Marshal())
	if err != nil {
		return fmt.Errorf("smart: signing key: %w", err)
	}
	sum := sha256.Sum256(raw)
	s.kid = base64.RawURLEncoding.EncodeToString(sum[:16])
	jwk, err = jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: s.kid, ALG: jwkset.ALG(s.alg), USE: jwkset.UseSig,
	}})
	if err != nil {
		return fmt.Errorf("smart: signing key: %w", err)
	}
	s.jwks, err = json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	return err
}

// signingMethod returns the jwt method of the built-in issuer.
func (s *Server) signingMethod() jwt.SigningMethod { return jwt.GetSigningMethod(s.alg) }
