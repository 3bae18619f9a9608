package billing

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/fhirbill/fhirbill/fhir/resource"

	accpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/account_go_proto"
	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
	encpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/encounter_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// linkFault is where a Claim disagrees with the Invoice or Encounter it
// names: the Claim element at fault and what is wrong, in ids only.
type linkFault struct {
	expression string
	detail     string
}

// claimLinks checks a Claim that names an Invoice or an Encounter by
// fhirbill's identifier systems ([SystemInvoiceID], [SystemEncounterID])
// against them, since $remit rewrites that Invoice and its accumulator
// Account by what the Claim says: the Encounter exists and its subject is
// the Claim's patient; the Invoice exists, billing gave it (its id is the
// Encounter's Invoice id or a revision of it, and it names that
// Encounter), its subject is the Claim's patient, and the Coverage it was
// billed to (its Account's) is the Claim's first insurance. Else anyone
// able to submit a Claim could name another patient's Invoice and have a
// payer's answer rewrite that patient's bill and deductible. Each system
// is named once. nil when c names neither, or agrees.
//
// A correction of the same patient's visit, under a new identifier,
// names the same Invoice and Encounter and agrees with them.
func (b *Biller) claimLinks(ctx context.Context, c *claimpb.Claim) (*linkFault, error) {
	encAt, invAt := -1, -1
	for i, id := range c.GetIdentifier() {
		var at *int
		switch id.GetSystem().GetValue() {
		case SystemEncounterID:
			at = &encAt
		case SystemInvoiceID:
			at = &invAt
		default:
			continue
		}
		if *at >= 0 {
			return &linkFault{fmt.Sprintf("Claim.identifier[%d]", i), fmt.Sprintf("the Claim names a "+
				"second identifier of system %s: a Claim bills one Encounter's Invoice",
				id.GetSystem().GetValue())}, nil
		}
		*at = i
	}
	if encAt < 0 && invAt < 0 {
		return nil, nil
	}
	patient := refID(c.GetPatient(), "Patient")

	var encID string
	if encAt >= 0 {
		encID = c.GetIdentifier()[encAt].GetValue().GetValue()
		at := fmt.Sprintf("Claim.identifier[%d]", encAt)
		enc, err := b.readLinked(ctx, "Encounter", encID)
		if err != nil {
			return nil, err
		}
		if enc == nil {
			return missingLink(at, "Encounter", encID), nil
		}
		if patient == "" || refID(enc.Proto().(*encpb.Encounter).GetSubject(), "Patient") != patient {
			return &linkFault{"Claim.patient", fmt.Sprintf("the Claim's patient is not the subject of "+
				"Encounter/%s, which it names in %s", encID, at)}, nil
		}
	}
	if invAt < 0 {
		return nil, nil
	}

	invID := c.GetIdentifier()[invAt].GetValue().GetValue()
	at := fmt.Sprintf("Claim.identifier[%d]", invAt)
	r, err := b.readLinked(ctx, "Invoice", invID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return missingLink(at, "Invoice", invID), nil
	}
	inv := r.Proto().(*invpb.Invoice)
	billed := invoiceEncounter(inv)
	switch {
	case billed == "" || !billingInvoiceID(invID, billed):
		return &linkFault{at, fmt.Sprintf("Invoice/%s was not made by billing an Encounter: "+
			"a Claim names the Invoice $bill made for its Encounter", invID)}, nil
	case encAt >= 0 && billed != encID:
		return &linkFault{at, fmt.Sprintf("Invoice/%s bills another Encounter than Encounter/%s, "+
			"which the Claim names", invID, encID)}, nil
	case patient == "" || refID(inv.GetSubject(), "Patient") != patient:
		return &linkFault{"Claim.patient", fmt.Sprintf("the Claim's patient is not the subject of "+
			"Invoice/%s, which it names in %s", invID, at)}, nil
	}

	cov, err := b.billedCoverage(ctx, inv)
	if err != nil || cov == "" {
		return nil, err
	}
	first := -1
	ins := c.GetInsurance()
	for i, in := range ins {
		if first < 0 || in.GetSequence().GetValue() < ins[first].GetSequence().GetValue() {
			first = i
		}
	}
	if first >= 0 && refID(ins[first].GetCoverage(), "Coverage") != cov {
		return &linkFault{fmt.Sprintf("Claim.insurance[%d].coverage", first), fmt.Sprintf("Invoice/%s "+
			"was billed to Coverage/%s: the Claim's first insurance is that Coverage", invID, cov)}, nil
	}
	return nil, nil
}

// readLinked reads typ/id for claimLinks; nil when id is not a valid id
// or there is no such resource.
func (b *Biller) readLinked(ctx context.Context, typ, id string) (*resource.Resource, error) {
	if !resource.ValidID(id) {
		return nil, nil
	}
	s, err := b.readStored(ctx, typ, id)
	return s.res, err
}

// missingLink is the fault of a Claim naming typ/id, which is not on the
// server (or not a valid id, which is not repeated).
func missingLink(at, typ, id string) *linkFault {
	if !resource.ValidID(id) {
		return &linkFault{at, fmt.Sprintf("the Claim names its %s by a value that is not an id", typ)}
	}
	return &linkFault{at, fmt.Sprintf("the Claim names %s/%s, which is not on this server", typ, id)}
}

// billingInvoiceID reports whether id is one billing gives an Invoice of
// Encounter encID: invoiceBaseID, or a revision "-r2", "-r3"...
func billingInvoiceID(id, encID string) bool {
	rest, ok := strings.CutPrefix(id, invoiceBaseID(encID))
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	n, ok := strings.CutPrefix(rest, "-r")
	rev, err := strconv.Atoi(n)
	return ok && err == nil && rev >= 2 && strconv.Itoa(rev) == n
}

// billedCoverage is the Coverage an Invoice was billed to, as its
// accumulator Account records it; "" for a self-pay Invoice or an
// Account that names none.
func (b *Biller) billedCoverage(ctx context.Context, inv *invpb.Invoice) (string, error) {
	id := refID(inv.GetAccount(), "Account")
	if id == "" {
		return "", nil
	}
	s, err := b.readStored(ctx, "Account", id)
	if err != nil || s.res == nil {
		return "", err
	}
	for _, c := range s.res.Proto().(*accpb.Account).GetCoverage() {
		if cov := refID(c.GetCoverage(), "Coverage"); cov != "" {
			return cov, nil
		}
	}
	return "", nil
}

// claimedAsBilled refuses, with 409, to claim an Invoice for another
// patient or first Coverage than it was billed for: the Encounter's
// subject was changed after billing (the Invoice, its ChargeItems and
// its accumulator entry are the first patient's), or the patient's first
// Coverage is not the one billing priced the Invoice for. Claimed as it
// is, the payer's answer would rewrite the first patient's Invoice. The
// way on is to bill the Encounter again (cancelling the Invoice first if
// it is past draft).
func (b *Biller) claimedAsBilled(ctx context.Context, ci *claimInputs) error {
	inv := ci.invoice.res.Proto().(*invpb.Invoice)
	if "Patient/"+refID(inv.GetSubject(), "Patient") != ci.patient {
		return conflict("Encounter.subject", "the patient of Encounter/%s changed since it was billed: "+
			"Invoice/%s bills another patient; cancel the Invoice ($cancel) if it is past draft and bill "+
			"the Encounter again ($bill), then claim the new Invoice", ci.encID, ci.invoiceID)
	}
	for _, c := range ci.coverages[:ci.focal+1] {
		if "Patient/"+refID(c.GetBeneficiary(), "Patient") != ci.patient {
			return conflict("Coverage.beneficiary", "Coverage/%s is not the patient's of Encounter/%s",
				c.GetId().GetValue(), ci.encID)
		}
	}
	cov, err := b.billedCoverage(ctx, inv)
	if err != nil {
		return err
	}
	if first := ci.coverages[0].GetId().GetValue(); cov != "" && cov != first {
		return conflict("Coverage", "Invoice/%s was billed to Coverage/%s, and the patient's first "+
			"Coverage is now Coverage/%s: cancel the Invoice ($cancel) if it is past draft and bill the "+
			"Encounter again ($bill), then claim the new Invoice", ci.invoiceID, cov, first)
	}
	return nil
}
