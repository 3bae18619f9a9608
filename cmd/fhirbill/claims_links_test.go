package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// secondPatientBilled adds to billedVisit's server Patient/p38 with
// Coverage/cov38 (cov1's terms: deductible 100.00, then 20 %) and the
// office visit e38 (99213 and an ECG, as e1), billed and issued. Its
// Invoice e38-patient is TestBill_OfficeVisitEndToEnd's first visit of a
// plan year: totalNet 102.73, the whole deductible of 100.00 spent in
// Account/accum-cov38-20250101.
func secondPatientBilled(t *testing.T, srv *resttest.Server, enc, patient, cov string) {
	t.Helper()
	put(t, srv, `{"resourceType":"Patient","id":"`+patient+`","name":[{"family":"Osei"}],"birthDate":"1949-07-01"}`)
	for _, r := range billingFixtures {
		if strings.Contains(r, `"id":"cov1"`) {
			put(t, srv, strings.NewReplacer(`"id":"cov1"`, `"id":"`+cov+`"`, "Patient/p1", "Patient/"+patient).Replace(r))
		}
	}
	for _, r := range officeVisit(enc, "2025-03-10", true) {
		put(t, srv, strings.ReplaceAll(r, "Patient/p1", "Patient/"+patient))
	}
	if n := fmt.Sprint(field(bill(t, srv, enc).Invoice, "totalNet", "value")); n != "102.73" {
		t.Fatalf("Invoice/%s-patient totalNet %s, want 102.73 (TestBill_OfficeVisitEndToEnd)", enc, n)
	}
	mustDo(t, srv, 200, "POST", "/Invoice/"+enc+"-patient/$issue", nil)
}

// withIdentifiers is the Claim JSON c without id and meta, with
// identifiers ids ("system|value").
func withIdentifiers(t *testing.T, c map[string]any, ids ...string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range c {
		out[k] = v
	}
	delete(out, "id")
	delete(out, "meta")
	var l []any
	for _, id := range ids {
		sys, val, _ := strings.Cut(id, "|")
		l = append(l, map[string]any{"system": sys, "value": val})
	}
	out["identifier"] = l
	return out
}

// TestSubmit_ClaimAgreesWithItsInvoice: a client's Claim naming an
// Invoice or Encounter by fhirbill's identifier systems must agree with
// them, else $submit answers 422 naming the element and stores nothing.
// Before, e1's Claim (Patient/p1, Coverage/cov1) renamed to name e38 and
// its Invoice e38-patient (Patient/p38) was queued (200), and its $remit
// with patient p1 rewrote p38's Invoice (totalNet 102.73 to 22.73) and
// deductible. A correction of p1's own visit under a new identifier is
// still taken.
func TestSubmit_ClaimAgreesWithItsInvoice(t *testing.T) {
	srv := billedVisit(t)
	secondPatientBilled(t, srv, "e38", "p38", "cov38")
	claimOf(t, srv, "e1", nil)
	var e1 map[string]any
	decode(t, mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body, &e1)
	enc, inv := billing.SystemEncounterID+"|", billing.SystemInvoiceID+"|"
	otherCov := strings.Replace(string(mustJSON(t, withIdentifiers(t, e1, "urn:x|other-cov", enc+"e1",
		inv+"e1-patient"))), `"Coverage/cov1"`, `"Coverage/cov38"`, 1)

	for _, c := range []struct {
		name       string
		body       []byte
		expression string
	}{
		// The tester's Claim: Encounter/e38's subject is Patient/p38.
		{"OtherPatientsVisit", mustJSON(t, withIdentifiers(t, e1, "urn:x|cross-e38", enc+"e38", inv+"e38-patient")),
			"Claim.patient"},
		{"OtherPatientsInvoice", mustJSON(t, withIdentifiers(t, e1, "urn:x|cross-inv", inv+"e38-patient")),
			"Claim.patient"},
		{"InvoiceOfAnotherEncounter", mustJSON(t, withIdentifiers(t, e1, "urn:x|mixed", enc+"e1", inv+"e38-patient")),
			"Claim.identifier[2]"},
		{"UnknownInvoice", mustJSON(t, withIdentifiers(t, e1, "urn:x|none", enc+"e1", inv+"e99-patient")),
			"Claim.identifier[2]"},
		{"UnknownEncounter", mustJSON(t, withIdentifiers(t, e1, "urn:x|none", enc+"e99")), "Claim.identifier[1]"},
		{"TwoInvoices", mustJSON(t, withIdentifiers(t, e1, "urn:x|two", inv+"e1-patient", inv+"e38-patient")),
			"Claim.identifier[2]"},
		// e1-patient was billed to cov1 (Account/accum-cov1-20250101).
		{"OtherCoverage", []byte(otherCov), "Claim.insurance[0].coverage"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := mustDo(t, srv, 422, "POST", "/Claim/$submit", c.body)
			if !bytes.Contains(res.Body, []byte(`"expression":["`+c.expression+`"]`)) {
				t.Errorf("$submit: %s, want a refusal naming %s", res.Body, c.expression)
			}
		})
	}
	// Only the Claim $claim built; no ClaimResponse.
	if res := mustDo(t, srv, 200, "GET", "/Claim?_summary=count", nil); !bytes.Contains(res.Body,
		[]byte(`"total":1`)) {
		t.Errorf("Claims after the refusals: %s, want 1", res.Body)
	}
	if res := mustDo(t, srv, 200, "GET", "/ClaimResponse?_summary=count", nil); !bytes.Contains(res.Body,
		[]byte(`"total":0`)) {
		t.Errorf("ClaimResponses after the refusals: %s, want 0", res.Body)
	}

	// A correction of p1's visit, under a new identifier naming the old
	// Claim in Claim.related, is queued.
	corr := withIdentifiers(t, e1, "urn:x|corr-e1", enc+"e1", inv+"e1-patient")
	corr["related"] = []any{map[string]any{"claim": map[string]any{"reference": "Claim/e1-claim-cov1"}}}
	if cr := mustDo(t, srv, 200, "POST", "/Claim/$submit", mustJSON(t, corr)).JSON(); cr["outcome"] != "queued" {
		t.Errorf("$submit of a correction: outcome %v, want queued", cr["outcome"])
	}
}

// TestRemit_ClaimAgreesWithItsInvoice: $remit checks the Claim against
// the Invoice and Encounter it names too, for a Claim stored before
// $submit checked them. The tester's Claim (see
// TestSubmit_ClaimAgreesWithItsInvoice) is written to the store as
// fhirbill's, at the id its SystemClaimID identifier gives; its $remit
// answers 422 naming ClaimResponse.request, and p38's Invoice and
// deductible stay as billed (totalNet 102.73, deductible 100.00). Before,
// the Invoice became 22.73 and the deductible 0.00.
func TestRemit_ClaimAgreesWithItsInvoice(t *testing.T) {
	srv := billedVisit(t)
	secondPatientBilled(t, srv, "e38", "p38", "cov38")
	claimOf(t, srv, "e1", nil)
	var e1 map[string]any
	decode(t, mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body, &e1)
	cross := withIdentifiers(t, e1, billing.SystemClaimID+"|cross-e38",
		billing.SystemEncounterID+"|e38", billing.SystemInvoiceID+"|e38-patient")
	cross["id"] = "cross-e38"
	now := time.Now().UTC().Truncate(time.Millisecond)
	cross["meta"] = map[string]any{"versionId": "1", "lastUpdated": now.Format("2006-01-02T15:04:05.000Z")}
	if err := srv.Store.Put(t.Context(), store.Write{Record: &store.Record{Type: "Claim", ID: "cross-e38",
		Version: 1, Updated: now, Body: mustJSON(t, cross), Method: "PUT"}}); err != nil {
		t.Fatal(err)
	}
	invoice := mustDo(t, srv, 200, "GET", "/Invoice/e38-patient", nil).Body
	account := mustDo(t, srv, 200, "GET", "/Account/accum-cov38-20250101", nil).Body

	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}
	answer = bytes.Replace(answer, []byte(`"Claim/e1-claim-cov1"`), []byte(`"Claim/cross-e38"`), 1)
	res := mustDo(t, srv, 422, "POST", "/Claim/cross-e38/$remit", answer)
	if !bytes.Contains(res.Body, []byte(`"expression":["ClaimResponse.request"]`)) ||
		!bytes.Contains(res.Body, []byte("Claim.patient")) {
		t.Errorf("$remit of the cross Claim: %s, want a refusal naming ClaimResponse.request and Claim.patient", res.Body)
	}
	if got := mustDo(t, srv, 200, "GET", "/Invoice/e38-patient", nil).Body; !bytes.Equal(got, invoice) {
		t.Errorf("the refused $remit changed Invoice/e38-patient:\n%s", got)
	}
	if got := mustDo(t, srv, 200, "GET", "/Account/accum-cov38-20250101", nil).Body; !bytes.Equal(got, account) {
		t.Errorf("the refused $remit changed the accumulator:\n%s", got)
	}
}

// TestClaim_PatientChangedSinceBilled: e14 billed and issued for
// Patient/p14 (Coverage/cov14), claimed and submitted; then its
// Encounter is moved to Patient/p1, its Conditions deleted. $claim
// answers 409 saying the Encounter's patient changed since it was billed
// and stores no Claim; $remit of the Claim submitted for p14 answers 422
// (the Encounter's subject is no longer the Claim's patient), and
// Invoice/e14-patient stays as billed. Before, $claim built
// Claim/e14-claim-cov1 for p1 on cov1 from p14's Invoice, and its
// $submit and $remit rewrote p14's Invoice.
func TestClaim_PatientChangedSinceBilled(t *testing.T) {
	srv := billedVisit(t)
	secondPatientBilled(t, srv, "e14", "p14", "cov14")
	claimOf(t, srv, "e14", nil)
	mustDo(t, srv, 200, "POST", "/Claim/$submit", mustDo(t, srv, 200, "GET", "/Claim/e14-claim-cov14", nil).Body)
	invoice := mustDo(t, srv, 200, "GET", "/Invoice/e14-patient", nil).Body

	for _, r := range officeVisit("e14", "2025-03-10", false) {
		if strings.Contains(r, `"resourceType":"Encounter"`) {
			put(t, srv, r) // subject Patient/p1
		}
	}
	for _, ref := range []string{"Condition/e14-htn", "Condition/e14-cp", "Procedure/e14-ecg"} {
		mustDo(t, srv, 204, "DELETE", "/"+ref, nil)
	}

	res := mustDo(t, srv, 409, "POST", "/Encounter/e14/$claim", nil)
	if !bytes.Contains(res.Body, []byte("patient of Encounter/e14 changed since it was billed")) ||
		!bytes.Contains(res.Body, []byte(`"expression":["Encounter.subject"]`)) {
		t.Errorf("$claim after the patient changed: %s, want a 409 saying so", res.Body)
	}
	mustDo(t, srv, 404, "GET", "/Claim/e14-claim-cov1", nil)

	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.NewReplacer(`"Claim/e1-claim-cov1"`, `"Claim/e14-claim-cov14"`,
		`"Patient/p1"`, `"Patient/p14"`).Replace(string(answer))
	res = mustDo(t, srv, 422, "POST", "/Claim/e14-claim-cov14/$remit", []byte(body))
	if !bytes.Contains(res.Body, []byte(`"expression":["ClaimResponse.request"]`)) {
		t.Errorf("$remit after the patient changed: %s, want a refusal naming ClaimResponse.request", res.Body)
	}
	if got := mustDo(t, srv, 200, "GET", "/Invoice/e14-patient", nil).Body; !bytes.Equal(got, invoice) {
		t.Errorf("Invoice/e14-patient changed:\n%s", got)
	}
}
