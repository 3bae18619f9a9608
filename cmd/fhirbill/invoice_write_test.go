package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestInvoiceWrite_IssuedToBalanced: past draft a client's PUT may change
// the status from issued to balanced (README, "Bill a visit"), and
// nothing else. Before, every Invoice holding a Reference (a subject: any
// real one) was refused with 409 "changes only by status" even when only
// the status changed, since the stored and the sent versions were
// compared as protos, which hold a reference in different fields when
// read from the store and when parsed from a client.
func TestInvoiceWrite_IssuedToBalanced(t *testing.T) {
	srv := billingServer(t)
	put(t, srv, `{"resourceType":"Patient","id":"p1"}`)
	inv := func(status, net string) []byte {
		return []byte(`{"resourceType":"Invoice","id":"bal","status":"` + status + `",
		  "subject":{"reference":"Patient/p1"},"recipient":{"reference":"Patient/p1"},
		  "totalNet":{"value":` + net + `,"currency":"USD"}}`)
	}
	mustDo(t, srv, 201, "PUT", "/Invoice/bal", inv("draft", "10.50"))
	mustDo(t, srv, 200, "PUT", "/Invoice/bal", inv("issued", "10.50"))

	// Another amount with the status is still refused.
	res := mustDo(t, srv, 409, "PUT", "/Invoice/bal", inv("balanced", "0.00"))
	if !bytes.Contains(res.Body, []byte(`"expression":["Invoice"]`)) {
		t.Errorf("the refusal does not name the Invoice: %s", res.Body)
	}
	res = mustDo(t, srv, 200, "PUT", "/Invoice/bal", inv("balanced", "10.50"))
	if !bytes.Contains(res.Body, []byte(`"status":"balanced"`)) {
		t.Errorf("PUT answered %s, want the balanced Invoice", res.Body)
	}
}

// TestInvoiceWrite_BilledOnlyThroughBilling: an Invoice billing made
// changes only through billing, in every status (README, "Bill a visit"):
// a client's PUT that changes anything besides the status, of the draft
// or of the issued Invoice, is a 409 naming the Invoice and stores
// nothing; staff correct the inputs and $bill again. Before, the draft
// took any edit whose totals added up: a PUT of Invoice/e1-patient with
// subject Patient/p2 was stored (200) and $issue billed p2 for p1's
// visit, and one moving line 1's 98.19 from the deductible to the payer's
// benefit (totals consistent) was stored, so that the issued Invoice said
// deductible 1.81 while the plan year's Account held 100.00.
//
// The amounts are the office visit's (TestBill_OfficeVisitEndToEnd):
// line 1 (99213) benefit 0.00 and deductible 98.19, totals benefit 10.91,
// deductible 100.00, totalNet 102.73; moved, they are 98.19 and 0.00,
// 109.10, 1.81 and 4.54 (102.73 - 98.19).
func TestInvoiceWrite_BilledOnlyThroughBilling(t *testing.T) {
	srv := billedVisit(t)
	put(t, srv, `{"resourceType":"Patient","id":"p2"}`)
	money := func(v string) map[string]any { return map[string]any{"value": json.Number(v), "currency": "USD"} }
	// Price components in billing's order: 0 base, 1 discount, 2
	// deduction (benefit), 3 eligible, 4 deductible, 5 copay, 6
	// coinsurance.
	component := func(pcs any, i int) map[string]any { return pcs.([]any)[i].(map[string]any) }
	zeroLines := func(inv map[string]any) {
		for _, li := range inv["lineItem"].([]any) {
			for _, pc := range li.(map[string]any)["priceComponent"].([]any) {
				pc.(map[string]any)["amount"] = money("0.00")
			}
		}
	}
	cases := []struct {
		name   string
		change func(inv map[string]any)
	}{
		{"OtherSubject", func(inv map[string]any) {
			inv["subject"] = map[string]any{"reference": "Patient/p2"}
			inv["recipient"] = map[string]any{"reference": "Patient/p2"}
		}},
		{"DeductibleToBenefit", func(inv map[string]any) {
			line := inv["lineItem"].([]any)[0].(map[string]any)["priceComponent"]
			component(line, 2)["amount"], component(line, 4)["amount"] = money("98.19"), money("0.00")
			tot := inv["totalPriceComponent"]
			component(tot, 2)["amount"], component(tot, 4)["amount"] = money("109.10"), money("1.81")
			inv["totalNet"] = money("4.54")
		}},
		{"ZeroedLines", zeroLines},
		{"TotalNet", func(inv map[string]any) { inv["totalNet"] = money("0.00") }},
		{"Note", func(inv map[string]any) { inv["note"] = []any{map[string]any{"text": "checked"}} }},
		{"Narrative", func(inv map[string]any) {
			inv["text"].(map[string]any)["div"] = `<div xmlns="http://www.w3.org/1999/xhtml">paid</div>`
		}},
	}
	refuse := func(t *testing.T, status string, change func(inv map[string]any)) {
		t.Helper()
		stored := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil)
		inv := stored.JSON()
		change(inv)
		inv["status"] = status
		res := mustDo(t, srv, 409, "PUT", "/Invoice/e1-patient", mustJSON(t, inv))
		if !bytes.Contains(res.Body, []byte(`"expression":["Invoice"]`)) {
			t.Errorf("the refusal %s does not name the Invoice", res.Body)
		}
		if got := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).Body; !bytes.Equal(got, stored.Body) {
			t.Errorf("a refused PUT changed the Invoice:\n%s", got)
		}
	}
	for _, c := range cases {
		t.Run("Draft"+c.name, func(t *testing.T) { refuse(t, "draft", c.change) })
	}

	mustDo(t, srv, 200, "POST", "/Invoice/e1-patient/$issue", nil)
	for _, c := range cases {
		t.Run("Issued"+c.name, func(t *testing.T) { refuse(t, "issued", c.change) })
		t.Run("Balanced"+c.name, func(t *testing.T) { refuse(t, "balanced", c.change) })
	}
	issued := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil)
	if v := field(issued.JSON(), "totalNet", "value"); v != json.Number("102.73") {
		t.Errorf("issued totalNet %v, want 102.73 (billing's)", v)
	}
	// The status alone still moves on: issued to balanced.
	balanced := bytes.Replace(issued.Body, []byte(`"status":"issued"`), []byte(`"status":"balanced"`), 1)
	mustDo(t, srv, 200, "PUT", "/Invoice/e1-patient", balanced)
}

// TestInvoiceCreate_ReservedForBilling: a client may not create an
// Invoice at an id billing gives an Encounter's Invoice: before, an
// issued Invoice put at Invoice/e1-patient ahead of billing stood in for
// the bill, and $bill left it alone as past draft. Each such create is a
// 409 naming the Invoice and stores nothing; an id of the client's own
// (the README's inv-1) is created as before.
func TestInvoiceCreate_ReservedForBilling(t *testing.T) {
	srv := billingServer(t)
	put(t, srv, `{"resourceType":"Patient","id":"p1"}`)
	inv := func(id string) []byte {
		return []byte(`{"resourceType":"Invoice","id":"` + id + `","status":"issued",
		  "subject":{"reference":"Patient/p1"},"totalNet":{"value":0.01,"currency":"USD"}}`)
	}
	for _, id := range []string{"e1-patient", "e1-patient-r2", "inv-0123456789abcdef0123456789abcdef"} {
		res := mustDo(t, srv, 409, "PUT", "/Invoice/"+id, inv(id))
		if !bytes.Contains(res.Body, []byte(`"expression":["Invoice"]`)) {
			t.Errorf("PUT Invoice/%s: %s, want a refusal naming the Invoice", id, res.Body)
		}
		mustDo(t, srv, 404, "GET", "/Invoice/"+id, nil)
	}
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + string(inv("e2-patient")) +
		`,"request":{"method":"PUT","url":"Invoice/e2-patient"}}]}`
	mustDo(t, srv, 409, "POST", "/", []byte(tx))
	mustDo(t, srv, 404, "GET", "/Invoice/e2-patient", nil)
	for _, id := range []string{"inv-1", "patient", "e1-patient-r1"} {
		mustDo(t, srv, 201, "PUT", "/Invoice/"+id, inv(id))
	}
}

// TestInvoiceCreate_EncounterIdentifierRefused: an identifier of system
// https://fhirbill.dev/fhir/sid/encounter is billing's mark on the
// Invoices it makes (billing/guard.go billedInvoice), so a client's
// Invoice may not carry one: a create holding one (by POST, PUT or in a
// transaction) and an update adding one are each a 422 naming the
// identifier, Invoice.identifier[1] here, after one of the client's own
// system, and store nothing. Before, POST Invoice with identifier
// .../sid/encounter|e12 was created (201) and then taken for billing's:
// its DELETE was a 409 "made by billing".
func TestInvoiceCreate_EncounterIdentifierRefused(t *testing.T) {
	srv := billingServer(t)
	put(t, srv, `{"resourceType":"Patient","id":"p1"}`)
	inv := func(id, identifiers string) []byte {
		return []byte(`{"resourceType":"Invoice",` + id + `"status":"draft",
		  "identifier":[{"system":"https://clinic.example/inv","value":"7"}` + identifiers + `],
		  "subject":{"reference":"Patient/p1"},"totalNet":{"value":0.01,"currency":"USD"}}`)
	}
	billings := `,{"system":"https://fhirbill.dev/fhir/sid/encounter","value":"e12"}`
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` +
		string(inv(`"id":"inv-3",`, billings)) + `,"request":{"method":"PUT","url":"Invoice/inv-3"}}]}`
	for _, c := range []struct {
		name, method, path string
		body               []byte
	}{
		{"Post", "POST", "/Invoice", inv("", billings)},
		{"Put", "PUT", "/Invoice/inv-1", inv(`"id":"inv-1",`, billings)},
		{"Transaction", "POST", "/", []byte(tx)},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := mustDo(t, srv, 422, c.method, c.path, c.body)
			if !bytes.Contains(res.Body, []byte(`"Invoice.identifier[1]"]`)) {
				t.Errorf("the refusal %s does not name Invoice.identifier[1]", res.Body)
			}
		})
	}
	mustDo(t, srv, 404, "GET", "/Invoice/inv-1", nil)
	mustDo(t, srv, 404, "GET", "/Invoice/inv-3", nil)
	found := mustDo(t, srv, 200, "GET", "/Invoice?identifier=https://fhirbill.dev/fhir/sid/encounter|e12", nil)
	if !bytes.Contains(found.Body, []byte(`"total":0`)) {
		t.Errorf("an Invoice with the identifier was stored: %s", found.Body)
	}

	t.Run("UpdateAddingOne", func(t *testing.T) {
		mustDo(t, srv, 201, "PUT", "/Invoice/inv-2", inv(`"id":"inv-2",`, ""))
		res := mustDo(t, srv, 422, "PUT", "/Invoice/inv-2", inv(`"id":"inv-2",`, billings))
		if !bytes.Contains(res.Body, []byte(`"expression":["Invoice.identifier[1]"]`)) {
			t.Errorf("the refusal %s does not name Invoice.identifier[1]", res.Body)
		}
		// Still the client's own draft: it may be deleted.
		mustDo(t, srv, 204, "DELETE", "/Invoice/inv-2", nil)
	})
}
