package billing

import (
	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// componentKind is one price component every Invoice line carries, in
// this order (DESIGN.md, "Invoice semantics").
type componentKind struct {
	typ     cpb.InvoicePriceComponentTypeCode_Value
	system  string
	code    string
	display string
	amount  func(l *line) decimal.Decimal
}

// components lists the price components of a line:
//
//   - base, adjudication "submitted": the gross charge;
//   - discount: the contractual adjustment, gross minus allowed;
//   - deduction, adjudication "benefit": what the insurer is expected to pay;
//   - informational, adjudication "eligible": the allowed amount;
//   - informational, adjudication "deductible" and "copay";
//   - informational, fhirbill price-component "coinsurance" (the
//     adjudication code system has no coinsurance code).
//
// On every line base - discount - deduction is what the patient owes, and
// it equals deductible + copay + coinsurance (or the whole allowed amount
// for self-pay).
var components = []componentKind{
	{cpb.InvoicePriceComponentTypeCode_BASE, SystemAdjudic, "submitted", "Submitted Amount",
		func(l *line) decimal.Decimal { return l.gross }},
	{cpb.InvoicePriceComponentTypeCode_DISCOUNT, "", "", "",
		func(l *line) decimal.Decimal { return l.gross.Sub(l.share.Allowed) }},
	{cpb.InvoicePriceComponentTypeCode_DEDUCTION, SystemAdjudic, "benefit", "Benefit Amount",
		func(l *line) decimal.Decimal { return l.share.InsurerPays }},
	{cpb.InvoicePriceComponentTypeCode_INFORMATIONAL, SystemAdjudic, "eligible", "Eligible Amount",
		func(l *line) decimal.Decimal { return l.share.Allowed }},
	{cpb.InvoicePriceComponentTypeCode_INFORMATIONAL, SystemAdjudic, "deductible", "Deductible",
		func(l *line) decimal.Decimal { return l.share.Deductible }},
	{cpb.InvoicePriceComponentTypeCode_INFORMATIONAL, SystemAdjudic, "copay", "CoPay",
		func(l *line) decimal.Decimal { return l.share.Copay }},
	{cpb.InvoicePriceComponentTypeCode_INFORMATIONAL, SystemPriceComponent, "coinsurance", "Coinsurance",
		func(l *line) decimal.Decimal { return l.share.Coinsurance }},
}

// invoice builds the Encounter's Invoice to its patient.
func (b *Biller) invoice(in *inputs, lines []*line, acc *accounting) (*resource.Resource, error) {
	inv := &invpb.Invoice{
		Id: &dtpb.Id{Value: in.invoiceID},
		Identifier: []*dtpb.Identifier{{
			System: &dtpb.Uri{Value: SystemEncounterID},
			Value:  &dtpb.String{Value: in.encID},
		}},
		Status:    &invpb.Invoice_StatusCode{Value: cpb.InvoiceStatusCode_DRAFT},
		Subject:   refTo(in.patient),
		Recipient: refTo(in.patient),
		Date:      dateTime(b.now()),
		Issuer:    refTo(in.providerRef),
	}
	// The first billing dates the Invoice; billing again keeps that date.
	if in.invoice.res != nil {
		if d := in.invoice.res.Proto().(*invpb.Invoice).GetDate(); d != nil {
			inv.Date = d
		}
	}
	if acc.account != nil {
		inv.Account = refTo("Account/" + acc.account.Resource.ID())
	}

	seen := map[string]bool{}
	sums := newTotals()
	for _, l := range lines {
		if !l.billable() {
			continue
		}
		if p := refString(l.performer); p != "" && !seen[p] {
			seen[p] = true
			inv.Participant = append(inv.Participant, &invpb.Invoice_Participant{
				Actor: proto.Clone(l.performer).(*dtpb.Reference)})
		}

		li := &invpb.Invoice_LineItem{
			Extension: modifierExts(l.modifiers),
			Sequence:  &dtpb.PositiveInt{Value: uint32(len(inv.LineItem) + 1)},
			ChargeItem: &invpb.Invoice_LineItem_ChargeItemX{Choice: &invpb.Invoice_LineItem_ChargeItemX_Reference{
				Reference: refTo("ChargeItem/" + l.id)}},
		}
		amounts := make([]decimal.Decimal, len(components))
		for i, k := range components {
			amounts[i] = k.amount(l)
			li.PriceComponent = append(li.PriceComponent, k.component(amounts[i], b.currency))
		}
		sums.add(amounts)
		inv.LineItem = append(inv.LineItem, li)
	}
	sums.write(inv, b.currency)
	// The services that could not be billed are named too, so that the
	// Invoice records every ChargeItem of its billing.
	for _, l := range lines {
		if !l.billable() {
			inv.Extension = append(inv.Extension, &dtpb.Extension{Url: &dtpb.Uri{Value: ExtNotBilled},
				Value: &dtpb.Extension_ValueX{Choice: &dtpb.Extension_ValueX_Reference{
					Reference: refTo("ChargeItem/" + l.id)}}})
		}
	}
	inv.Text = narrative(in, lines, inv, b.currency)
	return resource.FromProto(inv)
}

// component builds one price component of amount v.
func (k componentKind) component(v decimal.Decimal, currency string) *invpb.Invoice_LineItem_PriceComponent {
	pc := &invpb.Invoice_LineItem_PriceComponent{
		Type:   &invpb.Invoice_LineItem_PriceComponent_TypeCode{Value: k.typ},
		Amount: money(v, currency),
	}
	if k.code != "" {
		pc.Code = concept(coding(k.system, k.code, k.display))
	}
	return pc
}
