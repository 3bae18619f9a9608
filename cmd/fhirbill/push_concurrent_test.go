package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// TestPush_ConcurrentEncountersAllBilled: an EHR pushes twelve finished
// visits of one patient at once, each a PUT of its Encounter, to the API
// wired as `fhirbill serve` wires it. Every billing races for the plan
// year's accumulator Account; each must wait its turn and bill, not give
// up with a 409 that leaves the Encounter without an Invoice.
//
// Each visit is one 99213, allowed 98.19 (TestBill_OfficeVisitEndToEnd:
// the 2025 fee schedule in locality 01182-18), under the fixture's
// 100.00 deductible and 20 % coinsurance. Whatever the order, one visit
// spends 98.19 of deductible, the next 1.81 plus 20 % of 96.38 = 19.276
// -> 19.28 (21.09 owed), and the other ten 20 % of 98.19 = 19.638 ->
// 19.64 each, so the Invoices apply 100.00 of deductible in all and the
// patient owes 98.19 + 21.09 + 10 x 19.64 = 315.68.
func TestPush_ConcurrentEncountersAllBilled(t *testing.T) {
	const n = 12
	srv := pushingBillingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	encounters := make([]string, n)
	for i := range encounters {
		id := fmt.Sprintf("p3e%d", i+1)
		encounters[i] = id
		// The Conditions first, then the Encounter alone, concurrently:
		// only a finished Encounter's write bills.
		visit := officeVisit(id, fmt.Sprintf("2025-03-%02d", i+1), false)
		for _, r := range visit[:len(visit)-1] {
			put(t, srv, r)
		}
	}

	results := make([]*resttest.Response, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, id := range encounters {
		visit := officeVisit(id, fmt.Sprintf("2025-03-%02d", i+1), false)
		enc := []byte(visit[len(visit)-1])
		wg.Go(func() {
			<-start
			results[i] = srv.Do("PUT", "/Encounter/"+id, enc)
		})
	}
	close(start)
	wg.Wait()

	deductible, owed := decimal.Zero, decimal.Zero
	for i, id := range encounters {
		if results[i].Status != 201 {
			t.Fatalf("PUT Encounter/%s: got %d, want 201: %s", id, results[i].Status, results[i].Body)
		}
		res := srv.Do("GET", "/Invoice/"+id+"-patient", nil)
		if res.Status != 200 {
			t.Errorf("Invoice/%s-patient: got %d, want 200: the pushed Encounter was left unbilled", id, res.Status)
			continue
		}
		inv := res.JSON()
		for _, c := range components(inv["totalPriceComponent"]) {
			if v, ok := strings.CutPrefix(c, "informational/deductible="); ok {
				deductible = deductible.Add(decimal.RequireFromString(v))
			}
		}
		owed = owed.Add(decimal.RequireFromString(fmt.Sprint(field(inv, "totalNet", "value"))))
	}
	if t.Failed() {
		return
	}
	if want := decimal.RequireFromString("100.00"); !deductible.Equal(want) {
		t.Errorf("the Invoices apply %s of deductible in all, want %s", deductible, want)
	}
	if want := decimal.RequireFromString("315.68"); !owed.Equal(want) {
		t.Errorf("the patient owes %s in all, want %s", owed, want)
	}

	// The plan year's accumulator holds one entry per Invoice, and its
	// entries spend the deductible once: 100.00 in all.
	acc := mustDo(t, srv, 200, "GET", "/Account/accum-cov1-20250101", nil).JSON()
	entries := map[string]decimal.Decimal{}
	for _, e := range asList(acc["extension"]) {
		e := e.(map[string]any)
		if e["url"] != billing.ExtAccumulator {
			continue
		}
		var inv string
		var ded decimal.Decimal
		for _, s := range asList(e["extension"]) {
			s := s.(map[string]any)
			switch s["url"] {
			case "invoice":
				inv = fmt.Sprint(field(s, "valueReference", "reference"))
			case "deductible":
				ded = decimal.RequireFromString(fmt.Sprint(field(s, "valueMoney", "value")))
			}
		}
		entries[inv] = ded
	}
	spent := decimal.Zero
	for _, id := range encounters {
		ded, ok := entries["Invoice/"+id+"-patient"]
		if !ok {
			t.Errorf("the accumulator lacks Invoice/%s-patient", id)
		}
		spent = spent.Add(ded)
	}
	if len(entries) != n || !spent.Equal(decimal.RequireFromString("100.00")) {
		t.Errorf("the accumulator has %d entries spending %s of deductible, want %d spending 100.00",
			len(entries), spent, n)
	}
}
