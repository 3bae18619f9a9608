package smart_test

import (
	"crypto/elliptic"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirbill/fhirbill/fhir/smart"
)

// TestIssueToken mints tokens as a launch would have and checks what they
// grant: the patient's compartment for patient/ scopes, for TTL.
func TestIssueToken(t *testing.T) {
	e := start(t)
	twoPatients(e)

	tok, err := e.auth.IssueToken(t.Context(), smart.TokenRequest{
		Subject: "portal", Scope: "openid fhirUser launch/patient patient/Invoice.rs", Patient: "a", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &claims); err != nil {
		t.Fatal(err)
	}
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	if claims["patient"] != "a" || claims["iss"] != e.srv.Base || claims["client_id"] != "portal" ||
		exp.Sub(iat.Time) != time.Hour {
		t.Errorf("claims %v: want patient a, iss %s, client_id portal, one hour", claims, e.srv.Base)
	}
	if r := e.as(tok, "GET", "/Invoice/inv-a", ""); r.Status != 200 {
		t.Errorf("own invoice: got %d, want 200", r.Status)
	}
	if r := e.as(tok, "GET", "/Invoice/inv-b", ""); r.Status != 404 {
		t.Errorf("other's invoice: got %d, want 404", r.Status)
	}
	if r := e.as(tok, "GET", "/Claim", ""); r.Status != 403 {
		t.Errorf("Claim search: got %d, want 403 (not granted)", r.Status)
	}

	tests := []struct {
		name    string
		req     smart.TokenRequest
		wantErr string
	}{
		{"NoSubject", smart.TokenRequest{Scope: "system/*.rs"}, "subject"},
		{"NoClinicalScope", smart.TokenRequest{Subject: "x", Scope: "openid launch/patient"}, "clinical scope"},
		{"MalformedScope", smart.TokenRequest{Subject: "x", Scope: "system/Invoice.sr"}, "not a SMART clinical scope"},
		{"PatientScopeNoPatient", smart.TokenRequest{Subject: "x", Scope: "patient/*.rs"}, "patient in context"},
		{"BadPatientID", smart.TokenRequest{Subject: "x", Scope: "patient/*.rs", Patient: "a b"}, "Patient id"},
		{"TooLong", smart.TokenRequest{Subject: "x", Scope: "system/*.rs", TTL: 48 * time.Hour}, "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.auth.IssueToken(t.Context(), tt.req); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

// TestVerify_Claims checks the claims read after the signature: the
// patient claim must be an id (the Patient/ prefix some servers send is
// taken off), and a token of the built-in issuer must be signed by its
// key, whatever kid it names.
func TestVerify_Claims(t *testing.T) {
	e := start(t)
	twoPatients(e)

	if r := e.as(e.ext("patient/Invoice.rs", "Patient/a"), "GET", "/Invoice/inv-a", ""); r.Status != 200 {
		t.Errorf("patient claim Patient/a: got %d, want 200", r.Status)
	}
	r := e.as(e.ext("patient/Invoice.rs", "a/../b"), "GET", "/Invoice", "")
	if code, diag := outcome(r); r.Status != 401 || code != "login" || !strings.Contains(diag, "patient claim") {
		t.Errorf("bad patient claim: got %d %s %q, want 401 login naming the patient claim", r.Status, code, diag)
	}

	other := ecKey(t, elliptic.P256())
	claims := jwt.MapClaims{"iss": e.srv.Base, "aud": e.srv.Base, "scope": "system/*.rs",
		"exp": time.Now().Add(time.Minute).Unix(), "iat": time.Now().Unix()}
	for name, kid := range map[string]string{"OtherKid": "not-the-kid", "SameKid": e.auth.KeyID(), "NoKid": ""} {
		t.Run(name, func(t *testing.T) {
			forged := sign(t, jwt.SigningMethodES256, other, kid, claims)
			if r := e.as(forged, "GET", "/Invoice", ""); r.Status != 401 {
				t.Errorf("built-in iss signed by another key: got %d, want 401", r.Status)
			}
		})
	}
}
