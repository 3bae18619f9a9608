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

// TestInvoiceWrite_BilledDraftTotals: billing staff may edit the draft
// Invoice billing made, but its totals must stay what its lines sum to,
// summed as billing sums them (exact decimals): a PUT whose totalGross,
// totalNet or a totalPriceComponent is not the lines' sum is a 422
// naming that element, and changes nothing. Before, a PUT with every
// price component 0 and totals that were no sum of the lines was stored
// (200), and $issue and $claim then billed it.
func TestInvoiceWrite_BilledDraftTotals(t *testing.T) {
	srv := billedVisit(t)
	stored := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil)
	// The office visit's totals (TestBill_OfficeVisitEndToEnd): 210.00
	// gross, 102.73 owed.
	if v := field(stored.JSON(), "totalGross", "value"); v != json.Number("210.00") {
		t.Fatalf("totalGross %v, want 210.00", v)
	}
	edit := func(change func(inv map[string]any)) []byte {
		inv := stored.JSON()
		change(inv)
		return mustJSON(t, inv)
	}
	money := func(v string) map[string]any { return map[string]any{"value": json.Number(v), "currency": "USD"} }
	zeroLines := func(inv map[string]any) {
		for _, li := range inv["lineItem"].([]any) {
			for _, pc := range li.(map[string]any)["priceComponent"].([]any) {
				pc.(map[string]any)["amount"] = money("0.00")
			}
		}
	}
	totalComponent := func(inv map[string]any, i int) map[string]any {
		return inv["totalPriceComponent"].([]any)[i].(map[string]any)
	}

	for _, c := range []struct {
		name       string
		change     func(inv map[string]any)
		want       int
		expression string
	}{
		{name: "ZeroedLines", change: zeroLines, want: 422, expression: "Invoice.totalGross"},
		{name: "TotalGross", change: func(inv map[string]any) { inv["totalGross"] = money("200.00") },
			want: 422, expression: "Invoice.totalGross"},
		{name: "TotalNet", change: func(inv map[string]any) { inv["totalNet"] = money("0.00") },
			want: 422, expression: "Invoice.totalNet"},
		// A tenth of a cent off is off: the sums are exact, not floats.
		{name: "TotalNetSubCent", change: func(inv map[string]any) { inv["totalNet"] = money("102.731") },
			want: 422, expression: "Invoice.totalNet"},
		{name: "TotalBenefit", change: func(inv map[string]any) { totalComponent(inv, 2)["amount"] = money("1.00") },
			want: 422, expression: "Invoice.totalPriceComponent[2].amount"},
		{name: "TotalComponentDropped", change: func(inv map[string]any) {
			inv["totalPriceComponent"] = inv["totalPriceComponent"].([]any)[1:]
		}, want: 422, expression: "Invoice.totalPriceComponent"},
		// Allowed: the same amounts written otherwise, and lines and
		// totals changed together so that they still add up.
		{name: "SameAmountsOtherwiseWritten", change: func(inv map[string]any) { inv["totalGross"] = money("210") },
			want: 200},
		{name: "LinesAndTotalsTogether", change: func(inv map[string]any) {
			zeroLines(inv)
			inv["totalGross"], inv["totalNet"] = money("0.00"), money("0.00")
			for i := range inv["totalPriceComponent"].([]any) {
				totalComponent(inv, i)["amount"] = money("0.00")
			}
		}, want: 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := mustDo(t, srv, c.want, "PUT", "/Invoice/e1-patient", edit(c.change))
			if c.want == 200 {
				return
			}
			if !bytes.Contains(res.Body, []byte(`"expression":["`+c.expression+`"]`)) {
				t.Errorf("the refusal %s does not name %s", res.Body, c.expression)
			}
			if got := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).JSON(); field(got, "meta", "versionId") != "1" {
				t.Errorf("a refused PUT stored version %v", field(got, "meta", "versionId"))
			}
		})
	}
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
