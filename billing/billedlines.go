package billing

import (
	"github.com/shopspring/decimal"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	cipb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/charge_item_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// billedLine is one line of a stored Invoice with its ChargeItem: what
// claims are built from and remittance rewrites.
type billedLine struct {
	sequence uint32
	li       *invpb.Invoice_LineItem
	ci       *cipb.ChargeItem
	amounts  []decimal.Decimal // by index in components
}

// gross is the line's gross charge (its base component).
func (l *billedLine) gross() decimal.Decimal { return l.amounts[0] }

// owed is what the line leaves to the patient: gross - discount -
// deduction.
func (l *billedLine) owed() decimal.Decimal {
	return l.amounts[0].Sub(l.amounts[1]).Sub(l.amounts[2])
}

// code is the line's billing code, the ChargeItem's first coding.
func (l *billedLine) code() *dtpb.Coding {
	if cs := l.ci.GetCode().GetCoding(); len(cs) > 0 {
		return cs[0]
	}
	return &dtpb.Coding{}
}

// date is the line's date of service.
func (l *billedLine) date(fallback day) day {
	o := l.ci.GetOccurrence()
	dt := o.GetDateTime()
	if dt == nil {
		dt = o.GetPeriod().GetStart()
	}
	if d, ok := dayOf(dt); ok {
		return d
	}
	return fallback
}

// billedLines reads the lines of the Invoice in, each with its
// ChargeItem and amounts. A line whose ChargeItem is not among the
// Encounter's is a 409: the Invoice and its ChargeItems disagree.
func billedLines(inv *invpb.Invoice, items map[string]stored) ([]*billedLine, error) {
	var out []*billedLine
	for i, li := range inv.GetLineItem() {
		id := refID(li.GetChargeItem().GetReference(), "ChargeItem")
		s, ok := items[id]
		if !ok || s.res == nil {
			return nil, conflict("Invoice.lineItem",
				"line %d of Invoice/%s names a ChargeItem of another Encounter or none", i+1, inv.GetId().GetValue())
		}
		l := &billedLine{sequence: li.GetSequence().GetValue(), li: li, ci: s.res.Proto().(*cipb.ChargeItem),
			amounts: lineAmounts(li)}
		if l.sequence == 0 {
			l.sequence = uint32(i + 1)
		}
		out = append(out, l)
	}
	return out, nil
}

// componentIndex is the index in components of a price component, by
// type and code; -1 for one billing does not write.
func componentIndex(pc *invpb.Invoice_LineItem_PriceComponent) int {
	for i, k := range components {
		if pc.GetType().GetValue() != k.typ {
			continue
		}
		if k.code == "" && len(pc.GetCode().GetCoding()) == 0 ||
			k.code != "" && hasCode(pc.GetCode(), k.system, k.code) {
			return i
		}
	}
	return -1
}

// invoiceStatus is the status of inv.
func invoiceStatus(inv *invpb.Invoice) cpb.InvoiceStatusCode_Value {
	return inv.GetStatus().GetValue()
}
