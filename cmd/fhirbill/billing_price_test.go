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
