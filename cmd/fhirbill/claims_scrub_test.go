package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestSubmit_ScrubsPatientAndCurrency: $submit answers outcome error,
// with the edit and the element, for a Claim whose patient is not its
// Coverage's beneficiary, one whose patient is not on the server, and
// one with a line priced in another currency than the server's (USD).
// Before, each was queued for the payer.
func TestSubmit_ScrubsPatientAndCurrency(t *testing.T) {
	srv := billedVisit(t)
	put(t, srv, `{"resourceType":"Patient","id":"p2"}`)
	claimOf(t, srv, "e1", nil)
	stored := string(srv.Do("GET", "/Claim/e1-claim-cov1", nil).Body)
	// The Claim $claim built, under a client's identifier.
	own := strings.ReplaceAll(stored, `"https://fhirbill.dev/fhir/sid/claim","value":"e1-claim-cov1"`,
		`"urn:oid:2.16.840.1.113883.3.999","value":"PCN-90"`)

	for _, c := range []struct {
		name, old, new, code, expression string
	}{
		{"OtherPatientThanBeneficiary", `"patient":{"reference":"Patient/p1"}`, `"patient":{"reference":"Patient/p2"}`,
			"coverage", "Claim.insurance[0].coverage"},
		{"PatientNotOnServer", `"patient":{"reference":"Patient/p1"}`, `"patient":{"reference":"Patient/ghost"}`,
			"patient", "Claim.patient"},
		{"UnitPriceInEuros", `"unitPrice":{"currency":"USD"`, `"unitPrice":{"currency":"EUR"`,
			"currency", "Claim.item[0].unitPrice.currency"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := strings.NewReplacer(`"PCN-90"`, `"PCN-90-`+c.name+`"`, c.old, c.new).Replace(own)
			if !strings.Contains(own, c.old) {
				t.Fatalf("the Claim lacks %s: %s", c.old, own)
			}
			res := mustDo(t, srv, 200, "POST", "/Claim/$submit", []byte(body))
			if got := res.JSON(); got["outcome"] != "error" ||
				!bytes.Contains(res.Body, []byte(`"code":"`+c.code+`"`)) ||
				!bytes.Contains(res.Body, []byte("("+c.expression+")")) {
				t.Errorf("ClaimResponse %s, want outcome error with edit %s on %s", res.Body, c.code, c.expression)
			}
		})
	}
}
