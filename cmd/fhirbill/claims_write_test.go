package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// TestClaimWrite_OnlyThroughOperations: a Claim fhirbill's claim
// operations stored, and the ClaimResponse at the id they give its
// answer, change only through $claim, $submit and $remit: a client's
// PUT or DELETE of either is a 409 naming it, and changes nothing. A
// PUT of the same content is no change and passes. Before, a plain PUT
// cancelled the adjudicated Claim with a total of 1.00 (200), and
// DELETE of the Claim and of its ClaimResponse answered 204, which then
// wedged billing.
func TestClaimWrite_OnlyThroughOperations(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	claim := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body
	queued := mustDo(t, srv, 200, "POST", "/Claim/$submit", claim).Body

	// The payer answers by PUT instead of $remit: the Invoice would not
	// follow.
	complete := strings.Replace(string(queued), `"outcome":"queued"`, `"outcome":"complete"`, 1)
	refused(t, srv, "PUT", "/ClaimResponse/e1-claim-cov1-response", []byte(complete), "ClaimResponse")

	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}
	remit(t, srv, string(answer))
	claim = mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body
	response := mustDo(t, srv, 200, "GET", "/ClaimResponse/e1-claim-cov1-response", nil).Body

	cancelled := bytes.Replace(claim, []byte(`"status":"active"`), []byte(`"status":"cancelled"`), 1)
	cancelled = bytes.Replace(cancelled, []byte(`"total":{"currency":"USD","value":210.00}`),
		[]byte(`"total":{"currency":"USD","value":1.00}`), 1)
	if bytes.Equal(cancelled, claim) {
		t.Fatalf("the Claim lacks status active or total 210.00: %s", claim)
	}
	refused(t, srv, "PUT", "/Claim/e1-claim-cov1", cancelled, "Claim")
	refused(t, srv, "DELETE", "/Claim/e1-claim-cov1", nil, "Claim")
	denied := bytes.Replace(response, []byte(`"outcome":"complete"`), []byte(`"outcome":"error"`), 1)
	refused(t, srv, "PUT", "/ClaimResponse/e1-claim-cov1-response", denied, "ClaimResponse")
	refused(t, srv, "DELETE", "/ClaimResponse/e1-claim-cov1-response", nil, "ClaimResponse")

	if got := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body; !bytes.Equal(got, claim) {
		t.Errorf("a refused write changed the Claim:\n%s", got)
	}
	if got := mustDo(t, srv, 200, "GET", "/ClaimResponse/e1-claim-cov1-response", nil).Body; !bytes.Equal(got, response) {
		t.Errorf("a refused write changed the ClaimResponse:\n%s", got)
	}
	mustDo(t, srv, 200, "PUT", "/Claim/e1-claim-cov1", claim)

	// A Claim and a ClaimResponse a client stored stay its own.
	own := `{"resourceType":"Claim","id":"mine","status":"active","use":"claim","created":"2025-03-12",
	  "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},
	  "patient":{"reference":"Patient/p1"},"provider":{"reference":"Organization/clinic"},
	  "priority":{"coding":[{"code":"normal"}]},
	  "insurance":[{"sequence":1,"focal":true,"coverage":{"reference":"Coverage/cov1"}}]}`
	mustDo(t, srv, 201, "PUT", "/Claim/mine", []byte(own))
	mustDo(t, srv, 200, "PUT", "/Claim/mine", []byte(strings.Replace(own, `"active"`, `"cancelled"`, 1)))
	mustDo(t, srv, 204, "DELETE", "/Claim/mine", nil)
}

// refused sends a write that must be refused with 409 naming expression.
func refused(t *testing.T, srv *resttest.Server, method, path string, body []byte, expression string) {
	t.Helper()
	res := mustDo(t, srv, 409, method, path, body)
	if !bytes.Contains(res.Body, []byte(`"expression":["`+expression+`"]`)) {
		t.Errorf("%s %s: %s, want the refusal to name %s", method, path, res.Body, expression)
	}
}

// TestClaimResponseCreate_GoesToRemit: a payer's adjudication of a Claim
// fhirbill submitted, created as a plain ClaimResponse (POST, PUT at a
// new id, or in a transaction), is refused with 422 naming
// ClaimResponse.request and $remit, and stores nothing: accepted, it would
// have changed no Invoice. The same answer posted to $remit then applies.
// An answer not adjudicated (queued), and one to a client's own Claim,
// are stored as sent.
func TestClaimResponseCreate_GoesToRemit(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	claim := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body
	mustDo(t, srv, 200, "POST", "/Claim/$submit", claim)
	invoice := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).Body
	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}

	toRemit := func(method, path string, body []byte) {
		t.Helper()
		res := mustDo(t, srv, 422, method, path, body)
		if !bytes.Contains(res.Body, []byte(`"expression":["ClaimResponse.request"]`)) ||
			!bytes.Contains(res.Body, []byte("Claim/e1-claim-cov1/$remit")) {
			t.Errorf("%s %s: %s, want a refusal naming ClaimResponse.request and $remit", method, path, res.Body)
		}
	}
	toRemit("POST", "/ClaimResponse", answer)
	withID := bytes.Replace(answer, []byte(`"resourceType": "ClaimResponse",`),
		[]byte(`"resourceType": "ClaimResponse", "id": "payer-icn-123",`), 1)
	toRemit("PUT", "/ClaimResponse/payer-icn-123", withID)
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + string(answer) +
		`,"request":{"method":"POST","url":"ClaimResponse"}}]}`
	mustDo(t, srv, 422, "POST", "/", []byte(tx))

	if got := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).Body; !bytes.Equal(got, invoice) {
		t.Errorf("a refused ClaimResponse changed the Invoice:\n%s", got)
	}
	// Only the queued answer $submit stored.
	if res := mustDo(t, srv, 200, "GET", "/ClaimResponse?_summary=count", nil); !bytes.Contains(res.Body, []byte(`"total":1`)) {
		t.Errorf("ClaimResponses after the refusals: %s, want 1", res.Body)
	}

	queued := bytes.Replace(answer, []byte(`"outcome": "complete"`), []byte(`"outcome": "queued"`), 1)
	mustDo(t, srv, 201, "POST", "/ClaimResponse", queued)
	own := bytes.Replace(answer, []byte(`"Claim/e1-claim-cov1"`), []byte(`"Claim/mine"`), 1)
	mustDo(t, srv, 201, "POST", "/ClaimResponse", own)

	// The refusals stored no version: the payer's decision is version 2,
	// over the estimate $bill stored as version 1.
	inv := remit(t, srv, string(answer))
	if inv["id"] != "e1-patient" || field(inv, "meta", "versionId") != "2" {
		t.Errorf("$remit after the refusals: Invoice/%v version %v, want e1-patient version 2",
			inv["id"], field(inv, "meta", "versionId"))
	}
}
