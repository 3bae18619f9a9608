package main

import (
	"bytes"
	"os"
	"testing"
)

// TestSubmit_CancelledInvoice: the Claim of a cancelled Invoice is not
// submitted (409 naming the Invoice's status), and $claim says the
// Invoice was cancelled and how to go on, rather than that the
// Encounter was never billed. Billed again, the Encounter's new Invoice
// (the revision e1-patient-r2) is claimed and submitted. Before, $submit
// queued the Claim of the cancelled Invoice for the payer.
func TestSubmit_CancelledInvoice(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	claim := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body
	mustDo(t, srv, 200, "POST", "/Invoice/e1-patient/$cancel", nil)

	res := mustDo(t, srv, 409, "POST", "/Claim/$submit", claim)
	if !bytes.Contains(res.Body, []byte(`"expression":["Invoice.status"]`)) ||
		!bytes.Contains(res.Body, []byte("Invoice/e1-patient")) {
		t.Errorf("$submit of a cancelled Invoice's Claim: %s, want the Invoice and its status named", res.Body)
	}
	if cr := srv.Do("GET", "/ClaimResponse/e1-claim-cov1-response", nil); cr.Status != 404 {
		t.Errorf("the refused $submit stored a ClaimResponse: %d %s", cr.Status, cr.Body)
	}

	res = mustDo(t, srv, 422, "POST", "/Encounter/e1/$claim", nil)
	if !bytes.Contains(res.Body, []byte("Invoice/e1-patient was cancelled")) || bytes.Contains(res.Body, []byte("has no Invoice")) {
		t.Errorf("$claim after $cancel: %s, want it to say the Invoice was cancelled", res.Body)
	}

	bill(t, srv, "e1")
	c := claimOf(t, srv, "e1", nil).Claim
	if !bytes.Contains(mustJSON(t, c["identifier"]), []byte(`"value":"e1-patient-r2"`)) {
		t.Errorf("the Claim built again names %v, want Invoice e1-patient-r2", c["identifier"])
	}
	claim = mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body
	if cr := mustDo(t, srv, 200, "POST", "/Claim/$submit", claim).JSON(); cr["outcome"] != "queued" {
		t.Errorf("$submit of the new Invoice's Claim: outcome %v, want queued", cr["outcome"])
	}
}

// TestCancel_AfterRemittanceRefused: once a payer's answer is applied to
// the Invoice ($remit), $cancel is refused with 409 and changes nothing:
// the payer's decision stands (the deductible it applied is spent in the
// accumulator), and a correction is a new claim. Before, $cancel answered
// 200, took the Invoice's entry (the 50.00 of deductible the payer
// applied) out of the accumulator Account, and left the Claim active with
// its ClaimResponse complete.
func TestCancel_AfterRemittanceRefused(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	mustDo(t, srv, 200, "POST", "/Claim/$submit", mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body)
	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}
	remit(t, srv, string(answer))
	account := mustDo(t, srv, 200, "GET", "/Account/accum-cov1-20250101", nil).Body
	invoice := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).Body

	res := mustDo(t, srv, 409, "POST", "/Invoice/e1-patient/$cancel", nil)
	for _, want := range []string{`"expression":["Invoice.status"]`, "ClaimResponse/e1-claim-cov1-response", "new claim"} {
		if !bytes.Contains(res.Body, []byte(want)) {
			t.Errorf("$cancel after remittance: %s, want it to say %s", res.Body, want)
		}
	}
	if got := mustDo(t, srv, 200, "GET", "/Account/accum-cov1-20250101", nil).Body; !bytes.Equal(got, account) {
		t.Errorf("the refused $cancel changed the accumulator:\n%s\nwant\n%s", got, account)
	}
	if got := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).Body; !bytes.Equal(got, invoice) {
		t.Errorf("the refused $cancel changed the Invoice")
	}
}
