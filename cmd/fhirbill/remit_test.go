package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// adjudication prints a ClaimResponse for Claim/e1-claim-cov1 with one
// item per line: sequence and eligible, benefit, deductible, copay and
// coinsurance amounts ("" leaves an amount out).
func adjudication(outcome string, lines ...[6]string) string {
	cats := []struct{ system, code string }{
		{"http://terminology.hl7.org/CodeSystem/adjudication", "eligible"},
		{"http://terminology.hl7.org/CodeSystem/adjudication", "benefit"},
		{"http://terminology.hl7.org/CodeSystem/adjudication", "deductible"},
		{"http://terminology.hl7.org/CodeSystem/adjudication", "copay"},
		{"https://fhirbill.dev/fhir/CodeSystem/price-component", "coinsurance"},
	}
	var items []string
	for _, l := range lines {
		var adj []string
		for i, c := range cats {
			if l[i+1] == "" {
				continue
			}
			adj = append(adj, fmt.Sprintf(`{"category":{"coding":[{"system":%q,"code":%q}]},"amount":{"value":%s,"currency":"USD"}}`,
				c.system, c.code, l[i+1]))
		}
		items = append(items, fmt.Sprintf(`{"itemSequence":%s,"adjudication":[%s]}`, l[0], strings.Join(adj, ",")))
	}
	return `{"resourceType":"ClaimResponse","status":"active",
	  "identifier":[{"system":"urn:oid:2.16.840.1.113883.3.9999","value":"ICN-2025-000123"}],
	  "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},
	  "use":"claim","patient":{"reference":"Patient/p1"},"created":"2025-04-02",
	  "insurer":{"reference":"Organization/medicare"},"request":{"reference":"Claim/e1-claim-cov1"},
	  "outcome":"` + outcome + `","item":[` + strings.Join(items, ",") + `]}`
}

// withHeader puts the JSON members header (`"total":[...]`, ...) into the
// ClaimResponse body, before its items.
func withHeader(body, header string) string {
	return strings.Replace(body, `,"item":[`, `,`+header+`,"item":[`, 1)
}

// total is a ClaimResponse.total entry of an HL7 adjudication category.
func total(category, value string) string {
	return `{"category":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/adjudication","code":"` +
		category + `"}]},"amount":{"value":` + value + `,"currency":"USD"}}`
}

// remit posts a ClaimResponse to Claim/e1-claim-cov1/$remit and returns
// the Invoice answered.
func remit(t testing.TB, srv *resttest.Server, body string) map[string]any {
	t.Helper()
	return remitTo(t, srv, "e1-claim-cov1", body)
}

// remitTo posts a ClaimResponse to Claim/[claim]/$remit and returns the
// Invoice answered.
func remitTo(t testing.TB, srv *resttest.Server, claim, body string) map[string]any {
	t.Helper()
	res := srv.Do("POST", "/Claim/"+claim+"/$remit", []byte(body))
	if res.Status != 200 {
		t.Fatalf("$remit: %d %s", res.Status, res.Body)
	}
	var out struct {
		Parameter []struct {
			Name     string
			Resource map[string]any
		}
	}
	decode(t, res.Body, &out)
	for _, p := range out.Parameter {
		if p.Name == "invoice" {
			return p.Resource
		}
	}
	t.Fatalf("$remit: no invoice in %s", res.Body)
	return nil
}

// TestRemit_InvoiceFollowsPayer is must-show 4 of the claims issue: the
// Claim of TestClaim_OfficeVisitEndToEnd submitted, then the payer's
// ClaimResponse posted: the Invoice's lines and totals become what the
// payer decided, in a new version, the estimate in its history, and the
// plan year's accumulator follows.
//
// The estimate (TestBill_OfficeVisitEndToEnd) spent the whole deductible
// of 100.00: 98.19 on 99213 and 1.81 on 93000, totalNet 102.73. The payer
// applied only 50.00 of it (the patient had met the rest elsewhere), then
// its 20 % coinsurance:
//
//	line 1, 99213: eligible 98.19, deductible 50.00,
//	        coinsurance 20 % x (98.19 - 50.00) = 9.638 -> 9.64,
//	        benefit 98.19 - 50.00 - 9.64 = 38.55; patient 59.64
//	line 2, 93000: eligible 15.45, deductible 0.00,
//	        coinsurance 20 % x 15.45 = 3.09, benefit 12.36; patient 3.09
//
// Discounts stay gross minus eligible: 150.00 - 98.19 = 51.81 and
// 60.00 - 15.45 = 44.55. Totals: benefit 38.55 + 12.36 = 50.91,
// deductible 50.00, coinsurance 9.64 + 3.09 = 12.73, totalNet
// 59.64 + 3.09 = 62.73 (= 210.00 - 96.36 - 50.91).
func TestRemit_InvoiceFollowsPayer(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	if res := srv.Do("POST", "/Claim/$submit", srv.Do("GET", "/Claim/e1-claim-cov1", nil).Body); res.Status != 200 {
		t.Fatalf("$submit: %d %s", res.Status, res.Body)
	}
	decided := adjudication("complete",
		[6]string{"1", "98.19", "38.55", "50.00", "0.00", "9.64"},
		[6]string{"2", "15.45", "12.36", "0.00", "0.00", ""}) // coinsurance left to the remainder: 3.09

	inv := remit(t, srv, decided)
	wantLines := [][]string{{
		"base/submitted=150.00", "discount=51.81", "deduction/benefit=38.55",
		"informational/eligible=98.19", "informational/deductible=50.00",
		"informational/copay=0.00", "informational/coinsurance=9.64",
	}, {
		"base/submitted=60.00", "discount=44.55", "deduction/benefit=12.36",
		"informational/eligible=15.45", "informational/deductible=0.00",
		"informational/copay=0.00", "informational/coinsurance=3.09",
	}}
	for i, l := range asList(inv["lineItem"]) {
		if got := components(l.(map[string]any)["priceComponent"]); !slices.Equal(got, wantLines[i]) {
			t.Errorf("line %d\n got %v\nwant %v", i+1, got, wantLines[i])
		}
	}
	wantTotals := []string{
		"base/submitted=210.00", "discount=96.36", "deduction/benefit=50.91",
		"informational/eligible=113.64", "informational/deductible=50.00",
		"informational/copay=0.00", "informational/coinsurance=12.73",
	}
	if got := components(inv["totalPriceComponent"]); !slices.Equal(got, wantTotals) {
		t.Errorf("totals\n got %v\nwant %v", got, wantTotals)
	}
	if g, n := fmt.Sprint(field(inv, "totalGross", "value")), fmt.Sprint(field(inv, "totalNet", "value")); g != "210.00" || n != "62.73" {
		t.Errorf("totalGross %s totalNet %s, want 210.00 and 62.73", g, n)
	}
	if inv["status"] != "issued" || field(inv, "meta", "versionId") != "2" {
		t.Errorf("status %v version %v, want issued, version 2", inv["status"], field(inv, "meta", "versionId"))
	}
	if div, _ := field(inv, "text", "div").(string); !strings.Contains(div, "ClaimResponse/e1-claim-cov1-response") || !strings.Contains(div, "62.73") {
		t.Errorf("the narrative does not show the remittance: %s", div)
	}

	// The estimate is version 1, in history.
	v1 := srv.Do("GET", "/Invoice/e1-patient/_history/1", nil).JSON()
	if n := fmt.Sprint(field(v1, "totalNet", "value")); n != "102.73" || v1["status"] != "draft" {
		t.Errorf("version 1: totalNet %s status %v, want the estimate 102.73, draft", n, v1["status"])
	}
	// The ClaimResponse replaced $submit's queued answer.
	cr := srv.Do("GET", "/ClaimResponse/e1-claim-cov1-response", nil).JSON()
	if cr["outcome"] != "complete" || field(cr, "meta", "versionId") != "2" {
		t.Errorf("ClaimResponse outcome %v version %v, want complete, 2", cr["outcome"], field(cr, "meta", "versionId"))
	}
	// The accumulator counts what the payer applied: deductible 50.00,
	// out of pocket 62.73.
	acc := srv.Do("GET", "/Account/accum-cov1-20250101", nil).Body
	for _, w := range []string{`"valueMoney":{"currency":"USD","value":50.00}`, `"valueMoney":{"currency":"USD","value":62.73}`} {
		if !bytes.Contains(acc, []byte(w)) {
			t.Errorf("the accumulator lacks %s: %s", w, acc)
		}
	}

	// Posting the same answer again stores nothing.
	if again := remit(t, srv, decided); field(again, "meta", "versionId") != "2" {
		t.Errorf("posting the same ClaimResponse again made version %v", field(again, "meta", "versionId"))
	}

	// Answers that do not fit the Claim are refused and change nothing.
	for _, c := range []struct {
		name, path, body string
		status           int
		expression       string
	}{
		{"UnknownItem", "/Claim/e1-claim-cov1/$remit", adjudication("complete", [6]string{"3", "10.00", "8.00", "0.00", "0.00", "2.00"}), 422, "ClaimResponse.item[0].itemSequence"},
		{"OtherCurrency", "/Claim/e1-claim-cov1/$remit", strings.Replace(decided, `"value":98.19,"currency":"USD"`, `"value":98.19,"currency":"EUR"`, 1), 400, "ClaimResponse.item[0].adjudication[0].amount.currency"},
		{"AboveNet", "/Claim/e1-claim-cov1/$remit", adjudication("complete", [6]string{"2", "61.00", "48.80", "0.00", "0.00", "12.20"}), 422, "ClaimResponse.item[0].adjudication[0].amount"},
		{"BenefitAboveEligible", "/Claim/e1-claim-cov1/$remit", adjudication("complete", [6]string{"2", "15.45", "15.46", "", "", ""}), 422, "ClaimResponse.item[0].adjudication"},
		{"DoesNotAddUp", "/Claim/e1-claim-cov1/$remit", adjudication("complete", [6]string{"2", "15.45", "12.36", "0.00", "0.00", "3.00"}), 422, "ClaimResponse.item[0].adjudication"},
		{"Negative", "/Claim/e1-claim-cov1/$remit", adjudication("complete", [6]string{"2", "15.45", "-1.00", "", "", ""}), 422, "ClaimResponse.item[0].adjudication[1].amount"},
		{"TwiceOneLine", "/Claim/e1-claim-cov1/$remit", adjudication("complete", [6]string{"2", "15.45", "12.36", "", "", ""}, [6]string{"2", "15.45", "12.36", "", "", ""}), 422, "ClaimResponse.item[1].itemSequence"},
		{"OtherPatient", "/Claim/e1-claim-cov1/$remit", strings.Replace(decided, `"Patient/p1"`, `"Patient/p2"`, 1), 422, "ClaimResponse.patient"},
		{"OtherInsurer", "/Claim/e1-claim-cov1/$remit", strings.Replace(decided, `"Organization/medicare"`, `"Organization/clinic"`, 1), 422, "ClaimResponse.insurer"},
		{"Queued", "/Claim/e1-claim-cov1/$remit", adjudication("queued", [6]string{"2", "15.45", "12.36", "", "", ""}), 422, "ClaimResponse.outcome"},
		{"UnknownClaim", "/Claim/nope/$remit", strings.Replace(decided, "Claim/e1-claim-cov1", "Claim/nope", 1), 404, "Claim"},
		{"OtherClaim", "/Claim/e1-claim-cov1/$remit", strings.Replace(decided, "Claim/e1-claim-cov1", "Claim/x", 1), 400, "ClaimResponse.request"},
		// R4 ClaimResponse: only an active one, the answer to a claim
		// (not a preauthorization), is an adjudication to apply.
		{"StatusCancelled", "/Claim/e1-claim-cov1/$remit", strings.Replace(decided, `"status":"active"`, `"status":"cancelled"`, 1), 422, "ClaimResponse.status"},
		{"UsePreauthorization", "/Claim/e1-claim-cov1/$remit", strings.Replace(decided, `"use":"claim"`, `"use":"preauthorization"`, 1), 422, "ClaimResponse.use"},
		// Outcome complete: the payer decided on every line; line 1 is
		// missing.
		{"CompleteOneLineOfTwo", "/Claim/e1-claim-cov1/$remit", adjudication("complete", [6]string{"2", "15.45", "12.36", "0.00", "0.00", "3.09"}), 422, "ClaimResponse.item"},
		// The answer's benefit is 38.55 + 12.36 = 50.91 (decided): a total
		// or a payment of 999999.00 contradicts it.
		{"TotalContradictsItems", "/Claim/e1-claim-cov1/$remit", withHeader(decided, `"total":[`+total("benefit", "999999.00")+`]`), 422, "ClaimResponse.total[0].amount"},
		{"PaymentContradictsItems", "/Claim/e1-claim-cov1/$remit", withHeader(decided, `"payment":{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/ex-paymenttype","code":"complete"}]},"amount":{"value":999999.00,"currency":"USD"}}`), 422, "ClaimResponse.payment.amount"},
		// What fhirbill cannot apply is refused, not read past.
		{"AddItem", "/Claim/e1-claim-cov1/$remit", withHeader(decided, `"addItem":[{"productOrService":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99999"}]},"adjudication":[{"category":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/adjudication","code":"benefit"}]},"amount":{"value":1000,"currency":"USD"}}]}]`), 422, "ClaimResponse.addItem"},
		{"ItemDetail", "/Claim/e1-claim-cov1/$remit", strings.Replace(decided, `{"itemSequence":1,`, `{"itemSequence":1,"detail":[{"detailSequence":1,"adjudication":[{"category":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/adjudication","code":"benefit"}]},"amount":{"value":500,"currency":"USD"}}]}],`, 1), 422, "ClaimResponse.item[0].detail"},
		{"HeaderAdjudication", "/Claim/e1-claim-cov1/$remit", withHeader(decided, `"adjudication":[{"category":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/adjudication","code":"benefit"}]},"amount":{"value":500,"currency":"USD"}}]`), 422, "ClaimResponse.adjudication"},
		// A payer pays whole cents: 38.555 and 9.635 add up exactly
		// (50.00 + 9.635 = 98.19 - 38.555) but are no amounts of money, and
		// rounded each (38.56, 9.64) they no longer add up.
		{"SubCent", "/Claim/e1-claim-cov1/$remit", adjudication("complete", [6]string{"1", "98.19", "38.555", "50.00", "0.00", "9.635"}, [6]string{"2", "15.45", "12.36", "0.00", "0.00", ""}), 422, "ClaimResponse.item[0].adjudication[1].amount"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := srv.Do("POST", c.path, []byte(c.body))
			if res.Status != c.status || !bytes.Contains(res.Body, []byte(`"expression":["`+c.expression+`"]`)) {
				t.Errorf("%d %s, want %d naming %s", res.Status, res.Body, c.status, c.expression)
			}
		})
	}
	for _, path := range []string{"/Invoice/e1-patient/_history", "/ClaimResponse/e1-claim-cov1-response/_history"} {
		if res := srv.Do("GET", path, nil); !bytes.Contains(res.Body, []byte(`"total":2`)) {
			t.Errorf("a refused ClaimResponse changed %s: %s", path, res.Body)
		}
	}

	// Once an answer is applied, a different one is refused (409) and
	// changes nothing: the payer's decision stands, and a correction is
	// a new claim (TestRemit_OneAnswerPerClaim).
	if res := srv.Do("POST", "/Claim/e1-claim-cov1/$remit", []byte(paidInFull)); res.Status != 409 {
		t.Errorf("a second, different answer: %d %s, want 409", res.Status, res.Body)
	}
	// Billing again leaves the Invoice as the payer made it.
	if b := bill(t, srv, "e1"); b.Invoice["status"] != "issued" || field(b.Invoice, "meta", "versionId") != "2" {
		t.Errorf("billing again after remittance: status %v version %v, want issued, 2",
			b.Invoice["status"], field(b.Invoice, "meta", "versionId"))
	}
}

// paidInFull is an answer for Claim/e1-claim-cov1 paying everything
// the patient owed: each line's benefit is its eligible amount
// (TestRemit_InvoiceFollowsPayer: 98.19 and 15.45), the rest 0.00. Its
// totals and payment are the sums of its lines: eligible and benefit
// 98.19 + 15.45 = 113.64, submitted 150.00 + 60.00 = 210.00.
var paidInFull = withHeader(adjudication("complete",
	[6]string{"1", "98.19", "98.19", "0.00", "0.00", "0.00"},
	[6]string{"2", "15.45", "15.45", "0.00", "0.00", "0.00"}),
	`"total":[`+total("eligible", "113.64")+`,`+total("benefit", "113.64")+`,`+
		total("deductible", "0.00")+`,`+total("submitted", "210.00")+`],`+
		`"payment":{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/ex-paymenttype","code":"complete"}]},`+
		`"amount":{"value":113.64,"currency":"USD"}}`)

// TestRemit_BalancedOnce: an answer paying everything the patient owed
// (paidInFull) balances the Invoice, totalNet 0.00; the same answer
// again stores nothing, and another is refused (409).
func TestRemit_BalancedOnce(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	mustDo(t, srv, 200, "POST", "/Claim/$submit", mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body)
	inv := remit(t, srv, paidInFull)
	if inv["status"] != "balanced" || fmt.Sprint(field(inv, "totalNet", "value")) != "0.00" {
		t.Errorf("status %v totalNet %v, want balanced 0.00", inv["status"], field(inv, "totalNet", "value"))
	}
	if again := remit(t, srv, paidInFull); field(again, "meta", "versionId") != field(inv, "meta", "versionId") {
		t.Errorf("the same answer again made version %v", field(again, "meta", "versionId"))
	}
	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}
	mustDo(t, srv, 409, "POST", "/Claim/e1-claim-cov1/$remit", answer)
	if b := bill(t, srv, "e1"); b.Invoice["status"] != "balanced" {
		t.Errorf("billing again after remittance: status %v", b.Invoice["status"])
	}
}

// TestRemit_OneAnswerPerClaim: after the complete answer of
// testdata/billing/remittance.json is applied, a partial one covering
// only line 1 is refused (409 naming ClaimResponse) and changes nothing;
// the same complete answer again stores nothing. Before, the partial
// answer was applied (200): the ClaimResponse adjudicated line 1 only
// while Invoice line 2 kept the superseded answer's amounts.
func TestRemit_OneAnswerPerClaim(t *testing.T) {
	srv, answer := submittedVisit(t)
	remit(t, srv, string(answer))
	invoice := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).Body
	cr := mustDo(t, srv, 200, "GET", "/ClaimResponse/e1-claim-cov1-response", nil).Body

	// Line 1 paid in full this time: eligible = benefit = 98.19.
	partial := adjudication("partial", [6]string{"1", "98.19", "98.19", "0.00", "0.00", "0.00"})
	res := mustDo(t, srv, 409, "POST", "/Claim/e1-claim-cov1/$remit", []byte(partial))
	if !bytes.Contains(res.Body, []byte(`"expression":["ClaimResponse"]`)) ||
		!bytes.Contains(res.Body, []byte("new claim")) {
		t.Errorf("a partial answer after a complete one: %s, want a 409 naming ClaimResponse", res.Body)
	}
	if got := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).Body; !bytes.Equal(got, invoice) {
		t.Errorf("the refused answer changed the Invoice:\n%s", got)
	}
	if got := mustDo(t, srv, 200, "GET", "/ClaimResponse/e1-claim-cov1-response", nil).Body; !bytes.Equal(got, cr) {
		t.Errorf("the refused answer changed the ClaimResponse:\n%s", got)
	}
	if again := remit(t, srv, string(answer)); field(again, "meta", "versionId") != "2" {
		t.Errorf("the same answer again: version %v, want 2", field(again, "meta", "versionId"))
	}
}

// TestClaim_Secondary builds the secondary claim once the primary's
// answer is in: a Medigap-like Coverage (order 2) is claimed for what
// the primary left to the patient, per line.
//
// After the payer of TestRemit_InvoiceFollowsPayer decided, the patient
// owes 59.64 on line 1 and 3.09 on line 2 (62.73 in all): the secondary
// claim's nets.
func TestClaim_Secondary(t *testing.T) {
	srv := billedVisit(t)
	secondary := withSecondary(t, srv)

	// The primary is the Coverage of order 1.
	if c := claimOf(t, srv, "e1", nil); c.Claim["id"] != "e1-claim-cov1" {
		t.Errorf("primary claim %v, want e1-claim-cov1", c.Claim["id"])
	}
	if res := srv.Do("POST", "/Encounter/e1/$claim", secondary); res.Status != 422 {
		t.Errorf("secondary claim before the primary's answer: %d %s, want 422", res.Status, res.Body)
	}
	remit(t, srv, adjudication("complete",
		[6]string{"1", "98.19", "38.55", "50.00", "0.00", "9.64"},
		[6]string{"2", "15.45", "12.36", "0.00", "0.00", "3.09"}))

	c := claimOf(t, srv, "e1", secondary).Claim
	if c["id"] != "e1-claim-cov2" || field(c, "insurer", "reference") != "Organization/medigap" {
		t.Errorf("secondary claim %v to %v", c["id"], field(c, "insurer", "reference"))
	}
	var nets []string
	for _, it := range asList(c["item"]) {
		nets = append(nets, fmt.Sprint(field(it.(map[string]any), "net", "value")))
	}
	if !slices.Equal(nets, []string{"59.64", "3.09"}) || fmt.Sprint(field(c, "total", "value")) != "62.73" {
		t.Errorf("secondary nets %v total %v, want [59.64 3.09] and 62.73", nets, field(c, "total", "value"))
	}
	ins := asList(c["insurance"])
	if len(ins) != 2 || field(ins[0].(map[string]any), "claimResponse", "reference") != "ClaimResponse/e1-claim-cov1-response" ||
		ins[1].(map[string]any)["focal"] != true {
		t.Errorf("secondary insurance %v", ins)
	}
}

// withSecondary gives patient p1 a Medigap-like Coverage cov2 (order 2)
// after cov1 (order 1, the deductible and coinsurance of the billing
// fixtures) and returns the $claim Parameters that claim cov2.
func withSecondary(t testing.TB, srv *resttest.Server) []byte {
	t.Helper()
	put(t, srv, `{"resourceType":"Organization","id":"medigap","name":"Medigap Plan G"}`)
	put(t, srv, `{"resourceType":"Coverage","id":"cov2","status":"active","order":2,
	  "beneficiary":{"reference":"Patient/p1"},"payor":[{"reference":"Organization/medigap"}],
	  "period":{"start":"2025-01-01"}}`)
	put(t, srv, `{"resourceType":"Coverage","id":"cov1","status":"active","order":1,
	  "beneficiary":{"reference":"Patient/p1"},"payor":[{"reference":"Organization/medicare"}],
	  "period":{"start":"2025-01-01"},
	  "costToBeneficiary":[
	    {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-copay-type","code":"deductible"}]},
	     "valueMoney":{"value":100.00,"currency":"USD"}},
	    {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-copay-type","code":"copaypct"}]},
	     "valueQuantity":{"value":20}}]}`)
	return []byte(`{"resourceType":"Parameters","parameter":[{"name":"coverage",
	  "valueReference":{"reference":"Coverage/cov2"}}]}`)
}

// TestClaim_READMEWalkthrough runs the README's billing walkthrough to
// its end, on a server that bills on push as `fhirbill serve` does: the
// visit of testdata/billing/office-visit.json billed when posted ($bill
// again changes nothing), issued, $translate, claimed, submitted, and the
// payer's answer in testdata/billing/remittance.json (the one of
// TestRemit_InvoiceFollowsPayer) remitted: totalNet 102.73 becomes 62.73.
func TestClaim_READMEWalkthrough(t *testing.T) {
	srv := pushingBillingServer(t)
	body, err := os.ReadFile("../../testdata/billing/office-visit.json")
	if err != nil {
		t.Fatal(err)
	}
	if res := srv.Do("POST", "", body); res.Status != 200 {
		t.Fatalf("transaction: %d %s", res.Status, res.Body)
	}
	bill(t, srv, "e1")
	if res := srv.Do("POST", "/Invoice/e1-patient/$issue", nil); res.Status != 200 {
		t.Fatalf("$issue: %d %s", res.Status, res.Body)
	}
	translated(t, srv)
	if c := claimOf(t, srv, "e1", nil).Claim; c["status"] != "active" || fmt.Sprint(field(c, "total", "value")) != "210.00" {
		t.Errorf("claim status %v total %v, want active 210.00", c["status"], field(c, "total", "value"))
	}
	if res := srv.Do("POST", "/Claim/$submit", srv.Do("GET", "/Claim/e1-claim-cov1", nil).Body); res.JSON()["outcome"] != "queued" {
		t.Errorf("$submit: %d %s", res.Status, res.Body)
	}
	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}
	inv := remit(t, srv, string(answer))
	if n := fmt.Sprint(field(inv, "totalNet", "value")); n != "62.73" || inv["status"] != "issued" {
		t.Errorf("after remittance: totalNet %s status %v, want 62.73 issued", n, inv["status"])
	}
	if v1 := srv.Do("GET", "/Invoice/e1-patient/_history/2", nil).JSON(); fmt.Sprint(field(v1, "totalNet", "value")) != "102.73" {
		t.Errorf("the issued estimate is not version 2 in history: %v", field(v1, "totalNet", "value"))
	}
}

// TestRemit_OnlyClaimsFhirbillBuilt: a client's Claim copied from the one
// $claim built, naming the same Encounter and Invoice by fhirbill's
// identifier systems but stored by a plain POST, is not remitted onto the
// Invoice: $remit answers 422 naming ClaimResponse.request and the
// Invoice stays at the version $bill stored. Else a client able to write
// Claims and an insurer's answer could rewrite any patient's bill.
func TestRemit_OnlyClaimsFhirbillBuilt(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	built := srv.Do("GET", "/Claim/e1-claim-cov1", nil).JSON()
	var ids []any
	for _, id := range asList(built["identifier"]) {
		if id.(map[string]any)["system"] != billing.SystemClaimID {
			ids = append(ids, id)
		}
	}
	built["identifier"] = append(ids, map[string]any{"system": "urn:example:own", "value": "copy-1"})
	delete(built, "id")
	delete(built, "meta")
	body, err := json.Marshal(built)
	if err != nil {
		t.Fatal(err)
	}
	res := mustDo(t, srv, 201, "POST", "/Claim", body)
	copyID := strings.Split(strings.TrimPrefix(res.Header.Get("Location"), srv.Base+"/Claim/"), "/")[0]

	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}
	answer = bytes.Replace(answer, []byte(`"Claim/e1-claim-cov1"`), []byte(`"Claim/`+copyID+`"`), 1)
	res = mustDo(t, srv, 422, "POST", "/Claim/"+copyID+"/$remit", answer)
	if !bytes.Contains(res.Body, []byte(`"expression":["ClaimResponse.request"]`)) {
		t.Errorf("$remit of a client's Claim: %s, want a refusal naming ClaimResponse.request", res.Body)
	}
	if v := field(srv.Do("GET", "/Invoice/e1-patient", nil).JSON(), "meta", "versionId"); v != "1" {
		t.Errorf("Invoice/e1-patient is at version %v after the refused remittance, want 1", v)
	}
}
