package smart_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/smart"
)

// TestNew_BadClientKey checks that a client key the key library cannot
// use stops the server with a message saying which client and which key,
// and what to look at, with the library's cause kept wrapped: not the
// library's own words ("failed to create a slice of JWK from
// JWKSMarshal").
func TestNew_BadClientKey(t *testing.T) {
	// x and y of the P-256 key of RFC 7517 §3.
	const x, y = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallSet := jwksOf(t, map[string]crypto.PublicKey{"acme-1": &small.PublicKey})
	ec := func(crv, x, y string) json.RawMessage {
		return json.RawMessage(`{"keys":[{"kty":"EC","crv":"` + crv + `","kid":"acme-1","x":"` + x + `","y":"` + y + `"}]}`)
	}
	tests := []struct {
		name string
		jwks json.RawMessage
		want string
	}{
		{"READMEPlaceholders", ec("P-384", "...", "..."), "not a valid EC public key"},
		{"OffTheCurve", ec("P-256", x, "y"+y[1:]), "not a valid EC public key"}, // y's first digit changed
		{"MissingY", json.RawMessage(`{"keys":[{"kty":"EC","crv":"P-256","kid":"acme-1","x":"` + x + `"}]}`), "not a valid EC public key"},
		{"UnknownCurve", ec("P-999", x, y), "not a valid EC public key"},
		{"RSATooSmall", smallSet, "1024 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := smart.New(t.Context(), smart.Config{Base: "http://fhir.test/fhir", Registry: registry(t), Replay: nopReplay{},
				Clients: []smart.Client{{ID: "acme-payer", JWKS: tt.jwks, Scope: "system/Claim.rs"}}})
			if err == nil {
				t.Fatal("New accepted the key")
			}
			msg := err.Error()
			for _, want := range []string{`client "acme-payer"`, `key 0 (kid "acme-1")`, tt.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q, want it to say %q", msg, want)
				}
			}
			if strings.HasPrefix(strings.TrimPrefix(msg, `smart: client "acme-payer" jwks: `), "failed") {
				t.Errorf("error %q opens with the library's words", msg)
			}
			if tt.name != "RSATooSmall" && errors.Unwrap(err) == nil {
				t.Errorf("error %q does not wrap its cause", msg)
			}
		})
	}
}
