package billing

import (
	"fmt"

	"github.com/shopspring/decimal"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// totals are an Invoice's totals as billing sums its lines (DESIGN.md,
// "Invoice semantics"): each price component of [components] over the
// lines, totalGross the base components, totalNet what the recipient
// owes, base - discount - deduction. Each line is rounded to the cent
// before, so the sums are exact. Billing ([Biller.Bill], [Biller.Remit])
// and the check of a client's edit ([CheckInvoiceWrite]) sum with it.
type totals struct {
	components []decimal.Decimal // by index in components
	gross, net decimal.Decimal
}

func newTotals() *totals {
	return &totals{components: make([]decimal.Decimal, len(components))}
}

// add adds a line whose amounts are given by index in components.
func (t *totals) add(amounts []decimal.Decimal) {
	for i, v := range amounts {
		t.components[i] = t.components[i].Add(v)
	}
	t.gross = t.gross.Add(amounts[0])
	t.net = t.net.Add(amounts[0].Sub(amounts[1]).Sub(amounts[2]))
}

// write sets inv's totalPriceComponent, totalGross and totalNet.
func (t *totals) write(inv *invpb.Invoice, currency string) {
	inv.TotalPriceComponent = nil
	for i, k := range components {
		inv.TotalPriceComponent = append(inv.TotalPriceComponent, k.component(t.components[i], currency))
	}
	inv.TotalGross = money(t.gross, currency)
	inv.TotalNet = money(t.net, currency)
}

// lineAmounts reads the amounts of a stored line by index in components:
// one it lacks is zero, and a component billing does not write is not
// read.
func lineAmounts(li *invpb.Invoice_LineItem) []decimal.Decimal {
	out := make([]decimal.Decimal, len(components))
	for _, pc := range li.GetPriceComponent() {
		if k := componentIndex(pc); k >= 0 {
			out[k], _ = amountOf(pc.GetAmount())
		}
	}
	return out
}

// checkTotals refuses, with 422 naming the element, an Invoice whose
// totals are not what its lines sum to: totalGross, totalNet, and one
// totalPriceComponent per component billing writes, in its order.
func checkTotals(inv *invpb.Invoice) error {
	want := newTotals()
	for _, li := range inv.GetLineItem() {
		want.add(lineAmounts(li))
	}
	for _, c := range []struct {
		expr string
		m    *dtpb.Money
		sum  decimal.Decimal
	}{{"Invoice.totalGross", inv.GetTotalGross(), want.gross}, {"Invoice.totalNet", inv.GetTotalNet(), want.net}} {
		if v, ok := amountOf(c.m); !ok || !v.Equal(c.sum) {
			return unprocessable(c.expr, "%s is not what the lines sum to, %s", c.expr, FormatMoney(c.sum))
		}
	}
	got := inv.GetTotalPriceComponent()
	if len(got) != len(components) {
		return unprocessable("Invoice.totalPriceComponent", "an Invoice billing made has %d total price "+
			"components, one per component of its lines, not %d", len(components), len(got))
	}
	for i, pc := range got {
		at := fmt.Sprintf("Invoice.totalPriceComponent[%d]", i)
		if componentIndex(pc) != i {
			return unprocessable(at, "%s is not the total billing keeps there (type and code as on the lines, "+
				"in their order)", at)
		}
		if v, ok := amountOf(pc.GetAmount()); !ok || !v.Equal(want.components[i]) {
			return unprocessable(at+".amount", "%s.amount is not what the lines' components sum to, %s",
				at, FormatMoney(want.components[i]))
		}
	}
	return nil
}
