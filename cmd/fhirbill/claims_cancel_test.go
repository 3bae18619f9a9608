package main

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/billing"
)

// TestSubmit_CancelledInvoice: the Claim of a cancelled Invoice is not
// submitted (409 naming the Invoice's status), and $claim says the
// Invoice was cancelled and how to go on, rather than that the
// Encounter was never billed. Billed again, the Encounter's new Invoice
// (the revision e1-patient-r2) is claimed, as Claim/e1-claim-cov1-r2
// (the Claim id follows the Invoice revision), and submitted. Before,
// $submit queued the Claim of the cancelled Invoice for the payer.
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
	if c["id"] != "e1-claim-cov1-r2" {
		t.Errorf("the Claim of Invoice e1-patient-r2 is Claim/%v, want e1-claim-cov1-r2", c["id"])
	}
	claim = mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1-r2", nil).Body
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
	srv, answer := submittedVisit(t)
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

// TestCancel_QueuedClaimThenClaimRevision: an Invoice issued, claimed and
// submitted (ClaimResponse queued, not adjudicated) is cancelled; its
// Claim is cancelled with it, in a second version, and the queued
// ClaimResponse stays as it was. Billed again, the Encounter's Invoice
// e1-patient-r2 gets its own Claim, e1-claim-cov1-r2, built fresh before
// and after its $issue, which is submitted (queued at
// e1-claim-cov1-r2-response) and remitted with testdata/billing's
// remittance, its request pointed at the new Claim: Invoice r2 follows
// the payer as e1-patient did in TestClaim_READMEWalkthrough (the visit
// billed again spends the deductible the cancel gave back, so the same
// estimate of totalNet 102.73 becomes 62.73). The cancelled Claim takes
// no remittance. Before, the Claim of the cancelled Invoice stayed
// active, and $claim for r2 answered that Claim "submitted and
// accepted ... left as submitted", naming the cancelled Invoice, with
// no way left to claim r2.
func TestCancel_QueuedClaimThenClaimRevision(t *testing.T) {
	srv := billedVisit(t)
	mustDo(t, srv, 200, "POST", "/Invoice/e1-patient/$issue", nil)
	claimOf(t, srv, "e1", nil)
	claim := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body
	if cr := mustDo(t, srv, 200, "POST", "/Claim/$submit", claim).JSON(); cr["outcome"] != "queued" {
		t.Fatalf("$submit: outcome %v, want queued", cr["outcome"])
	}
	mustDo(t, srv, 200, "POST", "/Invoice/e1-patient/$cancel", nil)

	old := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).JSON()
	if old["status"] != "cancelled" || field(old, "meta", "versionId") != "2" {
		t.Errorf("Claim of the cancelled Invoice: status %v version %v, want cancelled 2",
			old["status"], field(old, "meta", "versionId"))
	}
	var statuses []string
	history := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1/_history", nil).JSON()
	for _, e := range asList(history["entry"]) {
		statuses = append(statuses, fmt.Sprint(field(e.(map[string]any), "resource", "status")))
	}
	if strings.Join(statuses, " ") != "cancelled active" {
		t.Errorf("history of Claim/e1-claim-cov1: %v, want [cancelled active]", statuses)
	}
	cr := mustDo(t, srv, 200, "GET", "/ClaimResponse/e1-claim-cov1-response", nil).JSON()
	if cr["outcome"] != "queued" || field(cr, "meta", "versionId") != "1" {
		t.Errorf("ClaimResponse of the cancelled Claim: outcome %v version %v, want queued 1 (as it was)",
			cr["outcome"], field(cr, "meta", "versionId"))
	}

	if inv := bill(t, srv, "e1").Invoice; inv["id"] != "e1-patient-r2" {
		t.Fatalf("$bill after $cancel: Invoice/%v, want e1-patient-r2", inv["id"])
	}
	for _, step := range []string{"draft", "issued"} {
		if step == "issued" {
			mustDo(t, srv, 200, "POST", "/Invoice/e1-patient-r2/$issue", nil)
		}
		c := claimOf(t, srv, "e1", nil)
		if c.Claim["id"] != "e1-claim-cov1-r2" || c.Claim["status"] != "active" ||
			!bytes.Contains(mustJSON(t, c.Claim["identifier"]), []byte(`"value":"e1-patient-r2"`)) {
			t.Errorf("$claim of the %s Invoice r2: Claim/%v %v naming %v, want e1-claim-cov1-r2 active naming "+
				"e1-patient-r2", step, c.Claim["id"], c.Claim["status"], c.Claim["identifier"])
		}
		if out := mustJSON(t, c.Outcome); bytes.Contains(out, []byte("left as submitted")) {
			t.Errorf("$claim of the %s Invoice r2: %s, want no Claim left as submitted", step, out)
		}
	}

	claim = mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1-r2", nil).Body
	cr = mustDo(t, srv, 200, "POST", "/Claim/$submit", claim).JSON()
	if cr["id"] != "e1-claim-cov1-r2-response" || cr["outcome"] != "queued" {
		t.Errorf("$submit of Claim r2: ClaimResponse/%v %v, want e1-claim-cov1-r2-response queued",
			cr["id"], cr["outcome"])
	}

	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}
	if res := srv.Do("POST", "/Claim/e1-claim-cov1/$remit", answer); res.Status != 422 {
		t.Errorf("$remit to the cancelled Claim: %d %s, want 422", res.Status, res.Body)
	}
	r2 := bytes.Replace(answer, []byte(`"Claim/e1-claim-cov1"`), []byte(`"Claim/e1-claim-cov1-r2"`), 1)
	inv := remitTo(t, srv, "e1-claim-cov1-r2", string(r2))
	if n := fmt.Sprint(field(inv, "totalNet", "value")); inv["id"] != "e1-patient-r2" || n != "62.73" ||
		inv["status"] != "issued" {
		t.Errorf("after remittance: Invoice/%v totalNet %s status %v, want e1-patient-r2 62.73 issued",
			inv["id"], n, inv["status"])
	}
	cr = mustDo(t, srv, 200, "GET", "/ClaimResponse/e1-claim-cov1-r2-response", nil).JSON()
	if cr["outcome"] != "complete" {
		t.Errorf("ClaimResponse of Claim r2 after $remit: outcome %v, want complete", cr["outcome"])
	}
}

// TestClaim_SecondaryOfRevision: the secondary claim of a revised
// Invoice follows the primary claim of that revision. Invoice e1-patient
// is claimed to cov1 and cancelled, e1 billed again; Claim
// e1-claim-cov1-r2 is remitted (the amounts of TestClaim_Secondary), and
// the claim to cov2 is e1-claim-cov2-r2, naming the answer
// ClaimResponse/e1-claim-cov1-r2-response for the primary. Before, the
// primary's claim was looked for at e1-claim-cov1, the cancelled
// Invoice's.
func TestClaim_SecondaryOfRevision(t *testing.T) {
	srv := billedVisit(t)
	secondary := withSecondary(t, srv)
	claimOf(t, srv, "e1", nil)
	mustDo(t, srv, 200, "POST", "/Invoice/e1-patient/$cancel", nil)
	bill(t, srv, "e1")
	if c := claimOf(t, srv, "e1", nil).Claim; c["id"] != "e1-claim-cov1-r2" {
		t.Fatalf("primary claim of r2: %v, want e1-claim-cov1-r2", c["id"])
	}
	if res := srv.Do("POST", "/Encounter/e1/$claim", secondary); res.Status != 422 {
		t.Errorf("secondary claim of r2 before the primary's answer: %d %s, want 422", res.Status, res.Body)
	}
	answer := strings.Replace(adjudication("complete",
		[6]string{"1", "98.19", "38.55", "50.00", "0.00", "9.64"},
		[6]string{"2", "15.45", "12.36", "0.00", "0.00", "3.09"}),
		`"Claim/e1-claim-cov1"`, `"Claim/e1-claim-cov1-r2"`, 1)
	remitTo(t, srv, "e1-claim-cov1-r2", answer)

	c := claimOf(t, srv, "e1", secondary).Claim
	ins := asList(c["insurance"])
	if c["id"] != "e1-claim-cov2-r2" || len(ins) != 2 ||
		field(ins[0].(map[string]any), "claimResponse", "reference") !=
			"ClaimResponse/e1-claim-cov1-r2-response" {
		t.Errorf("secondary claim of r2: Claim/%v insurance %v, want e1-claim-cov2-r2 after "+
			"ClaimResponse/e1-claim-cov1-r2-response", c["id"], ins)
	}
}

// TestSubmit_KeepsFhirbillsMarks: $submit holds a Claim $claim built to
// what made it. Before, a Claim $cancel had cancelled with its Invoice,
// sent again as active with the identifiers naming its Encounter and
// Invoice dropped, was queued again (200), active for a cancelled bill,
// and could then name another patient; and a client's own Claim carrying
// an identifier of fhirbill's claim system was stored under it. Now:
// the cancelled Claim is a 409 naming Claim.status; a resubmission
// dropping the Encounter's identifier is a 422 naming Claim.identifier;
// a Claim with a sid/claim identifier naming no Claim $claim built is a
// 422 naming it. None stores anything.
func TestSubmit_KeepsFhirbillsMarks(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	built := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).JSON()
	mustDo(t, srv, 200, "POST", "/Claim/$submit", mustJSON(t, built))

	withoutLinks := func(c map[string]any) map[string]any {
		var ids []any
		for _, id := range asList(c["identifier"]) {
			if id.(map[string]any)["system"] == billing.SystemClaimID {
				ids = append(ids, id)
			}
		}
		c["identifier"] = ids
		return c
	}
	res := mustDo(t, srv, 422, "POST", "/Claim/$submit", mustJSON(t, withoutLinks(maps.Clone(built))))
	if !bytes.Contains(res.Body, []byte(`"expression":["Claim.identifier"]`)) {
		t.Errorf("resubmission without its links: %s, want a refusal naming Claim.identifier", res.Body)
	}

	minted := maps.Clone(built)
	minted["identifier"] = []any{map[string]any{"system": billing.SystemClaimID, "value": "zz1"}}
	res = mustDo(t, srv, 422, "POST", "/Claim/$submit", mustJSON(t, minted))
	if !bytes.Contains(res.Body, []byte(`"expression":["Claim.identifier[0]"]`)) {
		t.Errorf("a minted sid/claim identifier: %s, want a refusal naming Claim.identifier[0]", res.Body)
	}

	mustDo(t, srv, 200, "POST", "/Invoice/e1-patient/$cancel", nil)
	cancelled := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).JSON()
	revived := withoutLinks(maps.Clone(cancelled))
	revived["status"] = "active"
	res = mustDo(t, srv, 409, "POST", "/Claim/$submit", mustJSON(t, revived))
	if !bytes.Contains(res.Body, []byte(`"expression":["Claim.status"]`)) {
		t.Errorf("resubmission of the cancelled Claim: %s, want a refusal naming Claim.status", res.Body)
	}
	if c := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).JSON(); c["status"] != "cancelled" ||
		field(c, "meta", "versionId") != field(cancelled, "meta", "versionId") {
		t.Errorf("Claim/e1-claim-cov1 after the refusals: %v version %v, want cancelled version %v",
			c["status"], field(c, "meta", "versionId"), field(cancelled, "meta", "versionId"))
	}
	res = mustDo(t, srv, 200, "GET", "/Claim?identifier=zz1&_summary=count", nil)
	if !bytes.Contains(res.Body, []byte(`"total":0`)) {
		t.Errorf("a Claim was stored under the minted identifier: %s", res.Body)
	}
}
