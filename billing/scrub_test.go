package billing_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/resource"

	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
)

// cleanClaim is a professional claim that passes every edit: two lines
// (99213 and 93000 with modifier 26) on 2025-03-10 pointing at R07.9 and
// I10, rendered by Practitioner/dr1, billed by Organization/clinic, to
// the insurer of Coverage/cov1.
const cleanClaim = `{"resourceType":"Claim","id":"c1","status":"active",
 "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},
 "use":"claim","patient":{"reference":"Patient/p1"},"created":"2025-03-11",
 "billablePeriod":{"start":"2025-03-10","end":"2025-03-10"},
 "insurer":{"reference":"Organization/medicare"},"provider":{"reference":"Organization/clinic"},
 "priority":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/processpriority","code":"normal"}]},
 "careTeam":[{"sequence":1,"provider":{"reference":"Practitioner/dr1"}}],
 "diagnosis":[
  {"sequence":1,"diagnosisCodeableConcept":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"R07.9"}]}},
  {"sequence":2,"diagnosisCodeableConcept":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"I10"}]}}],
 "insurance":[{"sequence":1,"focal":true,"coverage":{"reference":"Coverage/cov1"}}],
 "item":[
  {"sequence":1,"careTeamSequence":[1],"diagnosisSequence":[1,2],
   "productOrService":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]},
   "servicedDate":"2025-03-10",
   "locationCodeableConcept":{"coding":[{"system":"https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set","code":"11"}]},
   "quantity":{"value":1},"unitPrice":{"value":150.00,"currency":"USD"},"net":{"value":150.00,"currency":"USD"}},
  {"sequence":2,"careTeamSequence":[1],"diagnosisSequence":[1],
   "productOrService":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"93000"}]},
   "modifier":[{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"26"}]}],
   "servicedDate":"2025-03-10",
   "locationCodeableConcept":{"coding":[{"system":"https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set","code":"11"}]},
   "quantity":{"value":1},"unitPrice":{"value":60.00,"currency":"USD"},"net":{"value":60.00,"currency":"USD"}}],
 "total":{"value":210.00,"currency":"USD"}}`

// claimRefs are the resources cleanClaim references: its patient, the
// billing and rendering providers and the Coverage. The NPIs are valid:
// 1245319599 (Luhn sum of 80840124531959 is 61, check digit 9) and
// 1497758544 (sum 66, check digit 4).
func claimRefs(t testing.TB, replace ...string) billing.ClaimRefs {
	t.Helper()
	refs := billing.ClaimRefs{}
	for _, s := range []string{
		`{"resourceType":"Patient","id":"p1"}`,
		`{"resourceType":"Organization","id":"clinic","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1245319599"}]}`,
		`{"resourceType":"Practitioner","id":"dr1","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1497758544"}]}`,
		`{"resourceType":"Coverage","id":"cov1","status":"active","beneficiary":{"reference":"Patient/p1"},
		  "payor":[{"reference":"Organization/medicare"}],"period":{"start":"2025-01-01","end":"2025-12-31"}}`,
	} {
		r, err := resource.Parse([]byte(strings.NewReplacer(replace...).Replace(s)))
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
		refs[r.Type()+"/"+r.ID()] = r
	}
	return refs
}

// TestScrub is must-show 2 of the claims issue: the clean claim passes;
// each of the 33 faulty ones, cleanClaim or its references with one
// change, fails the edit named on the element named, and no other.
func TestScrub(t *testing.T) {
	twelve := ""
	for i := 3; i <= 13; i++ {
		twelve += `,{"sequence":` + strconv.Itoa(i) + `,"diagnosisCodeableConcept":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"Z00.0` + strconv.Itoa(i%10) + `"}]}}`
	}
	for _, c := range []struct {
		name     string
		replace  []string // on cleanClaim, old then new
		refs     []string // on the referenced resources
		wantCode string
		wantExpr string
	}{
		{name: "Clean"},
		{name: "DiagnosisFormatNoDot", replace: []string{`"R07.9"`, `"R079"`},
			wantCode: billing.EditDiagnosisFormat, wantExpr: "Claim.diagnosis[0].diagnosisCodeableConcept"},
		{name: "DiagnosisFormatLowerCase", replace: []string{`"I10"`, `"i10"`},
			wantCode: billing.EditDiagnosisFormat, wantExpr: "Claim.diagnosis[1].diagnosisCodeableConcept"},
		{name: "DiagnosisNotICD10CM", replace: []string{`"http://hl7.org/fhir/sid/icd-10-cm","code":"I10"`, `"http://snomed.info/sct","code":"38341003"`},
			wantCode: billing.EditDiagnosisCode, wantExpr: "Claim.diagnosis[1].diagnosisCodeableConcept"},
		{name: "ThirteenDiagnoses", replace: []string{`"code":"I10"}]}}]`, `"code":"I10"}]}}` + twelve + `]`},
			wantCode: billing.EditDiagnosisCount, wantExpr: "Claim.diagnosis[12]"},
		{name: "CPTFourDigits", replace: []string{`"99213"`, `"9921"`},
			wantCode: billing.EditProcedureCode, wantExpr: "Claim.item[0].productOrService"},
		{name: "CPTCategoryIIWrongLetter", replace: []string{`"99213"`, `"3074X"`},
			wantCode: billing.EditProcedureCode, wantExpr: "Claim.item[0].productOrService"},
		{name: "HCPCSLevelIIMalformed", replace: []string{`"http://www.ama-assn.org/go/cpt","code":"93000"`, `"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets","code":"G43"`},
			wantCode: billing.EditProcedureCode, wantExpr: "Claim.item[1].productOrService"},
		{name: "NoProcedureCode", replace: []string{`"http://www.ama-assn.org/go/cpt","code":"99213"`, `"http://snomed.info/sct","code":"185349003"`},
			wantCode: billing.EditProcedureCode, wantExpr: "Claim.item[0].productOrService"},
		{name: "NoPointer", replace: []string{`"diagnosisSequence":[1],`, ``},
			wantCode: billing.EditPointerMissing, wantExpr: "Claim.item[1].diagnosisSequence"},
		{name: "PointerUnresolved", replace: []string{`"diagnosisSequence":[1],`, `"diagnosisSequence":[3],`},
			wantCode: billing.EditPointerUnknown, wantExpr: "Claim.item[1].diagnosisSequence[0]"},
		{name: "FivePointers", replace: []string{`"diagnosisSequence":[1,2]`, `"diagnosisSequence":[1,2,1,2,1]`},
			wantCode: billing.EditPointerCount, wantExpr: "Claim.item[0].diagnosisSequence[4]"},
		{name: "QuantityZero", replace: []string{`"quantity":{"value":1},"unitPrice":{"value":150.00,"currency":"USD"},"net":{"value":150.00`, `"quantity":{"value":0},"unitPrice":{"value":150.00,"currency":"USD"},"net":{"value":150.00`},
			wantCode: billing.EditQuantity, wantExpr: "Claim.item[0].quantity"},
		{name: "DateOutsideBillablePeriod", replace: []string{`"servicedDate":"2025-03-10",
   "locationCodeableConcept":{"coding":[{"system":"https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set","code":"11"}]},
   "quantity":{"value":1},"unitPrice":{"value":60.00`, `"servicedDate":"2025-03-12",
   "locationCodeableConcept":{"coding":[{"system":"https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set","code":"11"}]},
   "quantity":{"value":1},"unitPrice":{"value":60.00`},
			wantCode: billing.EditServiceDate, wantExpr: "Claim.item[1].servicedDate"},
		{name: "ProfessionalAndTechnical", replace: []string{`"code":"26"}]}]`, `"code":"26"}]},{"coding":[{"system":"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets","code":"TC"}]}]`},
			wantCode: billing.EditModifierConflict, wantExpr: "Claim.item[1].modifier[1]"},
		{name: "BilateralQuantityTwo", replace: []string{`"code":"26"}]}],
   "servicedDate":"2025-03-10",
   "locationCodeableConcept":{"coding":[{"system":"https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set","code":"11"}]},
   "quantity":{"value":1},"unitPrice":{"value":60.00,"currency":"USD"},"net":{"value":60.00`, `"code":"50"}]}],
   "servicedDate":"2025-03-10",
   "locationCodeableConcept":{"coding":[{"system":"https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set","code":"11"}]},
   "quantity":{"value":2},"unitPrice":{"value":30.00,"currency":"USD"},"net":{"value":60.00`},
			wantCode: billing.EditModifierConflict, wantExpr: "Claim.item[1].modifier[0]"},
		{name: "ModifierMalformed", replace: []string{`"code":"26"`, `"code":"260"`},
			wantCode: billing.EditModifierFormat, wantExpr: "Claim.item[1].modifier[0]"},
		{name: "BillingNPICheckDigit", refs: []string{`"1245319599"`, `"1245319598"`},
			wantCode: billing.EditNPIInvalid, wantExpr: "Claim.provider"},
		{name: "BillingNPINineDigits", refs: []string{`"1245319599"`, `"124531959"`},
			wantCode: billing.EditNPIInvalid, wantExpr: "Claim.provider"},
		{name: "RenderingNPIMissing", refs: []string{`"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1497758544"}]`, `"active":true`},
			wantCode: billing.EditNPIMissing, wantExpr: "Claim.careTeam[0].provider"},
		{name: "RenderingNPILetters", refs: []string{`"1497758544"`, `"14977585AB"`},
			wantCode: billing.EditNPIInvalid, wantExpr: "Claim.careTeam[0].provider"},
		{name: "NoRenderingProvider", replace: []string{`{"sequence":1,"careTeamSequence":[1],`, `{"sequence":1,`},
			wantCode: billing.EditRendering, wantExpr: "Claim.item[0].careTeamSequence"},
		{name: "CoverageCancelled", refs: []string{`"status":"active"`, `"status":"cancelled"`},
			wantCode: billing.EditCoverage, wantExpr: "Claim.insurance[0].coverage"},
		{name: "CoverageEnded", refs: []string{`"end":"2025-12-31"`, `"end":"2025-02-28"`},
			wantCode: billing.EditCoverage, wantExpr: "Claim.insurance[0].coverage"},
		{name: "CoverageOfAnotherPayer", refs: []string{`"Organization/medicare"`, `"Organization/other"`},
			wantCode: billing.EditCoverage, wantExpr: "Claim.insurance[0].coverage"},
		{name: "NoPlaceOfService", replace: []string{`"code":"11"}]},
   "quantity":{"value":1},"unitPrice":{"value":150.00`, `"code":"office"}]},
   "quantity":{"value":1},"unitPrice":{"value":150.00`},
			wantCode: billing.EditPlaceOfService, wantExpr: "Claim.item[0].locationCodeableConcept"},
		{name: "TotalNotSum", replace: []string{`"total":{"value":210.00`, `"total":{"value":200.00`},
			wantCode: billing.EditTotal, wantExpr: "Claim.total"},
		{name: "NetNotQuantityTimesPrice", replace: []string{`"unitPrice":{"value":60.00`, `"unitPrice":{"value":65.00`},
			wantCode: billing.EditAmount, wantExpr: "Claim.item[1].net"},
		{name: "NotProfessional", replace: []string{`"code":"professional"`, `"code":"institutional"`},
			wantCode: billing.EditClaimType, wantExpr: "Claim.type"},
		{name: "NoInsurer", replace: []string{`"insurer":{"reference":"Organization/medicare"},`, ``},
			wantCode: billing.EditInsurer, wantExpr: "Claim.insurer"},
		// The Coverage is another patient's: the claim asks an insurer to
		// pay for someone it does not insure.
		{name: "CoverageOfAnotherPatient", refs: []string{`"beneficiary":{"reference":"Patient/p1"}`,
			`"beneficiary":{"reference":"Patient/p2"}`},
			wantCode: billing.EditCoverage, wantExpr: "Claim.insurance[0].coverage"},
		{name: "PatientNotOnServer", refs: []string{`"id":"p1"`, `"id":"p9"`},
			wantCode: billing.EditPatient, wantExpr: "Claim.patient"},
		// One currency per claim, the Biller's (USD here).
		{name: "UnitPriceInEuros", replace: []string{`"unitPrice":{"value":150.00,"currency":"USD"}`,
			`"unitPrice":{"value":150.00,"currency":"EUR"}`},
			wantCode: billing.EditCurrency, wantExpr: "Claim.item[0].unitPrice.currency"},
		{name: "TotalInEuros", replace: []string{`"total":{"value":210.00,"currency":"USD"}`,
			`"total":{"value":210.00,"currency":"EUR"}`},
			wantCode: billing.EditCurrency, wantExpr: "Claim.total.currency"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := strings.NewReplacer(c.replace...).Replace(cleanClaim)
			if len(c.replace) > 0 && body == cleanClaim {
				t.Fatalf("the replacement changed nothing")
			}
			r, err := resource.Parse([]byte(body))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			edits := billing.Scrub(r.Proto().(*claimpb.Claim), claimRefs(t, c.refs...), "USD")
			if c.wantCode == "" {
				if len(edits) > 0 {
					t.Errorf("the clean claim fails %+v", edits)
				}
				return
			}
			// One edit, or one per line for a Coverage ended before both.
			if len(edits) == 0 {
				t.Fatalf("no edit, want %s on %s", c.wantCode, c.wantExpr)
			}
			for _, e := range edits {
				if e.Code != c.wantCode || e.Expression != c.wantExpr || e.Message == "" {
					t.Errorf("edits %+v, want only %s on %s", edits, c.wantCode, c.wantExpr)
				}
			}
			is := edits[0].Issue()
			if is.Severity != resource.SeverityError || len(is.Expression) != 1 || is.Expression[0] != c.wantExpr {
				t.Errorf("issue %+v", is)
			}
		})
	}
}

// TestScrub_Amounts: a unit price, net or total below zero, or in
// fractions of a cent, fails an edit of its own on that element
// (negative-amount, amount-precision), and the net is then not also
// reported as other than quantity times unit price: the amount is the
// fault. Before, a line of -150.00 and a total of -90.00 passed every
// edit, and a line of 0.001 was reported as "net is not quantity times
// unit price", since 1 x 0.001 rounds to 0.00.
func TestScrub_Amounts(t *testing.T) {
	line1 := `"unitPrice":{"value":150.00,"currency":"USD"},"net":{"value":150.00,"currency":"USD"}`
	total := `"total":{"value":210.00,"currency":"USD"}`
	for _, c := range []struct {
		name    string
		replace []string // on cleanClaim, old then new
		want    []string // "code expression" of each edit, in order
	}{
		// The tester's claim: 99213 at -150.00 and 93000 at 60.00, total
		// -90.00, their sum.
		{name: "NegativeLineAndTotal", replace: []string{
			line1, `"unitPrice":{"value":-150.00,"currency":"USD"},"net":{"value":-150.00,"currency":"USD"}`,
			total, `"total":{"value":-90.00,"currency":"USD"}`},
			want: []string{
				"negative-amount Claim.item[0].unitPrice",
				"negative-amount Claim.item[0].net",
				"negative-amount Claim.total",
			}},
		// Only the net is negative: it is also not 1 x 150.00, but the sign
		// is what is wrong; the total, 210.00, is not -150.00 + 60.00.
		{name: "NegativeNet", replace: []string{line1,
			`"unitPrice":{"value":150.00,"currency":"USD"},"net":{"value":-150.00,"currency":"USD"}`},
			want: []string{"negative-amount Claim.item[0].net", "total Claim.total"}},
		{name: "SubCentLine", replace: []string{
			line1, `"unitPrice":{"value":0.001,"currency":"USD"},"net":{"value":0.001,"currency":"USD"}`,
			total, `"total":{"value":60.001,"currency":"USD"}`},
			want: []string{
				"amount-precision Claim.item[0].unitPrice",
				"amount-precision Claim.item[0].net",
				"amount-precision Claim.total",
			}},
		// 3 x 0.333 rounds to the net of 1.00, but 0.333 is no price.
		{name: "SubCentUnitPrice", replace: []string{`"quantity":{"value":1},` + line1,
			`"quantity":{"value":3},"unitPrice":{"value":0.333,"currency":"USD"},"net":{"value":1.00,"currency":"USD"}`,
			total, `"total":{"value":61.00,"currency":"USD"}`},
			want: []string{"amount-precision Claim.item[0].unitPrice"}},
		// Zero is a charge (a no-charge line), and trailing zeros are cents.
		{name: "ZeroAndTrailingZeros", replace: []string{
			line1, `"unitPrice":{"value":0,"currency":"USD"},"net":{"value":0.000,"currency":"USD"}`,
			total, `"total":{"value":60.0000,"currency":"USD"}`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := strings.NewReplacer(c.replace...).Replace(cleanClaim)
			if body == cleanClaim {
				t.Fatalf("the replacement changed nothing")
			}
			r, err := resource.Parse([]byte(body))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			var got []string
			for _, e := range billing.Scrub(r.Proto().(*claimpb.Claim), claimRefs(t), "USD") {
				got = append(got, e.Code+" "+e.Expression)
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("edits:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestValidNPI checks the check digit rule on the example of CMS's NPI
// check digit document (123456789 gets 3) and on the fixtures' NPIs.
func TestValidNPI(t *testing.T) {
	for npi, want := range map[string]bool{
		"1234567893": true, "1234567890": false, "1245319599": true, "1497758544": true,
		"123456789": false, "12345678930": false, "123456789X": false, "": false,
	} {
		if got := billing.ValidNPI(npi); got != want {
			t.Errorf("ValidNPI(%q) = %v, want %v", npi, got, want)
		}
	}
}

// TestCodeForms checks the ICD-10-CM, CPT and HCPCS Level II forms.
func TestCodeForms(t *testing.T) {
	for _, c := range []struct {
		check func(string) bool
		code  string
		want  bool
	}{
		{billing.ValidICD10CM, "R07.9", true}, {billing.ValidICD10CM, "I10", true},
		{billing.ValidICD10CM, "S52.521A", true}, {billing.ValidICD10CM, "T36.0X1A", true},
		{billing.ValidICD10CM, "C4A.0", true}, {billing.ValidICD10CM, "R079", false},
		{billing.ValidICD10CM, "R07.98765", false}, {billing.ValidICD10CM, "7R0.9", false},
		{billing.ValidCPT, "99213", true}, {billing.ValidCPT, "3074F", true}, {billing.ValidCPT, "0042T", true},
		{billing.ValidCPT, "0001U", true}, {billing.ValidCPT, "9921", false}, {billing.ValidCPT, "99213A", false},
		{billing.ValidCPT, "0042X", false}, {billing.ValidHCPCS, "G0439", true}, {billing.ValidHCPCS, "J1100", true},
		{billing.ValidHCPCS, "G043", false}, {billing.ValidHCPCS, "99213", false},
	} {
		if got := c.check(c.code); got != c.want {
			t.Errorf("%q: got %v, want %v", c.code, got, c.want)
		}
	}
}
