package billing

import (
	"github.com/shopspring/decimal"

	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// totals are an Invoice's totals as billing sums its lines (DESIGN.md,
// "Invoice semantics"): each price component of [components] over the
// lines, totalGross the base components, totalNet what the recipient
// owes, base - discount - deduction. Each line is rounded to the cent
// before, so the sums are exact. Billing ([Biller.Bill], [Biller.Remit])
// sums with it.
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
