package billing

import (
	"bytes"

	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// CheckInvoiceWrite vets a client's update (next) or delete (next nil) of
// a stored Invoice, so that an Invoice changes past draft only by status,
// as $issue and $cancel change it:
//
//   - a draft may be edited (billing staff fixing lines) and issued; one
//     billing made keeps totals that are what its lines sum to, as billing
//     sums them (a 422 naming the total at fault, see checkTotals), so
//     that what $issue and $claim bill is the lines' sum;
//   - past draft, only the status may change, and only from issued to
//     balanced;
//   - cancelling goes through Invoice/$cancel, which also gives back the
//     deductible the Invoice used, and an Invoice billing made is never
//     deleted (cancel it); it is known by the identifier naming its
//     Encounter in the stored version, which an update may not drop or
//     change.
//
// The payer's adjudication replaces the amounts of an issued Invoice
// through [Biller.Remit] (Claim/[id]/$remit), never through a client's
// write.
//
// Refusals are 409 Conflict (the current state forbids the change) or,
// for totals that do not add up, 422, with an OperationOutcome naming the
// element.
func CheckInvoiceWrite(old, next *resource.Resource) error {
	o, ok := old.Proto().(*invpb.Invoice)
	if !ok {
		return nil
	}
	was := o.GetStatus().GetValue()
	if next == nil {
		if billedInvoice(o) {
			return conflict("Invoice", "an Invoice made by billing is not deleted: cancel it with $cancel")
		}
		if was != cpb.InvoiceStatusCode_DRAFT {
			return conflict("Invoice.status", "only a draft Invoice may be deleted; cancel it with $cancel")
		}
		return nil
	}
	n, ok := next.Proto().(*invpb.Invoice)
	if !ok {
		return nil
	}
	if enc := invoiceEncounter(o); enc != "" && invoiceEncounter(n) != enc {
		// Else a PUT without it would make the next DELETE pass.
		return conflict("Invoice.identifier", "an Invoice made by billing keeps the identifier "+
			"naming its Encounter (system %s)", SystemEncounterID)
	}
	now := n.GetStatus().GetValue()
	switch {
	case now == was:
	case now == cpb.InvoiceStatusCode_CANCELLED:
		return conflict("Invoice.status", "an Invoice is cancelled with $cancel, which also releases the deductible it used")
	case was == cpb.InvoiceStatusCode_DRAFT && now == cpb.InvoiceStatusCode_ISSUED,
		was == cpb.InvoiceStatusCode_ISSUED && now == cpb.InvoiceStatusCode_BALANCED:
	default:
		return conflict("Invoice.status", "an Invoice's status goes from draft to issued, from issued to balanced, or to cancelled with $cancel; not from %s to %s",
			codeString(was.String()), codeString(now.String()))
	}
	if was == cpb.InvoiceStatusCode_DRAFT {
		if billedInvoice(o) {
			return checkTotals(n)
		}
		return nil
	}
	same, err := sameBesidesStatus(o, n)
	if err != nil {
		return err
	}
	if !same {
		return conflict("Invoice", "an Invoice past draft changes only by status; this one is %s", codeString(was.String()))
	}
	return nil
}

// sameBesidesStatus reports whether a and b differ at most in what a
// status change may touch. It compares them as jsonformat prints them:
// the protos of one resource differ with how it was read (a reference
// parsed from a client's body holds the URI "Patient/p1", the same one
// read from the store holds the typed id p1), while the printed JSON is
// one.
func sameBesidesStatus(a, b *invpb.Invoice) (bool, error) {
	var out [2][]byte
	for i, inv := range []*invpb.Invoice{a, b} {
		r, err := resource.FromProto(withoutStatus(inv))
		if err != nil {
			return false, err
		}
		if out[i], err = r.Marshal(); err != nil {
			return false, err
		}
	}
	return bytes.Equal(out[0], out[1]), nil
}

// billedInvoice reports whether billing made inv: it names its Encounter.
// A client's update keeps that identifier (CheckInvoiceWrite), so the
// stored version of an Invoice billing made always says so.
func billedInvoice(inv *invpb.Invoice) bool {
	return invoiceEncounter(inv) != ""
}

// invoiceEncounter is the value of inv's identifier naming its Encounter,
// "" when it has none.
func invoiceEncounter(inv *invpb.Invoice) string {
	for _, id := range inv.GetIdentifier() {
		if id.GetSystem().GetValue() == SystemEncounterID {
			return id.GetValue().GetValue()
		}
	}
	return ""
}

// withoutStatus is inv without what a status change may touch: status,
// meta (version, time) and the narrative.
func withoutStatus(inv *invpb.Invoice) *invpb.Invoice {
	c := proto.Clone(inv).(*invpb.Invoice)
	c.Status, c.Meta, c.Text = nil, nil, nil
	return c
}
