package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestBill_NegativeAllowedNotBillable: a payer's contract that gives a
// negative allowed amount (a fee-list price of -5.00, or a fee schedule
// factor below zero) leaves the line not billable with the reason, as a
// negative price in the provider's price list does. Before, a fee-list
// price of -5.00 for a 200.00 charge gave a discount of 205.00, an
// eligible amount of -5.00 and an insurer paying -5.00, "All OK".
func TestBill_NegativeAllowedNotBillable(t *testing.T) {
	for _, c := range []struct {
		name      string
		contract  string
		payerFees []string
	}{{
		name: "FeeListPrice",
		contract: `{"resourceType":"ChargeItemDefinition","id":"contract-acme","status":"active",
		  "url":"https://clinic.example/contract/acme",
		  "extension":[{"url":"https://fhirbill.dev/fhir/StructureDefinition/allowed-rule","valueCode":"fee-list"}],
		  "useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"program"},
		                 "valueReference":{"reference":"Organization/acme"}}]}`,
		payerFees: []string{`{"resourceType":"ChargeItemDefinition","id":"acme-99213","status":"active",
		  "url":"https://clinic.example/acme/99213",
		  "code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]},
		  "useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"program"},
		                 "valueReference":{"reference":"Organization/acme"}}],
		  "propertyGroup":[{"priceComponent":[{"type":"base","amount":{"value":-5.00,"currency":"USD"}}]}]}`},
	}, {
		name:     "FeeScheduleFactor",
		contract: strings.Replace(planFixtures[3], `"factor":1.10`, `"factor":-1.10`, 1),
	}} {
		t.Run(c.name, func(t *testing.T) {
			srv := billingServer(t)
			for _, r := range planFixtures {
				put(t, srv, r)
			}
			put(t, srv, c.contract)
			for _, r := range c.payerFees {
				put(t, srv, r)
			}

			got := bill(t, srv, "e2019")
			if lines, _ := got.Invoice["lineItem"].([]any); len(lines) != 0 {
				t.Errorf("%d Invoice lines, want none", len(lines))
			}
			if n := fmt.Sprint(field(got.Invoice, "totalNet", "value")); n != "0.00" {
				t.Errorf("totalNet %v, want 0.00", n)
			}
			if len(got.ChargeItems) != 1 || got.ChargeItems[0]["status"] != "not-billable" {
				t.Fatalf("ChargeItems %v, want one not-billable", got.ChargeItems)
			}
			note := field(got.ChargeItems[0]["note"].([]any)[0].(map[string]any), "text").(string)
			if !strings.Contains(note, "negative allowed amount") {
				t.Errorf("note %q, want the reason: a negative allowed amount", note)
			}
		})
	}
}

// TestBill_ProviderScopedPrices: a ChargeItemDefinition whose useContext
// venue (usage-context-type) references a billing provider prices that
// provider's services only, and wins over the price list every provider
// shares (no venue, no payer context), which stays the fallback. None
// has an effectivePeriod: each applies on every date.
//
// Clinic's own 99213 is 170.00, clinic2's own 93000 is 75.00, and the
// shared list (billingFixtures) has 99213 at 150.00 and 93000 at 60.00:
// Clinic's visit is charged 170.00 + 60.00, clinic2's 150.00 + 75.00.
// A payer's contract is scoped the same way: Medicare's contract with
// clinic2 allows what it bills (rule billed), so clinic2's lines are
// eligible at their gross charges, while clinic's stay on the shared
// medicare-pfs contract (98.19 and 15.45, TestBill_OfficeVisitEndToEnd).
// Before, the price list was one for every provider.
func TestBill_ProviderScopedPrices(t *testing.T) {
	srv := billingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	put(t, srv, strings.NewReplacer(`"id":"clinic"`, `"id":"clinic2"`, `"Sunset Family Medicine"`, `"Ocean Clinic"`,
		`"1245319599"`, `"1234567893"`).Replace(billingFixtures[0]))
	own := func(id, provider, code, value string) string {
		return `{"resourceType":"ChargeItemDefinition","id":"` + id + `","status":"active",
		  "url":"https://` + provider + `.example/price/` + code + `",
		  "useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"venue"},
		                 "valueReference":{"reference":"Organization/` + provider + `"}}],
		  "code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"` + code + `"}]},
		  "propertyGroup":[{"priceComponent":[{"type":"base","amount":{"value":` + value + `,"currency":"USD"}}]}]}`
	}
	put(t, srv, own("clinic-99213", "clinic", "99213", "170.00"))
	put(t, srv, own("clinic2-93000", "clinic2", "93000", "75.00"))
	put(t, srv, `{"resourceType":"ChargeItemDefinition","id":"contract-medicare-clinic2","status":"active",
	  "url":"https://clinic2.example/contract/medicare",
	  "extension":[{"url":"https://fhirbill.dev/fhir/StructureDefinition/allowed-rule","valueCode":"billed"}],
	  "useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"program"},
	                 "valueReference":{"reference":"Organization/medicare"}},
	                {"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"venue"},
	                 "valueReference":{"reference":"Organization/clinic2"}}]}`)
	for _, r := range officeVisit("e1", "2025-03-10", true) {
		put(t, srv, r)
	}
	for _, r := range officeVisit("e2", "2025-03-11", true) {
		put(t, srv, strings.Replace(r, `"Organization/clinic"`, `"Organization/clinic2"`, 1))
	}

	for enc, want := range map[string][]string{
		"e1": {"base/submitted=170.00", "informational/eligible=98.19",
			"base/submitted=60.00", "informational/eligible=15.45"},
		"e2": {"base/submitted=150.00", "informational/eligible=150.00",
			"base/submitted=75.00", "informational/eligible=75.00"},
	} {
		inv := bill(t, srv, enc).Invoice
		var got []string
		for _, l := range inv["lineItem"].([]any) {
			pcs := components(l.(map[string]any)["priceComponent"])
			got = append(got, pcs[0], pcs[3])
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: gross and eligible %v, want %v", enc, got, want)
		}
	}
}
