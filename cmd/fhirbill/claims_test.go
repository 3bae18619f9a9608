package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// examplesDir holds the official FHIR R4 examples (../shared/testdata, see
// its README).
const examplesDir = "../../../shared/testdata/fhir-r4-examples"

// claimed is a $claim answer: the Claim and the outcome.
type claimed struct {
	Claim   map[string]any
	Outcome map[string]any
}

func claimOf(t testing.TB, srv *resttest.Server, encounter string, body []byte) claimed {
	t.Helper()
	res := srv.Do("POST", "/Encounter/"+encounter+"/$claim", body)
	if res.Status != 200 {
		t.Fatalf("$claim %s: %d %s", encounter, res.Status, res.Body)
	}
	var out struct {
		Parameter []struct {
			Name     string
			Resource map[string]any
		}
	}
	decode(t, res.Body, &out)
	var c claimed
	for _, p := range out.Parameter {
		switch p.Name {
		case "claim":
			c.Claim = p.Resource
		case "outcome":
			c.Outcome = p.Resource
		}
	}
	if c.Claim == nil || c.Outcome == nil {
		t.Fatalf("$claim %s: no claim or outcome in %s", encounter, res.Body)
	}
	return c
}

// billedVisit starts the billing server with the office visit of
// TestBill_OfficeVisitEndToEnd stored and billed.
func billedVisit(t testing.TB) *resttest.Server {
	t.Helper()
	srv := billingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	for _, r := range officeVisit("e1", "2025-03-10", true) {
		put(t, srv, r)
	}
	bill(t, srv, "e1")
	return srv
}

// submittedVisit is billedVisit with the visit's Claim built and
// submitted (its answer queued), and the payer's answer to it,
// testdata/billing/remittance.json, ready for $remit.
func submittedVisit(t testing.TB) (*resttest.Server, []byte) {
	t.Helper()
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	mustDo(t, srv, 200, "POST", "/Claim/$submit", mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body)
	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}
	return srv, answer
}

// codes lists the code of each CodeableConcept's first coding.
func codes(ccs any) []string {
	var out []string
	for _, cc := range asList(ccs) {
		out = append(out, cc.(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string))
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// numbers prints a list of JSON numbers.
func numbers(v any) []string {
	var out []string
	for _, n := range asList(v) {
		out = append(out, fmt.Sprint(n))
	}
	return out
}

// TestClaim_OfficeVisitEndToEnd is must-show 1 of the claims issue: the
// encounter of TestBill_OfficeVisitEndToEnd (99213 and an ECG, 93000,
// diagnoses R07.9 ranked 1 and I10 ranked 2) billed, then $claim.
//
// Where each value comes from:
//   - items, in the Invoice's line order: 99213 then 93000, each
//     quantity 1 and as net its gross charge from the clinic's price list
//     (billingFixtures: price-99213 150.00, price-93000 60.00), dated on
//     the visit, 2025-03-10;
//   - place of service 11 (office): the Encounter has class AMB and no
//     Location (billing/pos.go);
//   - diagnoses: R07.9 then I10, Encounter.diagnosis rank 1 and 2, the
//     order billing gave the ChargeItems' reasons; each line points at
//     both, [1 2], as each ChargeItem lists both;
//   - total 210.00 = 150.00 + 60.00, the Invoice's totalGross;
//   - care team: the Encounter's participant Practitioner/dr1, NPI
//     1497758544 (valid: the Luhn sum of 80840149775854 is 66, check 4),
//     billing provider Organization/clinic, NPI 1245319599 (the Luhn sum
//     of 80840124531959 is 61, check 9): every edit passes, so active.
func TestClaim_OfficeVisitEndToEnd(t *testing.T) {
	srv := billedVisit(t)

	got := claimOf(t, srv, "e1", nil)
	c := got.Claim
	if c["id"] != "e1-claim-cov1" || c["status"] != "active" || c["use"] != "claim" {
		t.Errorf("id %v status %v use %v, want e1-claim-cov1 active claim", c["id"], c["status"], c["use"])
	}
	if o, _ := json.Marshal(got.Outcome); !bytes.Contains(o, []byte("All OK")) {
		t.Errorf("outcome of a clean claim: %s", o)
	}
	if ty := codes([]any{c["type"]}); !slices.Equal(ty, []string{"professional"}) {
		t.Errorf("type %v, want professional", ty)
	}
	for path, want := range map[string]string{
		"patient": "Patient/p1", "provider": "Organization/clinic", "insurer": "Organization/medicare",
	} {
		if got := field(c, path, "reference"); got != want {
			t.Errorf("Claim.%s = %v, want %s", path, got, want)
		}
	}
	if s, e := field(c, "billablePeriod", "start"), field(c, "billablePeriod", "end"); s != "2025-03-10" || e != "2025-03-10" {
		t.Errorf("billablePeriod %v to %v, want 2025-03-10", s, e)
	}
	ins := asList(c["insurance"])
	if len(ins) != 1 || field(ins[0].(map[string]any), "coverage", "reference") != "Coverage/cov1" ||
		ins[0].(map[string]any)["focal"] != true {
		t.Errorf("insurance %v, want Coverage/cov1 focal", ins)
	}
	team := asList(c["careTeam"])
	if len(team) != 1 || field(team[0].(map[string]any), "provider", "reference") != "Practitioner/dr1" {
		t.Errorf("careTeam %v, want Practitioner/dr1", team)
	}
	var dx []string
	for _, d := range asList(c["diagnosis"]) {
		dx = append(dx, fmt.Sprint(d.(map[string]any)["sequence"])+":"+
			codes([]any{d.(map[string]any)["diagnosisCodeableConcept"]})[0])
	}
	if !slices.Equal(dx, []string{"1:R07.9", "2:I10"}) {
		t.Errorf("diagnoses %v, want [1:R07.9 2:I10]", dx)
	}

	want := []string{
		"1 99213 qty 1 unit 150.00 net 150.00 on 2025-03-10 pos 11 dx [1 2] team [1]",
		"2 93000 qty 1 unit 60.00 net 60.00 on 2025-03-10 pos 11 dx [1 2] team [1]",
	}
	var items []string
	for _, it := range asList(c["item"]) {
		m := it.(map[string]any)
		items = append(items, fmt.Sprintf("%v %s qty %v unit %v net %v on %v pos %s dx %v team %v",
			m["sequence"], codes([]any{m["productOrService"]})[0], field(m, "quantity", "value"),
			field(m, "unitPrice", "value"), field(m, "net", "value"), m["servicedDate"],
			codes([]any{m["locationCodeableConcept"]})[0], numbers(m["diagnosisSequence"]), numbers(m["careTeamSequence"])))
		if sys := field(m, "locationCodeableConcept", "coding").([]any)[0].(map[string]any)["system"]; sys !=
			"https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set" {
			t.Errorf("place of service system %v", sys)
		}
		if field(m, "encounter").([]any)[0].(map[string]any)["reference"] != "Encounter/e1" {
			t.Errorf("item %v does not name Encounter/e1", m["sequence"])
		}
	}
	if !slices.Equal(items, want) {
		t.Errorf("items\n got %q\nwant %q", items, want)
	}
	if tot := field(c, "total", "value"); tot != json.Number("210.00") {
		t.Errorf("total %v, want 210.00", tot)
	}
	var ids []string
	for _, id := range asList(c["identifier"]) {
		ids = append(ids, fmt.Sprint(id.(map[string]any)["system"], "|", id.(map[string]any)["value"]))
	}
	for _, w := range []string{
		"https://fhirbill.dev/fhir/sid/claim|e1-claim-cov1",
		"https://fhirbill.dev/fhir/sid/encounter|e1",
		"https://fhirbill.dev/fhir/sid/invoice|e1-patient",
	} {
		if !slices.Contains(ids, w) {
			t.Errorf("identifiers %v lack %s", ids, w)
		}
	}

	// Building again with the same inputs stores nothing.
	again := claimOf(t, srv, "e1", nil)
	a, _ := json.Marshal(c)
	b, _ := json.Marshal(again.Claim)
	if !bytes.Equal(a, b) {
		t.Errorf("building again changed the Claim:\n%s\n%s", a, b)
	}
	if res := srv.Do("GET", "/Claim/e1-claim-cov1/_history", nil); !bytes.Contains(res.Body, []byte(`"total":1`)) {
		t.Errorf("Claim history after building twice: %s", res.Body)
	}
}

// TestClaim_DraftUntilClean builds the claim of a visit whose rendering
// provider's NPI fails its check digit: the Claim is stored as draft with
// the edit, and $submit refuses it; once the NPI is fixed, building again
// makes it active, and submitted it is accepted and no longer rebuilt.
func TestClaim_DraftUntilClean(t *testing.T) {
	srv := billingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	put(t, srv, `{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Okafor"}],
	  "identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1497758545"}]}`)
	for _, r := range officeVisit("e1", "2025-03-10", false) {
		put(t, srv, r)
	}
	bill(t, srv, "e1")

	got := claimOf(t, srv, "e1", nil)
	o, _ := json.Marshal(got.Outcome)
	if got.Claim["status"] != "draft" || !bytes.Contains(o, []byte(`"expression":["Claim.careTeam[0].provider"]`)) {
		t.Errorf("status %v outcome %s, want draft and the NPI edit on Claim.careTeam[0].provider", got.Claim["status"], o)
	}
	// Submitted as it is, it is refused with the edit.
	res := srv.Do("POST", "/Claim/$submit", srv.Do("GET", "/Claim/e1-claim-cov1", nil).Body)
	if cr := res.JSON(); res.Status != 200 || cr["outcome"] != "error" || !bytes.Contains(res.Body, []byte(`"code":"npi-invalid"`)) {
		t.Errorf("$submit of the draft: %d %s, want outcome error with npi-invalid", res.Status, res.Body)
	}

	// Fixed, built again and submitted: accepted, and left as submitted.
	put(t, srv, billingFixtures[3])
	if got := claimOf(t, srv, "e1", nil); got.Claim["status"] != "active" {
		t.Errorf("status after the NPI was fixed: %v, want active", got.Claim["status"])
	}
	res = srv.Do("POST", "/Claim/$submit", srv.Do("GET", "/Claim/e1-claim-cov1", nil).Body)
	if cr := res.JSON(); cr["outcome"] != "queued" || field(cr, "meta", "versionId") != "2" {
		t.Errorf("$submit of the fixed Claim: %s, want outcome queued, version 2", res.Body)
	}
	put(t, srv, strings.Replace(billingFixtures[3], `"Okafor"`, `"Okafor-Reyes"`, 1))
	if o, _ := json.Marshal(claimOf(t, srv, "e1", nil).Outcome); !bytes.Contains(o, []byte("left as submitted")) {
		t.Errorf("building a submitted Claim again: %s, want a note that it is left as submitted", o)
	}

	// The CapabilityStatement names each claim operation's definition,
	// and this server serves fhirbill's own.
	meta := srv.Do("GET", "/metadata", nil)
	for _, def := range []string{
		"https://fhirbill.dev/fhir/OperationDefinition/Encounter-claim",
		"https://fhirbill.dev/fhir/OperationDefinition/Claim-remit",
		"http://hl7.org/fhir/OperationDefinition/Claim-submit",
		"https://fhirbill.dev/fhir/SearchParameter/Claim-coverage",
	} {
		if !bytes.Contains(meta.Body, []byte(`"definition":"`+def+`"`)) {
			t.Errorf("the CapabilityStatement does not list %s", def)
		}
	}
	for _, path := range []string{"/OperationDefinition/Encounter-claim", "/OperationDefinition/Claim-remit", "/CodeSystem/claim-edit"} {
		if res := srv.Do("GET", path, nil); res.Status != 200 {
			t.Errorf("GET %s: %d", path, res.Status)
		}
	}

	for _, c := range []struct {
		name, path, body string
		status           int
		expression       string
	}{
		{"NotBilled", "/Encounter/nope/$claim", "", 404, "Encounter"},
		{"UnknownCoverage", "/Encounter/e1/$claim", `{"resourceType":"Parameters","parameter":[{"name":"coverage","valueReference":{"reference":"Coverage/other"}}]}`, 422, "Parameters.parameter.where(name = 'coverage')"},
		{"CoverageNotAReference", "/Encounter/e1/$claim", `{"resourceType":"Parameters","parameter":[{"name":"coverage","valueReference":{"reference":"Patient/p1"}}]}`, 400, "Parameters.parameter.where(name = 'coverage')"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			res := srv.Do("POST", c.path, body)
			if res.Status != c.status || !bytes.Contains(res.Body, []byte(`"expression":["`+c.expression+`"]`)) {
				t.Errorf("%d %s, want %d naming %s", res.Status, res.Body, c.status, c.expression)
			}
		})
	}
	// An Encounter not billed yet has no claim.
	for _, r := range officeVisit("e2", "2025-03-11", false) {
		put(t, srv, r)
	}
	if res := srv.Do("POST", "/Encounter/e2/$claim", nil); res.Status != 422 {
		t.Errorf("$claim of an unbilled Encounter: %d %s, want 422", res.Status, res.Body)
	}
}

// TestSubmit_TwiceOneClaim is must-show 3 of the claims issue: the Claim
// $claim built, submitted twice (once as the body, once in Parameters),
// is stored once and answered with the same ClaimResponse, outcome
// queued; a Claim a client wrote, submitted twice in a Bundle, is stored
// once under the id derived from its identifier; a faulty one is
// answered with outcome error and its edits.
func TestSubmit_TwiceOneClaim(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	stored := srv.Do("GET", "/Claim/e1-claim-cov1", nil).Body

	first := srv.Do("POST", "/Claim/$submit", stored)
	second := srv.Do("POST", "/Claim/$submit",
		[]byte(`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":`+string(stored)+`}]}`))
	if first.Status != 200 || second.Status != 200 {
		t.Fatalf("$submit: %d %s / %d %s", first.Status, first.Body, second.Status, second.Body)
	}
	if !bytes.Equal(first.Body, second.Body) {
		t.Errorf("the second $submit answered another ClaimResponse:\n%s\n%s", first.Body, second.Body)
	}
	cr := first.JSON()
	if cr["resourceType"] != "ClaimResponse" || cr["outcome"] != "queued" || cr["id"] != "e1-claim-cov1-response" ||
		field(cr, "request", "reference") != "Claim/e1-claim-cov1" || field(cr, "meta", "versionId") != "1" {
		t.Errorf("ClaimResponse: %s", first.Body)
	}
	res := srv.Do("GET", "/Claim?identifier=https://fhirbill.dev/fhir/sid/claim|e1-claim-cov1&_total=accurate", nil)
	if !bytes.Contains(res.Body, []byte(`"total":1`)) {
		t.Errorf("Claims with the identifier: %s", res.Body)
	}
	if res := srv.Do("GET", "/Claim/e1-claim-cov1/_history", nil); !bytes.Contains(res.Body, []byte(`"total":1`)) {
		t.Errorf("the submitted Claim has more than one version: %s", res.Body)
	}
	if res := srv.Do("GET", "/ClaimResponse?request=Claim/e1-claim-cov1&_total=accurate", nil); !bytes.Contains(res.Body, []byte(`"total":1`)) {
		t.Errorf("ClaimResponses of the Claim: %s", res.Body)
	}

	// A Claim written by a client, in a Bundle with its patient.
	own := strings.ReplaceAll(string(stored), `"https://fhirbill.dev/fhir/sid/claim","value":"e1-claim-cov1"`,
		`"urn:oid:2.16.840.1.113883.3.999","value":"PCN-77"`)
	own = strings.ReplaceAll(own, `"id":"e1-claim-cov1"`, `"id":"x"`)
	bundle := []byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"p1"}},{"resource":` + own + `}]}`)
	a, b := srv.Do("POST", "/Claim/$submit", bundle), srv.Do("POST", "/Claim/$submit", bundle)
	if a.Status != 200 || !bytes.Equal(a.Body, b.Body) || a.JSON()["outcome"] != "queued" {
		t.Errorf("a client's Claim submitted twice: %d %s / %s", a.Status, a.Body, b.Body)
	}
	res = srv.Do("GET", "/Claim?identifier=urn:oid:2.16.840.1.113883.3.999|PCN-77&_total=accurate", nil)
	if !bytes.Contains(res.Body, []byte(`"total":1`)) {
		t.Errorf("the client's Claim is not stored once: %s", res.Body)
	}

	// A faulty Claim: a code that is neither CPT nor HCPCS in form.
	bad := strings.NewReplacer(`"PCN-77"`, `"PCN-78"`, `"code":"93000"`, `"code":"9300"`).Replace(own)
	res = srv.Do("POST", "/Claim/$submit", []byte(bad))
	got := res.JSON()
	if res.Status != 200 || got["outcome"] != "error" || !bytes.Contains(res.Body, []byte(`"code":"procedure-code"`)) ||
		!bytes.Contains(res.Body, []byte("Claim.item[1].productOrService")) || fmt.Sprint(got["error"].([]any)[0].(map[string]any)["itemSequence"]) != "2" {
		t.Errorf("faulty Claim: %d %s", res.Status, res.Body)
	}
	id := field(got, "request", "reference").(string)
	if c := srv.Do("GET", "/"+id, nil).JSON(); c["status"] != "draft" {
		t.Errorf("a Claim failing an edit is stored as %v, want draft", c["status"])
	}

	for _, c := range []struct {
		name, body string
		status     int
		expression string
	}{
		{"NoIdentifier", strings.Replace(own, `"identifier":[`, `"x":[`, 1), 400, ""},
		{"NotAClaim", `{"resourceType":"Patient"}`, 400, "resourceType"},
		{"OtherParameter", `{"resourceType":"Parameters","parameter":[{"name":"claim","resource":{"resourceType":"Patient"}}]}`, 400, "Parameters.parameter[0]"},
		{"EmptyBundle", `{"resourceType":"Bundle","type":"collection"}`, 400, "Bundle.entry"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := srv.Do("POST", "/Claim/$submit", []byte(c.body))
			if res.Status != c.status || c.expression != "" && !bytes.Contains(res.Body, []byte(`"expression":["`+c.expression+`"]`)) {
				t.Errorf("%d %s, want %d naming %q", res.Status, res.Body, c.status, c.expression)
			}
		})
	}
}

// TestSubmit_Examples submits every official R4 Claim example and posts
// every ClaimResponse example to $remit on the Claim it names: each is
// answered (a ClaimResponse, or a 4xx OperationOutcome naming what
// cannot be taken), never a 5xx. The examples are oral, vision,
// pharmacy and institutional claims with HL7 example codes, so the
// professional edits refuse the ones $submit takes.
func TestSubmit_Examples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(examplesDir, "Claim*.json"))
	if len(files) == 0 {
		t.Skipf("no FHIR R4 examples at %s: ../shared/testdata is absent", examplesDir)
	}
	srv := billingServer(t)
	outcomes := map[string]int{}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			ResourceType, ID string
			Request          struct{ Reference string }
		}
		_ = json.Unmarshal(body, &head)
		path := "/Claim/$submit"
		if head.ResourceType == "Claim" {
			// Stored under its own id too, for the ClaimResponses to name.
			if res := srv.Do("PUT", "/Claim/"+head.ID, body); res.Status != 201 {
				t.Fatalf("PUT Claim/%s: %d %s", head.ID, res.Status, res.Body)
			}
		}
		if head.ResourceType == "ClaimResponse" {
			path = "/" + head.Request.Reference + "/$remit"
			if !strings.HasPrefix(head.Request.Reference, "Claim/") {
				path = "/Claim/100150/$remit"
			}
		}
		res := srv.Do("POST", path, body)
		switch {
		case res.Status >= 500:
			t.Errorf("%s: %d %s", filepath.Base(f), res.Status, res.Body)
		case res.Status == 200 && head.ResourceType == "Claim":
			outcomes[fmt.Sprint(res.JSON()["outcome"])]++
		case res.Status != 200 && !bytes.Contains(res.Body, []byte(`"OperationOutcome"`)):
			t.Errorf("%s: %d without an OperationOutcome: %s", filepath.Base(f), res.Status, res.Body)
		default:
			outcomes[fmt.Sprint(res.Status)]++
		}
	}
	t.Logf("answers by outcome or status: %v", outcomes)
}
