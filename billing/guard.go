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
// a stored Invoice.
//
// An Invoice billing made ([billedInvoice]) changes only through billing,
// in every status: $bill rewrites the draft from its inputs, $issue and
// $cancel move it on ($issue also checks that the Encounter still
// stands, which a PUT cannot), and $remit puts in the payer's decision.
// A client's PUT may change its status from issued to balanced, and
// nothing else (a subject, a line, an amount): what $issue and $claim
// bill is what billing computed, and the plan year's accumulator Account
// holds what its lines apply, so an edited line would bill another
// patient, or tell the patient a deductible the Account does not hold.
// Staff fix the inputs (the Encounter, its Procedures and Conditions, the
// Coverage, the prices) and $bill again. An Invoice billing made is never
// deleted (cancel it); it is known by the identifier naming its
// Encounter in the stored version, which an update may not drop or
// change.
//
// An Invoice a client made may be edited while draft and issued; past
// draft, only its status changes, from issued to balanced. It does not
// gain an identifier of [SystemEncounterID], billing's mark (a 422
// naming it, see [encounterIdentifier]).
//
// Cancelling goes through Invoice/$cancel, which also gives back the
// deductible the Invoice used. Refusals are 409 Conflict (the current
// state forbids the change) or 422 (the identifier), with an
// OperationOutcome naming the element.
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
	switch enc := invoiceEncounter(o); {
	case enc != "" && invoiceEncounter(n) != enc:
		// Else a PUT without it would make the next DELETE pass.
		return conflict("Invoice.identifier", "an Invoice made by billing keeps the identifier "+
			"naming its Encounter (system %s)", SystemEncounterID)
	case enc == "":
		if err := encounterIdentifier(n); err != nil {
			return err
		}
	}
	now := n.GetStatus().GetValue()
	switch {
	case now == was:
	case now == cpb.InvoiceStatusCode_CANCELLED:
		return conflict("Invoice.status", "an Invoice is cancelled with $cancel, which also releases "+
			"the deductible it used")
	case was == cpb.InvoiceStatusCode_DRAFT && now == cpb.InvoiceStatusCode_ISSUED && billedInvoice(o):
		// A write check reads nothing else, so it cannot check the
		// Encounter as $issue does (Biller.issuable).
		return conflict("Invoice.status", "an Invoice made by billing is issued with $issue, which first "+
			"checks that its Encounter still stands")
	case was == cpb.InvoiceStatusCode_DRAFT && now == cpb.InvoiceStatusCode_ISSUED,
		was == cpb.InvoiceStatusCode_ISSUED && now == cpb.InvoiceStatusCode_BALANCED:
	default:
		return conflict("Invoice.status", "an Invoice's status goes from draft to issued, from issued "+
			"to balanced, or to cancelled with $cancel; not from %s to %s",
			codeString(was.String()), codeString(now.String()))
	}
	billed := billedInvoice(o)
	if was == cpb.InvoiceStatusCode_DRAFT && !billed {
		return nil
	}
	same, err := sameBesidesStatus(o, n, billed)
	if err != nil {
		return err
	}
	switch {
	case !same && billed:
		return conflict("Invoice", "an Invoice made by billing changes only through billing, "+
			"and by a client's PUT only in its status; to change its lines or parties, correct "+
			"the Encounter, its Procedures and Conditions, the Coverage or the prices and $bill "+
			"the draft again")
	case !same:
		return conflict("Invoice", "an Invoice past draft changes only by status; this one is %s",
			codeString(was.String()))
	}
	return nil
}

// sameBesidesStatus reports whether a and b differ at most in what a
// status change may touch: status and meta, and, unless billed (billing
// writes the narrative of its Invoices, which names no status), the
// narrative. It compares them as jsonformat prints them: the protos of
// one resource differ with how it was read (a reference parsed from a
// client's body holds the URI "Patient/p1", the same one read from the
// store holds the typed id p1), while the printed JSON is one.
func sameBesidesStatus(a, b *invpb.Invoice, billed bool) (bool, error) {
	var out [2][]byte
	for i, inv := range []*invpb.Invoice{a, b} {
		r, err := resource.FromProto(withoutStatus(inv, billed))
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
// meta (version, time) and, unless keepText, the narrative.
func withoutStatus(inv *invpb.Invoice, keepText bool) *invpb.Invoice {
	c := proto.Clone(inv).(*invpb.Invoice)
	c.Status, c.Meta = nil, nil
	if !keepText {
		c.Text = nil
	}
	return c
}

// CheckInvoiceCreate vets a client's create of an Invoice: one at an id
// billing gives an Encounter's Invoice ("<encounter>-patient", its
// revisions "-r2" on, or the hashed "inv-" form) is refused with 409
// naming the Invoice. Billing creates it when it first bills the
// Encounter; one a client made first, issued, would stand in for the
// bill, which billing then leaves alone as past draft. One carrying an
// identifier of [SystemEncounterID] is refused with 422 naming it
// ([encounterIdentifier]), wherever it is created.
func CheckInvoiceCreate(_ context.Context, r *resource.Resource) error {
	if invoiceID(r.ID()) {
		return conflict("Invoice", "Invoice/%s is an id billing gives the Invoice of an Encounter "+
			"(<encounter>-patient); $bill creates it, a client does not", r.ID())
	}
	if inv, ok := r.Proto().(*invpb.Invoice); ok {
		return encounterIdentifier(inv)
	}
	return nil
}

// encounterIdentifier refuses, with 422 naming the element, a client's
// Invoice carrying an identifier of [SystemEncounterID]: that identifier
// is how billing knows the Invoices it made ([billedInvoice]), which
// only billing changes, deletes never and cancels with the deductible
// they used; a client's Invoice carrying it would be taken for one.
func encounterIdentifier(inv *invpb.Invoice) error {
	return reservedIdentifier("Invoice", inv.GetIdentifier(), SystemEncounterID, "the Invoices billing makes")
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
