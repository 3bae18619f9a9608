package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// cmsDir holds the CMS January 2025 Physician Fee Schedule release
// (../shared/testdata/cms-pfs/2025/README.md).
const cmsDir = "../../../shared/testdata/cms-pfs/2025"

// billingServer starts the API with billing wired as `fhirbill serve` wires
// it, and the 2025 fee schedule imported.
func billingServer(t testing.TB) *resttest.Server {
	t.Helper()
	return billingServerWith(t, nil)
}

// billingServerWith is billingServer with the REST configuration
// configure returns (an Authorizer, say); see resttest.NewWith.
func billingServerWith(t testing.TB, configure func(base string, st *store.Store, reg *search.Registry) rest.Config) *resttest.Server {
	t.Helper()
	srv, _ := startBillingServer(t, configure)
	return srv
}

// pushingBillingServer is billingServer as `fhirbill serve` runs it: a
// finished Encounter a client stores is billed before the answer
// (startEHR without EHR connections).
func pushingBillingServer(t testing.TB) *resttest.Server {
	t.Helper()
	srv, b := startBillingServer(t, nil)
	if _, err := startEHR(t.Context(), nil, srv.API, srv.Store, b, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("start billing on push: %v", err)
	}
	return srv
}

// startBillingServer is billingServerWith, and the Biller.
func startBillingServer(
	t testing.TB,
	configure func(base string, st *store.Store, reg *search.Registry) rest.Config,
) (*resttest.Server, *billing.Biller) {
	t.Helper()
	f := pfsFiles{Year: 2025}
	for _, file := range []struct {
		dst  *string
		glob string
	}{{&f.RVU, "PPRRVU*.csv"}, {&f.GPCI, "GPCI*.csv"}, {&f.Counties, "*LOCCO*.csv"}} {
		m, _ := filepath.Glob(filepath.Join(cmsDir, file.glob))
		if len(m) != 1 {
			t.Skipf("the CMS 2025 fee schedule files are not in %s (../shared/testdata is absent)", cmsDir)
		}
		b, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		*file.dst = string(b)
	}
	srv := resttest.NewWith(t, configure)
	if _, err := storePFS(t.Context(), srv.Store, &f); err != nil {
		t.Fatalf("import the fee schedule: %v", err)
	}
	b, err := startBilling(t.Context(), srv.API, srv.Store, "USD", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("start billing: %v", err)
	}
	return srv, b
}

// put stores a resource given as JSON with PUT, which must succeed.
func put(t testing.TB, srv *resttest.Server, body string) {
	t.Helper()
	var head struct{ ResourceType, ID string }
	if err := json.Unmarshal([]byte(body), &head); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	res := srv.Do("PUT", "/"+head.ResourceType+"/"+head.ID, []byte(body))
	if res.Status != 200 && res.Status != 201 {
		t.Fatalf("PUT %s/%s: %d %s", head.ResourceType, head.ID, res.Status, res.Body)
	}
}

// The clinic, payer, patient and plan of the end-to-end tests.
//
// The clinic is in Medicare locality 01182-18 (Los Angeles). The plan is
// Medicare-like: the allowed amount is the Medicare Physician Fee Schedule
// amount, a deductible of 100.00 per calendar year (smaller than Part B's,
// so that one visit shows the deductible met and coinsurance starting),
// then 20 % coinsurance. The clinic's price list charges 150.00 for 99213
// and 60.00 for 93000.
var billingFixtures = []string{
	`{"resourceType":"Organization","id":"clinic","name":"Sunset Family Medicine",
	  "extension":[{"url":"https://fhirbill.dev/fhir/StructureDefinition/pfs-locality","valueString":"01182-18"}],
	  "identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1245319599"}]}`,
	`{"resourceType":"Organization","id":"medicare","name":"Medicare Part B"}`,
	`{"resourceType":"Patient","id":"p1","name":[{"family":"Rivera","given":["Ana"]}],"birthDate":"1950-04-02"}`,
	`{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Okafor"}],
	  "identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1497758544"}]}`,
	`{"resourceType":"Coverage","id":"cov1","status":"active",
	  "beneficiary":{"reference":"Patient/p1"},"payor":[{"reference":"Organization/medicare"}],
	  "period":{"start":"2025-01-01"},
	  "costToBeneficiary":[
	    {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-copay-type","code":"deductible"}]},
	     "valueMoney":{"value":100.00,"currency":"USD"}},
	    {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-copay-type","code":"copaypct"}]},
	     "valueQuantity":{"value":20}}]}`,
	`{"resourceType":"ChargeItemDefinition","id":"price-99213","url":"https://clinic.example/price/99213","status":"active",
	  "code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]},
	  "propertyGroup":[{"priceComponent":[{"type":"base","amount":{"value":150.00,"currency":"USD"}}]}]}`,
	`{"resourceType":"ChargeItemDefinition","id":"price-93000","url":"https://clinic.example/price/93000","status":"active",
	  "code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"93000"}]},
	  "propertyGroup":[{"priceComponent":[{"type":"base","amount":{"value":60.00,"currency":"USD"}}]}]}`,
	`{"resourceType":"ChargeItemDefinition","id":"contract-medicare","url":"https://clinic.example/contract/medicare","status":"active",
	  "extension":[{"url":"https://fhirbill.dev/fhir/StructureDefinition/allowed-rule","valueCode":"medicare-pfs"}],
	  "useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"program"},
	                 "valueReference":{"reference":"Organization/medicare"}}]}`,
}

// officeVisit returns a finished office visit (99213) of Patient/p1 on
// date, with two ICD-10-CM Conditions and, when ecg, an ECG (93000).
func officeVisit(id, date string, ecg bool) []string {
	out := []string{
		fmt.Sprintf(`{"resourceType":"Condition","id":"%s-htn","subject":{"reference":"Patient/p1"},
		  "encounter":{"reference":"Encounter/%s"},
		  "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"I10"}]}}`, id, id),
		fmt.Sprintf(`{"resourceType":"Condition","id":"%s-cp","subject":{"reference":"Patient/p1"},
		  "encounter":{"reference":"Encounter/%s"},
		  "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"R07.9"}]}}`, id, id),
		fmt.Sprintf(`{"resourceType":"Encounter","id":"%s","status":"finished",
		  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
		  "type":[{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]}],
		  "subject":{"reference":"Patient/p1"},
		  "participant":[{"individual":{"reference":"Practitioner/dr1"}}],
		  "period":{"start":"%sT09:00:00Z","end":"%sT09:30:00Z"},
		  "serviceProvider":{"reference":"Organization/clinic"},
		  "diagnosis":[{"condition":{"reference":"Condition/%s-cp"},"rank":1},
		               {"condition":{"reference":"Condition/%s-htn"},"rank":2}]}`, id, date, date, id, id),
	}
	if ecg {
		out = append(out, fmt.Sprintf(`{"resourceType":"Procedure","id":"%s-ecg","status":"completed",
		  "subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/%s"},
		  "code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"93000"}]},
		  "performedDateTime":"%s"}`, id, id, date))
	}
	return out
}

// billed is the part of a $bill answer the tests read; numbers are kept
// as written (json.Number), so "150.00" is not "150".
type billed struct {
	Invoice     map[string]any
	ChargeItems []map[string]any
	Outcome     map[string]any
}

func decode(t testing.TB, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

func bill(t testing.TB, srv *resttest.Server, encounter string) billed {
	t.Helper()
	res := srv.Do("POST", "/Encounter/"+encounter+"/$bill", nil)
	if res.Status != 200 {
		t.Fatalf("$bill %s: %d %s", encounter, res.Status, res.Body)
	}
	var out struct {
		Parameter []struct {
			Name     string
			Resource map[string]any
		}
	}
	decode(t, res.Body, &out)
	var b billed
	for _, p := range out.Parameter {
		switch p.Name {
		case "invoice":
			b.Invoice = p.Resource
		case "chargeItem":
			b.ChargeItems = append(b.ChargeItems, p.Resource)
		case "outcome":
			b.Outcome = p.Resource
		}
	}
	if b.Invoice == nil {
		t.Fatalf("$bill %s: no invoice in %s", encounter, res.Body)
	}
	return b
}

// components lists price components as "type/code=value", in order.
func components(pcs any) []string {
	var out []string
	for _, pc := range pcs.([]any) {
		m := pc.(map[string]any)
		code := ""
		if cc, ok := m["code"].(map[string]any); ok {
			code = "/" + cc["coding"].([]any)[0].(map[string]any)["code"].(string)
		}
		out = append(out, fmt.Sprintf("%s%s=%s", m["type"], code, m["amount"].(map[string]any)["value"]))
	}
	return out
}

func field(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// TestBill_OfficeVisitEndToEnd is must-show 3 of the billing issue: an
// office visit (99213) with an ECG (93000) for a Medicare-like plan,
// billed over HTTP, checked against amounts computed by hand.
//
// Allowed amounts, from the CMS 2025 files in cmsDir: fee = (work RVU x
// work GPCI + non-facility PE RVU x PE GPCI + MP RVU x MP GPCI) x CF,
// rounded to the cent, with CF 32.3465 (PPRRVU25_JAN1), locality 01182-18
// GPCIs 1.042 / 1.194 / 0.690 (GPCI2025), and the RVUs of PPRRVU25_JAN1:
//
//	99213: (1.30 x 1.042 + 1.35 x 1.194 + 0.10 x 0.690) x 32.3465 = 98.18780075 -> 98.19
//	93000: (0.17 x 1.042 + 0.24 x 1.194 + 0.02 x 0.690) x 32.3465 = 15.44545375 -> 15.45
//
// Cost sharing, lines in order, deductible 100.00 then 20 % coinsurance:
//
//	99213: deductible 98.19 (1.81 left), coinsurance 0; patient 98.19, payer 0.00
//	93000: deductible 1.81, coinsurance 20 % x (15.45 - 1.81) = 2.728 -> 2.73;
//	       patient 1.81 + 2.73 = 4.54, payer 15.45 - 4.54 = 10.91
//
// Discount (contractual adjustment) = gross - allowed: 51.81 and 44.55.
func TestBill_OfficeVisitEndToEnd(t *testing.T) {
	srv := billingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	for _, r := range officeVisit("e1", "2025-03-10", true) {
		put(t, srv, r)
	}

	got := bill(t, srv, "e1")
	inv := got.Invoice
	if s := inv["status"]; s != "draft" {
		t.Errorf("status = %v, want draft", s)
	}
	for path, want := range map[string]string{
		"subject":   "Patient/p1",
		"recipient": "Patient/p1",
		"issuer":    "Organization/clinic",
	} {
		if got := field(inv, path, "reference"); got != want {
			t.Errorf("Invoice.%s = %v, want %s", path, got, want)
		}
	}
	ids := inv["identifier"].([]any)[0].(map[string]any)
	if ids["system"] != "https://fhirbill.dev/fhir/sid/encounter" || ids["value"] != "e1" {
		t.Errorf("identifier = %v, want the Encounter's id", ids)
	}

	wantLines := [][]string{{
		"base/submitted=150.00", "discount=51.81", "deduction/benefit=0.00",
		"informational/eligible=98.19", "informational/deductible=98.19",
		"informational/copay=0.00", "informational/coinsurance=0.00",
	}, {
		"base/submitted=60.00", "discount=44.55", "deduction/benefit=10.91",
		"informational/eligible=15.45", "informational/deductible=1.81",
		"informational/copay=0.00", "informational/coinsurance=2.73",
	}}
	lines := inv["lineItem"].([]any)
	if len(lines) != len(wantLines) {
		t.Fatalf("%d lines, want %d", len(lines), len(wantLines))
	}
	wantCodes := []string{"99213", "93000"}
	for i, l := range lines {
		lm := l.(map[string]any)
		if got := components(lm["priceComponent"]); !slices.Equal(got, wantLines[i]) {
			t.Errorf("line %d components\n got %v\nwant %v", i+1, got, wantLines[i])
		}
		// The line's ChargeItem is the one $bill returned, and is stored.
		ref := field(lm, "chargeItemReference", "reference").(string)
		res := srv.Do("GET", "/"+ref, nil)
		if res.Status != 200 {
			t.Fatalf("GET %s: %d", ref, res.Status)
		}
		var ci map[string]any
		decode(t, res.Body, &ci)
		code := field(ci, "code")
		if c := code.(map[string]any)["coding"].([]any)[0].(map[string]any)["code"]; c != wantCodes[i] {
			t.Errorf("line %d: ChargeItem code %v, want %s", i+1, c, wantCodes[i])
		}
		if field(ci, "context", "reference") != "Encounter/e1" || ci["status"] != "billable" {
			t.Errorf("line %d: ChargeItem context %v status %v", i+1, field(ci, "context", "reference"), ci["status"])
		}
		// Diagnoses in Encounter.diagnosis rank order: R07.9 (rank 1), I10.
		var dx []string
		for _, r := range ci["reason"].([]any) {
			dx = append(dx, r.(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string))
		}
		if !slices.Equal(dx, []string{"R07.9", "I10"}) {
			t.Errorf("line %d: reasons %v, want [R07.9 I10]", i+1, dx)
		}
	}

	wantTotals := []string{
		"base/submitted=210.00", "discount=96.36", "deduction/benefit=10.91",
		"informational/eligible=113.64", "informational/deductible=100.00",
		"informational/copay=0.00", "informational/coinsurance=2.73",
	}
	if got := components(inv["totalPriceComponent"]); !slices.Equal(got, wantTotals) {
		t.Errorf("totalPriceComponent\n got %v\nwant %v", got, wantTotals)
	}
	// The totals are the sums of the lines: 150.00 + 60.00 and
	// 98.19 + 4.54 owed by the patient.
	if g, n := field(inv, "totalGross", "value"), field(inv, "totalNet", "value"); g != json.Number("210.00") || n != json.Number("102.73") {
		t.Errorf("totalGross %v totalNet %v, want 210.00 and 102.73", g, n)
	}
	if div, _ := field(inv, "text", "div").(string); !strings.Contains(div, "<table") || !strings.Contains(div, "102.73") {
		t.Errorf("narrative lacks the itemized table: %q", div)
	}

	// Billing again with the same inputs stores nothing new.
	again := bill(t, srv, "e1")
	if v1, v2 := field(inv, "meta", "versionId"), field(again.Invoice, "meta", "versionId"); v1 != v2 {
		t.Errorf("billing again made version %v of the Invoice, want %v", v2, v1)
	}
	a, _ := json.Marshal(inv)
	b, _ := json.Marshal(again.Invoice)
	if !bytes.Equal(a, b) {
		t.Errorf("billing again changed the Invoice:\n%s\n%s", a, b)
	}
	id := inv["id"].(string)
	if res := srv.Do("GET", "/Invoice/"+id+"/_history", nil); !bytes.Contains(res.Body, []byte(`"total":1`)) {
		t.Errorf("Invoice history after billing twice: %s", res.Body)
	}
}

// TestBill_ConcurrentEncountersSpendDeductibleOnce is must-show 4 of the
// billing issue: two visits of one patient in one plan year, billed at the
// same moment, share the 100.00 deductible instead of both spending it.
// Allowed amounts as in TestBill_OfficeVisitEndToEnd: e1 113.64 (99213 and
// 93000), e2 98.19 (99213), 211.83 in all, so the deductible is met in
// full whichever is billed first.
func TestBill_ConcurrentEncountersSpendDeductibleOnce(t *testing.T) {
	srv := billingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	for _, r := range append(officeVisit("e1", "2025-03-10", true), officeVisit("e2", "2025-03-11", false)...) {
		put(t, srv, r)
	}

	encounters := []string{"e1", "e2"}
	results := make([]*resttest.Response, len(encounters))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, e := range encounters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = srv.Do("POST", "/Encounter/"+e+"/$bill", nil)
		}()
	}
	close(start)
	wg.Wait()

	deductible := decimal.Zero
	for i, res := range results {
		if res.Status != 200 {
			t.Fatalf("$bill %s: %d %s", encounters[i], res.Status, res.Body)
		}
		// Read the Invoices as stored now: the first one billed may have
		// been written before the second took its share.
		inv := bill(t, srv, encounters[i]).Invoice
		for _, c := range components(inv["totalPriceComponent"]) {
			if v, ok := strings.CutPrefix(c, "informational/deductible="); ok {
				deductible = deductible.Add(decimal.RequireFromString(v))
			}
		}
	}
	if !deductible.Equal(decimal.RequireFromString("100.00")) {
		t.Errorf("the two Invoices apply %s of deductible, want 100.00 in all", deductible)
	}

	// The plan year's accumulator holds both Invoices.
	res := srv.Do("GET", "/Account/accum-cov1-20250101", nil)
	if res.Status != 200 {
		t.Fatalf("GET the accumulator Account: %d %s", res.Status, res.Body)
	}
	for _, e := range encounters {
		if !bytes.Contains(res.Body, []byte(`"Invoice/`+e+`-patient"`)) {
			t.Errorf("the accumulator lacks Invoice/%s-patient: %s", e, res.Body)
		}
	}
}

// TestBill_Operations drives the other billing operations over HTTP: a
// SNOMED CT visit coded through a stored ConceptMap, a service that cannot
// be coded kept as not billable, $translate, $apply, $issue and $cancel,
// and the client errors of each.
func TestBill_Operations(t *testing.T) {
	srv := billingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	put(t, srv, `{"resourceType":"ConceptMap","id":"snomed-cpt","url":"https://clinic.example/cm/snomed-cpt","status":"active",
	  "group":[{"source":"http://snomed.info/sct","target":"http://www.ama-assn.org/go/cpt",
	            "element":[{"code":"185349003","target":[{"code":"99213","equivalence":"wider"}]}]}]}`)
	visit := officeVisit("e3", "2025-05-02", false)
	visit[2] = strings.Replace(visit[2], `"system":"http://www.ama-assn.org/go/cpt","code":"99213"`,
		`"system":"http://snomed.info/sct","code":"185349003"`, 1)
	for _, r := range visit {
		put(t, srv, r)
	}
	// A procedure no ConceptMap translates to CPT or HCPCS.
	put(t, srv, `{"resourceType":"Procedure","id":"e3-x","status":"completed",
	  "subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/e3"},
	  "code":{"coding":[{"system":"http://snomed.info/sct","code":"430193006"}]},"performedDateTime":"2025-05-02"}`)

	// The CapabilityStatement names each operation's definition, which
	// this server serves.
	meta := srv.Do("GET", "/metadata", nil)
	for _, def := range []string{"Encounter-bill", "Invoice-issue", "Invoice-cancel"} {
		if !bytes.Contains(meta.Body, []byte(`"definition":"https://fhirbill.dev/fhir/OperationDefinition/`+def+`"`)) {
			t.Errorf("the CapabilityStatement does not list %s", def)
		}
		if res := srv.Do("GET", "/OperationDefinition/"+def, nil); res.Status != 200 {
			t.Errorf("GET OperationDefinition/%s: %d", def, res.Status)
		}
	}

	res := srv.Do("GET", "/ConceptMap/$translate?system=http://snomed.info/sct&code=185349003&targetsystem=http://www.ama-assn.org/go/cpt", nil)
	if res.Status != 200 || !bytes.Contains(res.Body, []byte(`"valueBoolean":true`)) || !bytes.Contains(res.Body, []byte(`"code":"99213"`)) {
		t.Errorf("$translate: %d %s", res.Status, res.Body)
	}

	got := bill(t, srv, "e3")
	lines := got.Invoice["lineItem"].([]any)
	if len(lines) != 1 {
		t.Fatalf("%d Invoice lines, want 1 (the visit; the unmapped procedure is not billed)", len(lines))
	}
	// The visit, coded 99213 through the ConceptMap, is priced like the
	// one of TestBill_OfficeVisitEndToEnd: 150.00 gross, 98.19 allowed.
	want := []string{"base/submitted=150.00", "discount=51.81", "deduction/benefit=0.00",
		"informational/eligible=98.19", "informational/deductible=98.19",
		"informational/copay=0.00", "informational/coinsurance=0.00"}
	if c := components(lines[0].(map[string]any)["priceComponent"]); !slices.Equal(c, want) {
		t.Errorf("visit line\n got %v\nwant %v", c, want)
	}
	var notBillable map[string]any
	for _, ci := range got.ChargeItems {
		if ci["status"] == "not-billable" {
			notBillable = ci
		}
	}
	if notBillable == nil || len(got.ChargeItems) != 2 {
		t.Fatalf("want 2 ChargeItems, one not-billable; got %d", len(got.ChargeItems))
	}
	outcome, _ := json.Marshal(got.Outcome)
	if !bytes.Contains(outcome, []byte(notBillable["id"].(string))) || !bytes.Contains(outcome, []byte(`"warning"`)) {
		t.Errorf("the outcome does not list the not-billable ChargeItem: %s", outcome)
	}

	// $apply prices the stored visit ChargeItem against the price list
	// entry without storing anything.
	visitItem := field(lines[0].(map[string]any), "chargeItemReference", "reference").(string)
	before := srv.Do("GET", "/"+visitItem, nil)
	res = srv.Do("POST", "/ChargeItemDefinition/price-99213/$apply",
		[]byte(`{"resourceType":"Parameters","parameter":[{"name":"chargeItem","valueReference":{"reference":"`+visitItem+`"}}]}`),
		"Content-Type", "application/fhir+json")
	if res.Status != 200 || !bytes.Contains(res.Body, []byte(`"priceOverride":{"currency":"USD","value":150.00}`)) {
		t.Errorf("$apply: %d %s", res.Status, res.Body)
	}
	if after := srv.Do("GET", "/"+visitItem, nil); !bytes.Equal(before.Body, after.Body) {
		t.Errorf("$apply changed the stored ChargeItem")
	}

	inv := "/Invoice/" + got.Invoice["id"].(string)
	res = srv.Do("POST", inv+"/$issue", nil)
	if res.Status != 200 || !bytes.Contains(res.Body, []byte(`"status":"issued"`)) {
		t.Fatalf("$issue: %d %s", res.Status, res.Body)
	}
	issued := res.JSON()
	// Past draft, a client changes an Invoice only by status.
	edited := bytes.Replace(res.Body, []byte(`"totalNet":{"currency":"USD","value":98.19}`),
		[]byte(`"totalNet":{"currency":"USD","value":1.00}`), 1)
	if bytes.Equal(edited, res.Body) {
		t.Fatalf("the issued Invoice lacks totalNet 98.19: %s", res.Body)
	}
	for _, c := range []struct {
		method string
		body   []byte
	}{{"PUT", edited}, {"DELETE", nil}} {
		var hdr []string
		if c.body != nil {
			hdr = []string{"Content-Type", "application/fhir+json"}
		}
		if res := srv.Do(c.method, inv, c.body, hdr...); res.Status != 409 || !bytes.Contains(res.Body, []byte(`"code":"business-rule"`)) {
			t.Errorf("%s of an issued Invoice: %d %s, want 409 business-rule", c.method, res.Status, res.Body)
		}
	}
	// An ECG added after the Invoice was issued does not change it.
	for _, r := range officeVisit("e3", "2025-05-02", true)[3:] {
		put(t, srv, r)
	}
	again := bill(t, srv, "e3")
	if v := field(again.Invoice, "meta", "versionId"); v != field(issued, "meta", "versionId") || again.Invoice["status"] != "issued" {
		t.Errorf("billing an issued Invoice's Encounter again gave version %v status %v", v, again.Invoice["status"])
	}

	res = srv.Do("POST", inv+"/$cancel",
		[]byte(`{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"billed to the wrong plan"}]}`),
		"Content-Type", "application/fhir+json")
	if res.Status != 200 || !bytes.Contains(res.Body, []byte(`"cancelledReason":"billed to the wrong plan"`)) {
		t.Errorf("$cancel: %d %s", res.Status, res.Body)
	}

	for _, c := range []struct {
		name, method, path, body string
		status                   int
		expression               string
	}{
		{"BillWithGET", "GET", "/Encounter/e3/$bill", "", 405, ""},
		{"BillMissingEncounter", "POST", "/Encounter/nope/$bill", "", 404, "Encounter"},
		{"BillUnknownParameter", "POST", "/Encounter/e3/$bill", `{"resourceType":"Parameters","parameter":[{"name":"fast","valueBoolean":true}]}`, 400, "Parameters.parameter[0]"},
		// A parameter that is not a resource, given one, is named as
		// unexpected or of the wrong type, not as an unknown element.
		{"BillResourceParameter", "POST", "/Encounter/e3/$bill", `{"resourceType":"Parameters","parameter":[{"name":"encounter","resource":{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"}}}]}`, 400, "Parameters.parameter[0]"},
		{"ApplyChargeItemAsResource", "POST", "/ChargeItemDefinition/price-99213/$apply", `{"resourceType":"Parameters","parameter":[{"name":"chargeItem","resource":{"resourceType":"ChargeItem","status":"billable","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}}]}`, 400, "Parameters.parameter[0].resource"},
		{"ClaimCoverageAsResource", "POST", "/Encounter/e3/$claim", `{"resourceType":"Parameters","parameter":[{"name":"coverage","resource":{"resourceType":"Coverage","status":"active","beneficiary":{"reference":"Patient/p1"},"payor":[{"reference":"Organization/o1"}]}}]}`, 400, "Parameters.parameter[0].resource"},
		{"BillNotParameters", "POST", "/Encounter/e3/$bill", `{"resourceType":"Patient"}`, 400, ""},
		{"IssueCancelled", "POST", inv + "/$issue", "", 409, ""},
		{"CancelTwice", "POST", inv + "/$cancel", "", 409, ""},
		{"ApplyNoChargeItem", "POST", "/ChargeItemDefinition/price-99213/$apply", `{"resourceType":"Parameters"}`, 400, "Parameters.parameter.where(name = 'chargeItem')"},
		{"ApplyMissingChargeItem", "POST", "/ChargeItemDefinition/price-99213/$apply", `{"resourceType":"Parameters","parameter":[{"name":"chargeItem","valueReference":{"reference":"ChargeItem/nope"}}]}`, 400, "Parameters.parameter.where(name = 'chargeItem')"},
		{"ApplyWrongCode", "POST", "/ChargeItemDefinition/price-93000/$apply", `{"resourceType":"Parameters","parameter":[{"name":"chargeItem","valueReference":{"reference":"` + visitItem + `"}}]}`, 422, "ChargeItem.code"},
		{"TranslateNoCode", "GET", "/ConceptMap/$translate?system=http://snomed.info/sct", "", 400, "code"},
		{"TranslateUnsupported", "GET", "/ConceptMap/$translate?url=x&system=a&code=b", "", 400, "url"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			var body []byte
			if c.body != "" {
				body, hdr = []byte(c.body), []string{"Content-Type", "application/fhir+json"}
			}
			res := srv.Do(c.method, c.path, body, hdr...)
			if res.Status != c.status {
				t.Fatalf("status %d, want %d: %s", res.Status, c.status, res.Body)
			}
			if !bytes.Contains(res.Body, []byte(`"resourceType":"OperationOutcome"`)) {
				t.Errorf("no OperationOutcome: %s", res.Body)
			}
			if c.expression != "" && !bytes.Contains(res.Body, []byte(`"expression":["`+c.expression+`"]`)) {
				t.Errorf("the OperationOutcome does not name %s: %s", c.expression, res.Body)
			}
		})
	}
}

// BenchmarkBill measures $bill end to end over HTTP on the embedded store
// (or MONGODB_URI): the office visit of TestBill_OfficeVisitEndToEnd,
// two lines.
//
// Unchanged bills an Encounter already billed: every read, search and
// computation, and nothing stored. New bills a fresh Encounter of the
// same patient each time (its resources are stored outside the timer), so
// it stores two ChargeItems, an Invoice and the accumulator Account.
func BenchmarkBill(b *testing.B) {
	b.Run("Unchanged", func(b *testing.B) {
		srv := billedVisit(b)
		b.ReportAllocs()
		for b.Loop() {
			bill(b, srv, "e1")
		}
	})
	b.Run("New", func(b *testing.B) {
		benchFreshVisits(b, nil, func(srv *resttest.Server, id string) { bill(b, srv, id) })
	})
}

// TestBill_READMEWalkthrough runs the README's billing walkthrough on a
// server that bills on push, as `fhirbill serve` does: posting the
// transaction Bundle testdata/billing/office-visit.json (the visit of
// TestBill_OfficeVisitEndToEnd) bills e1, so $bill again answers the same
// Invoice, version 1, with the same totals; $translate answers the
// clinic's ConceptMap in the Bundle: SNOMED CT 185349003 to CPT 99213.
func TestBill_READMEWalkthrough(t *testing.T) {
	srv := pushingBillingServer(t)
	body, err := os.ReadFile("../../testdata/billing/office-visit.json")
	if err != nil {
		t.Fatal(err)
	}
	if res := srv.Do("POST", "", body, "Content-Type", "application/fhir+json"); res.Status != 200 {
		t.Fatalf("transaction: %d %s", res.Status, res.Body)
	}
	pushed := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).JSON()
	inv := bill(t, srv, "e1").Invoice
	if v, pv := field(inv, "meta", "versionId"), field(pushed, "meta", "versionId"); v != "1" || pv != "1" {
		t.Errorf("Invoice version %v after the post, %v after $bill; want 1 and 1", pv, v)
	}
	if g, n := field(inv, "totalGross", "value"), field(inv, "totalNet", "value"); g != json.Number("210.00") || n != json.Number("102.73") {
		t.Errorf("totalGross %v totalNet %v, want 210.00 and 102.73", g, n)
	}
	mustDo(t, srv, 200, "POST", "/Invoice/e1-patient/$issue", nil)
	translated(t, srv)
}

// translated runs the README's $translate step: the clinic's ConceptMap
// maps SNOMED CT 185349003 (Encounter for check up) to CPT 99213.
func translated(t *testing.T, srv *resttest.Server) {
	t.Helper()
	res := mustDo(t, srv, 200, "GET", "/ConceptMap/$translate?system=http://snomed.info/sct&code=185349003"+
		"&targetsystem=http://www.ama-assn.org/go/cpt", nil)
	for _, want := range []string{`"valueBoolean":true`, `"code":"99213"`, `"valueCode":"inexact"`} {
		if !bytes.Contains(res.Body, []byte(want)) {
			t.Errorf("$translate: %s, want %s", res.Body, want)
		}
	}
}
