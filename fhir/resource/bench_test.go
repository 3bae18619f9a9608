package resource_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// benchClaim is a professional Claim of the size billing builds for a busy
// visit: four diagnoses and ten lines, each with a CPT code, a modifier,
// pointers, a place of service, quantity, unit price and net.
func benchClaim() []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Claim","id":"e1-claim-cov1",` +
		`"identifier":[{"system":"https://fhirbill.dev/fhir/sid/claim","value":"e1-claim-cov1"}],` +
		`"status":"active","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},` +
		`"use":"claim","patient":{"reference":"Patient/p1"},"billablePeriod":{"start":"2025-03-10","end":"2025-03-10"},` +
		`"created":"2025-03-11","insurer":{"reference":"Organization/medicare"},"provider":{"reference":"Organization/clinic"},` +
		`"priority":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/processpriority","code":"normal"}]},` +
		`"careTeam":[{"sequence":1,"provider":{"reference":"Practitioner/dr1"}}],` +
		`"insurance":[{"sequence":1,"focal":true,"coverage":{"reference":"Coverage/cov1"}}],"diagnosis":[`)
	for i, code := range []string{"R07.9", "I10", "E11.9", "Z79.4"} {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sequence":%d,"diagnosisCodeableConcept":{"coding":[`+
			`{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"%s"}]}}`, i+1, code)
	}
	b.WriteString(`],"item":[`)
	for i := range 10 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sequence":%d,"careTeamSequence":[1],"diagnosisSequence":[1,2],`+
			`"productOrService":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"%05d"}]},`+
			`"modifier":[{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"59"}]}],`+
			`"servicedDate":"2025-03-10","locationCodeableConcept":{"coding":[{"system":`+
			`"https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set","code":"11"}]},`+
			`"quantity":{"value":1},"unitPrice":{"value":%d.50,"currency":"USD"},"net":{"value":%d.50,"currency":"USD"}}`,
			i+1, 93000+i, 60+i, 60+i)
	}
	b.WriteString(`],"total":{"value":655.00,"currency":"USD"}}`)
	return []byte(b.String())
}

// benchInvoice is an Invoice of ten lines with the seven price components
// billing writes per line (DESIGN.md, "Invoice semantics"), and totals.
func benchInvoice() []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Invoice","id":"e1-patient",` +
		`"identifier":[{"system":"https://fhirbill.dev/fhir/sid/encounter","value":"Encounter/e1"}],` +
		`"status":"draft","subject":{"reference":"Patient/p1"},"recipient":{"reference":"Patient/p1"},` +
		`"date":"2025-03-11","issuer":{"reference":"Organization/clinic"},"lineItem":[`)
	components := []struct{ typ, code string }{
		{"base", "submitted"}, {"discount", ""}, {"informational", "eligible"}, {"deduction", "benefit"},
		{"informational", "deductible"}, {"informational", "copay"}, {"informational", "coinsurance"},
	}
	for i := range 10 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sequence":%d,"chargeItemReference":{"reference":"ChargeItem/ci-%d"},"priceComponent":[`, i+1, i+1)
		for k, c := range components {
			if k > 0 {
				b.WriteByte(',')
			}
			code := ""
			if c.code != "" {
				code = fmt.Sprintf(`"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/adjudication","code":"%s"}]},`, c.code)
			}
			fmt.Fprintf(&b, `{"type":"%s",%s"amount":{"value":%d.%02d,"currency":"USD"}}`, c.typ, code, 10+i, k*7)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`],"totalGross":{"value":1550.00,"currency":"USD"},"totalNet":{"value":412.30,"currency":"USD"}}`)
	return []byte(b.String())
}

// BenchmarkRoundTrip measures what every write and read of a resource
// costs fhirbill's own code: parse and validate the JSON a client sent
// (jsonformat plus fhirbill's checks), then print it as it is stored.
func BenchmarkRoundTrip(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{{"Claim", benchClaim()}, {"Invoice", benchInvoice()}} {
		b.Run(c.name, func(b *testing.B) {
			if _, err := resource.Parse(c.body); err != nil {
				b.Fatalf("the %s fixture is not valid R4: %v", c.name, err)
			}
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := resource.Parse(c.body)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := r.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
