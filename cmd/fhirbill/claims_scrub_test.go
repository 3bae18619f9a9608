package main

import (
	"bytes"
	"regexp"
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
	// The Claim $claim built, under a client's identifier and naming no
	// Encounter or Invoice of fhirbill's: one that names them and
	// another patient is refused before the edits run (422, see
	// TestSubmit_ClaimAgreesWithItsInvoice).
	own := regexp.MustCompile(`"identifier":\[[^\]]*\]`).ReplaceAllString(stored,
		`"identifier":[{"system":"urn:oid:2.16.840.1.113883.3.999","value":"PCN-90"}]`)

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

// TestSubmit_ScrubsNegativeAndSubCentAmounts: $submit answers outcome
// error for a Claim charging below zero or in fractions of a cent, with
// an edit (negative-amount, amount-precision, both in the served
// CodeSystem claim-edit) naming each element at fault. Before, 99213 at
// -150.00 with a total of -90.00 "passed the claim edits" and was queued
// for the payer, and a line of 0.001 was reported as a net that is not
// quantity times unit price.
func TestSubmit_ScrubsNegativeAndSubCentAmounts(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	stored := string(srv.Do("GET", "/Claim/e1-claim-cov1", nil).Body)
	own := strings.ReplaceAll(stored, `"https://fhirbill.dev/fhir/sid/claim","value":"e1-claim-cov1"`,
		`"urn:oid:2.16.840.1.113883.3.999","value":"PCN-91"`)
	// The Claim of TestClaim_READMEWalkthrough: 99213 at 150.00, 93000 at
	// 60.00, total 210.00.
	line1 := `"net":{"currency":"USD","value":150.00}`
	price1 := `"unitPrice":{"currency":"USD","value":150.00}`
	total := `"total":{"currency":"USD","value":210.00}`
	for _, s := range []string{line1, price1, total} {
		if !strings.Contains(own, s) {
			t.Fatalf("the Claim lacks %s: %s", s, own)
		}
	}

	for _, c := range []struct {
		name    string
		replace []string
		want    []string // "code (expression)" of each error
	}{
		{"Negative", []string{line1, `"net":{"currency":"USD","value":-150.00}`,
			price1, `"unitPrice":{"currency":"USD","value":-150.00}`, total, `"total":{"currency":"USD","value":-90.00}`},
			[]string{"negative-amount (Claim.item[0].unitPrice)", "negative-amount (Claim.item[0].net)",
				"negative-amount (Claim.total)"}},
		{"SubCent", []string{line1, `"net":{"currency":"USD","value":0.001}`,
			price1, `"unitPrice":{"currency":"USD","value":0.001}`, total, `"total":{"currency":"USD","value":60.001}`},
			[]string{"amount-precision (Claim.item[0].unitPrice)", "amount-precision (Claim.item[0].net)",
				"amount-precision (Claim.total)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := strings.NewReplacer(append(c.replace, `"PCN-91"`, `"PCN-91-`+c.name+`"`)...).Replace(own)
			cr := mustDo(t, srv, 200, "POST", "/Claim/$submit", []byte(body)).JSON()
			var got []string
			for _, e := range asList(cr["error"]) {
				cc := e.(map[string]any)["code"].(map[string]any)
				code := cc["coding"].([]any)[0].(map[string]any)["code"].(string)
				text := cc["text"].(string)
				got = append(got, code+" "+text[strings.LastIndex(text, "("):])
			}
			if cr["outcome"] != "error" || strings.Join(got, "; ") != strings.Join(c.want, "; ") {
				t.Errorf("outcome %v, errors %q, want error with %q", cr["outcome"], got, c.want)
			}
		})
	}

	edits := srv.Do("GET", "/CodeSystem/claim-edit", nil)
	for _, code := range []string{"negative-amount", "amount-precision"} {
		if !bytes.Contains(edits.Body, []byte(`"code":"`+code+`"`)) {
			t.Errorf("CodeSystem/claim-edit does not define %s: %.300s", code, edits.Body)
		}
	}
}
