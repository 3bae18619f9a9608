package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// planFixtures are a clinic in Medicare locality 01182-18, a payer known
// by identifier, its plan (the cost sharing) and a contract at 110 % of
// the 2025 fee schedule, and a Coverage as EHR registration data holds
// it: a payer by identifier and a period, no cost sharing of its own.
var planFixtures = []string{
	`{"resourceType":"Organization","id":"clinic","name":"Sunset Family Medicine",
	  "extension":[{"url":"https://fhirbill.dev/fhir/StructureDefinition/pfs-locality","valueString":"01182-18"}]}`,
	`{"resourceType":"Organization","id":"acme","name":"Acme Health Plan",
	  "identifier":[{"system":"urn:example:payer-id","value":"ACME1"}]}`,
	`{"resourceType":"InsurancePlan","id":"acme-ppo","status":"active",
	  "identifier":[{"system":"urn:example:plan","value":"ppo"}],
	  "ownedBy":{"reference":"Organization/acme"},
	  "plan":[{"generalCost":[
	      {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-copay-type","code":"deductible"}]},
	       "cost":{"value":50.00,"currency":"USD"}}],
	    "specificCost":[{"category":{"text":"medical care"},"benefit":[{"type":{"text":"office visits"},"cost":[
	      {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-copay-type","code":"gpvisit"}]},
	       "value":{"value":10.00,"system":"urn:iso:std:iso:4217","code":"USD"}},
	      {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-copay-type","code":"copaypct"}]},
	       "value":{"value":20,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}]}]}]}]}`,
	`{"resourceType":"ChargeItemDefinition","id":"contract-acme","url":"https://clinic.example/contract/acme","status":"active",
	  "extension":[{"url":"https://fhirbill.dev/fhir/StructureDefinition/allowed-rule","valueCode":"medicare-pfs"},
	               {"url":"https://fhirbill.dev/fhir/StructureDefinition/pfs-year","valueInteger":2025}],
	  "useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"program"},
	                 "valueReference":{"reference":"Organization/acme"}}],
	  "propertyGroup":[{"priceComponent":[{"type":"base","factor":1.10}]}]}`,
	`{"resourceType":"ChargeItemDefinition","id":"price-99213","url":"https://clinic.example/price/99213","status":"active",
	  "code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]},
	  "propertyGroup":[{"priceComponent":[{"type":"base","amount":{"value":200.00,"currency":"USD"}}]}]}`,
	`{"resourceType":"Patient","id":"p1","birthDate":"1970-01-01"}`,
	`{"resourceType":"Coverage","id":"cov-acme","status":"active",
	  "beneficiary":{"reference":"Patient/p1"},"period":{"start":"2019-01-01"},
	  "payor":[{"type":"Organization","identifier":{"system":"urn:example:payer-id","value":"ACME1"},"display":"Acme"}]}`,
	`{"resourceType":"Encounter","id":"e2019","status":"finished",
	  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
	  "type":[{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]}],
	  "subject":{"reference":"Patient/p1"},"serviceProvider":{"reference":"Organization/clinic"},
	  "period":{"start":"2019-05-01T09:00:00Z","end":"2019-05-01T09:20:00Z"}}`,
}

// TestBill_PlanOfPayerByIdentifier bills a 2019 office visit (99213) for a
// Coverage that names its payer by identifier and states no cost sharing:
// the payer's InsurancePlan gives it, and the contract prices on the 2025
// fee schedule it names (pfs-year), since no 2019 schedule was imported.
//
// By hand, from the CMS 2025 files (PPRRVU25_JAN1.csv 99213: work 1.3,
// non-facility PE 1.35, MP 0.10; GPCI2025.csv 01182-18: 1.042, 1.194,
// 0.69; CF 32.3465):
//
//	fee     (1.3 × 1.042 + 1.35 × 1.194 + 0.10 × 0.69) × 32.3465 = 98.1878… → 98.19
//	allowed 98.19 × 1.10 = 108.009 → 108.01; discount 200.00 - 108.01 = 91.99
//	plan    deductible 50.00 (nothing met yet), then the gpvisit copay 10.00,
//	        then 20 % of 108.01 - 50.00 - 10.00 = 48.01 → 9.602 → 9.60
//	patient 50.00 + 10.00 + 9.60 = 69.60; insurer 108.01 - 69.60 = 38.41
func TestBill_PlanOfPayerByIdentifier(t *testing.T) {
	srv := billingServer(t)
	for _, r := range planFixtures {
		put(t, srv, r)
	}

	got := bill(t, srv, "e2019")
	want := []string{
		"base/submitted=200.00", "discount=91.99", "deduction/benefit=38.41",
		"informational/eligible=108.01", "informational/deductible=50.00",
		"informational/copay=10.00", "informational/coinsurance=9.60",
	}
	lines, _ := got.Invoice["lineItem"].([]any)
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1: %v", len(lines), got.ChargeItems)
	}
	if c := components(lines[0].(map[string]any)["priceComponent"]); !slices.Equal(c, want) {
		t.Errorf("line components\n got %v\nwant %v", c, want)
	}
	if n := field(got.Invoice, "totalNet", "value"); n != json.Number("69.60") {
		t.Errorf("totalNet %v, want 69.60", n)
	}
	if a := field(got.Invoice, "account", "reference"); a != "Account/accum-cov-acme-20190101" {
		t.Errorf("account %v, want the 2019 plan year's accumulator of Coverage/cov-acme", a)
	}
	trail := trailOf(got.ChargeItems[0])
	for _, part := range []string{"payer Organization/acme", "PFS 2025 99213", "the 2025 schedule, as contract " +
		"ChargeItemDefinition/contract-acme names (pfs-year), for a service in 2019", "× 1.1"} {
		if !strings.Contains(trail, part) {
			t.Errorf("pricing trail lacks %q:\n%s", part, trail)
		}
	}

	// Without pfs-year the 2019 visit needs the 2019 schedule, which was
	// not imported: the line is kept, not billable, with the reason.
	put(t, srv, strings.Replace(planFixtures[3],
		`,
	               {"url":"https://fhirbill.dev/fhir/StructureDefinition/pfs-year","valueInteger":2025}`, "", 1))
	again := bill(t, srv, "e2019")
	if lines, _ := again.Invoice["lineItem"].([]any); len(lines) != 0 {
		t.Errorf("%d lines without a 2019 schedule, want 0", len(lines))
	}
	note := field(again.ChargeItems[0], "note")
	if s, _ := json.Marshal(note); !strings.Contains(string(s), "no Medicare fee schedule for 2019 was imported") {
		t.Errorf("not-billable note %s, want the missing 2019 schedule named", s)
	}
}

// TestBill_PayerIdentifierUnknown: a Coverage whose payor identifier no
// Organization carries cannot be billed, and the 422 names the element.
func TestBill_PayerIdentifierUnknown(t *testing.T) {
	srv := billingServer(t)
	for _, r := range planFixtures {
		put(t, srv, strings.Replace(r, `"value":"ACME1"},"display"`, `"value":"NOBODY"},"display"`, 1))
	}
	res := srv.Do("POST", "/Encounter/e2019/$bill", nil)
	if res.Status != 422 {
		t.Fatalf("$bill: %d %s, want 422", res.Status, res.Body)
	}
	if !strings.Contains(string(res.Body), `"Coverage.payor[0].identifier"`) {
		t.Errorf("the outcome does not name Coverage.payor[0].identifier: %s", res.Body)
	}
	if res := srv.Do("GET", "/Invoice?_summary=count", nil); !strings.Contains(string(res.Body), `"total":0`) {
		t.Errorf("a refused $bill stored an Invoice: %s", res.Body)
	}
}

// trailOf returns a ChargeItem's pricing trail.
func trailOf(ci map[string]any) string {
	exts, _ := ci["extension"].([]any)
	for _, e := range exts {
		m := e.(map[string]any)
		if m["url"] == "https://fhirbill.dev/fhir/StructureDefinition/pricing-trail" {
			s, _ := m["valueString"].(string)
			return s
		}
	}
	return ""
}
