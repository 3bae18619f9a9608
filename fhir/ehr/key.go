package ehr

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirbill/fhirbill/fhir/smart"
)

// Key is the private key a connection signs its client assertions with:
// RSA (RS384) or EC P-384 (ES384), as SMART Backend Services requires
// (https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html).
// It prints, logs and marshals as its kid alone: the key material never
// leaves it but as a signature.
type Key struct {
	signer crypto.Signer
	method jwt.SigningMethod
	kid    string
}

// errKey is what every unreadable key reports: the reason is never a
// piece of the key.
var errKey = errors.New("private key: want an RSA (2048 bits or more) or EC P-384 private key, as PEM or a JWK")

// ParseKey reads a private key from PEM (PKCS #8, PKCS #1 or SEC 1) or a
// JWK, as the server's own signing key is read. kid, when not empty, names
// the key; else the JWK's kid, else its RFC 7638 thumbprint.
func ParseKey(data []byte, kid string) (*Key, error) {
	signer, err := smart.ParsePrivateKey(data)
	if err != nil {
		return nil, errKey
	}
	if kid == "" && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		var jwk struct {
			KID string `json:"kid"`
		}
		if json.Unmarshal(data, &jwk) == nil {
			kid = jwk.KID
		}
	}
	return NewKey(signer, kid)
}

// NewKey wraps a private key (*rsa.PrivateKey or *ecdsa.PrivateKey on
// P-384). An empty kid becomes the key's RFC 7638 thumbprint.
func NewKey(private any, kid string) (*Key, error) {
	k := &Key{kid: kid}
	switch p := private.(type) {
	case *rsa.PrivateKey:
		if p.N.BitLen() < 2048 {
			return nil, errKey
		}
		k.signer, k.method = p, jwt.SigningMethodRS384
	case *ecdsa.PrivateKey:
		if p.Curve != elliptic.P384() {
			return nil, errKey
		}
		k.signer, k.method = p, jwt.SigningMethodES384
	default:
		return nil, errKey
	}
	if k.kid == "" {
		k.kid = Thumbprint(k.signer.Public())
	}
	return k, nil
}

// KeyID returns the key's kid.
func (k *Key) KeyID() string { return k.kid }

// Algorithm returns the JWS algorithm the key signs with: RS384 or ES384.
func (k *Key) Algorithm() string { return k.method.Alg() }

// Public returns the public half, which the EHR registers.
func (k *Key) Public() crypto.PublicKey { return k.signer.Public() }

// String names the key by kid and algorithm only.
func (k *Key) String() string { return fmt.Sprintf("key(kid=%s, alg=%s)", k.kid, k.Algorithm()) }

// GoString keeps %#v from printing the key material.
func (k *Key) GoString() string { return k.String() }

// LogValue logs the key as its kid.
func (k *Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON marshals the key as its kid, never its material.
func (k *Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// sign signs claims as a JWS with the kid in the header.
func (k *Key) sign(claims jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(k.method, claims)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.signer)
	if err != nil {
		return "", fmt.Errorf("sign client assertion: %w", err)
	}
	return s, nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of an RSA or EC
// public key, base64url without padding; "" for another kind.
func Thumbprint(pub crypto.PublicKey) string {
	b64 := base64.RawURLEncoding.EncodeToString
	var members string
	switch p := pub.(type) {
	case *rsa.PublicKey:
		e := big(p.E)
		members = fmt.Sprintf(`{"e":"%s","kty":"RSA","n":"%s"}`, b64(e), b64(p.N.Bytes()))
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		x, y := make([]byte, size), make([]byte, size)
		p.X.FillBytes(x)
		p.Y.FillBytes(y)
		members = fmt.Sprintf(`{"crv":"%s","kty":"EC","x":"%s","y":"%s"}`, p.Curve.Params().Name, b64(x), b64(y))
	default:
		return ""
	}
	sum := sha256.Sum256([]byte(members))
	return b64(sum[:])
}

// big returns the minimal big-endian bytes of a positive int.
func big(n int) []byte {
	var out []byte
	for ; n > 0; n >>= 8 {
		out = append([]byte{byte(n)}, out...)
	}
	return out
}
