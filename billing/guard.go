package billing

import (
	"bytes"
	"context"
	"strconv"
	"strings"

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

// CheckInvoiceCreate vets a client's create of an Invoice: one at an id
// billing gives an Encounter's Invoice ("<encounter>-patient", its
// revisions "-r2" on, or the hashed "inv-" form) is refused with 409
// naming the Invoice. Billing creates it when it first bills the
// Encounter; one a client made first, issued, would stand in for the
// bill, which billing then leaves alone as past draft.
func CheckInvoiceCreate(_ context.Context, r *resource.Resource) error {
	if !invoiceID(r.ID()) {
		return nil
	}
	return conflict("Invoice", "Invoice/%s is an id billing gives the Invoice of an Encounter "+
		"(<encounter>-patient); $bill creates it, a client does not", r.ID())
}

// invoiceID reports whether id is one invoiceBaseID gives, or one of its
// revisions: "<encounter>-patient" or "inv-" and a hash, then optionally
// "-r" and a number.
func invoiceID(id string) bool {
	if i := strings.LastIndex(id, "-r"); i > 0 {
		if n, err := strconv.Atoi(id[i+2:]); err == nil && n > 1 {
			id = id[:i]
		}
	}
	if h, ok := strings.CutPrefix(id, "inv-"); ok && hashedID(h) {
		return true
	}
	return strings.HasSuffix(id, "-patient") && len(id) > len("-patient")
}
