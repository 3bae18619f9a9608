package billing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
	crpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_response_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// Submit takes a Claim for adjudication, as Claim/$submit does
// (http://hl7.org/fhir/OperationDefinition/Claim-submit): it scrubs the
// Claim, stores it (draft when it fails an edit, active when it passes
// them all) and answers its ClaimResponse, stored too: outcome queued
// (the Claim waits for the payer's adjudication) or error, with one error
// entry per failed edit.
//
// Claim.identifier[0] is the Claim's key: a Claim with the identifier of
// a stored one is that Claim again (a resubmission), never a second
// Claim. The same Claim submitted again stores nothing and answers the
// same ClaimResponse; a changed one replaces the stored Claim and its
// answer, until the payer adjudicated it (a 409: send a corrected claim
// under a new identifier). A new Claim gets the id derived from its
// identifier, whatever id it came with.
//
// A Claim naming an Invoice or an Encounter by fhirbill's identifier
// systems must agree with them (claimLinks): its patient is theirs, the
// Invoice is billing's for that Encounter, and its first insurance is
// the Coverage the Invoice was billed to. $remit rewrites that Invoice,
// so a Claim naming another patient's would have a payer's answer
// rewrite that patient's bill.
//
// Client errors are *resource.Error: 400 for a Claim without an
// identifier, 422 for one that is cancelled, entered in error, not a
// claim (a preauthorization or predetermination), or that disagrees
// with the Invoice or Encounter it names, 409 for a changed
// Claim already adjudicated and for the Claim of a cancelled Invoice.
func (b *Biller) Submit(ctx context.Context, r *resource.Resource) (*resource.Resource, error) {
	c, ok := r.Proto().(*claimpb.Claim)
	if !ok {
		return nil, badRequest("resourceType", "$submit takes a Claim, not a %s", r.Type())
	}
	ids := c.GetIdentifier()
	if len(ids) == 0 || ids[0].GetSystem().GetValue() == "" || ids[0].GetValue().GetValue() == "" {
		return nil, resource.Errorf(statusBadRequest, resource.IssueRequired, "Claim.identifier[0]",
			"a submitted Claim needs an identifier with a system and a value, so that a resubmission is known as one")
	}
	switch s := c.GetStatus().GetValue(); s {
	case cpb.FinancialResourceStatusCode_DRAFT, cpb.FinancialResourceStatusCode_ACTIVE:
	default:
		return nil, unprocessable("Claim.status", "a %s Claim is not submitted", codeString(s.String()))
	}
	if c.GetUse().GetValue() != cpb.UseCode_CLAIM {
		// TODO(#6): preauthorizations and predeterminations (Claim.use) are not taken by $submit.
		return nil, unprocessable("Claim.use", "only claims (use claim) are submitted here, "+
			"not preauthorizations or predeterminations")
	}

	cr, _, err := retryConflicts(ctx, func() (*resource.Resource, error) {
		return b.submitOnce(ctx, c)
	})
	if err != nil {
		return nil, err
	}
	b.log.InfoContext(ctx, "claim submitted",
		slog.String("claim_response_id", cr.ID()),
		slog.String("outcome", codeString(cr.Proto().(*crpb.ClaimResponse).GetOutcome().GetValue().String())))
	return cr, nil
}

func (b *Biller) submitOnce(ctx context.Context, sent *claimpb.Claim) (*resource.Resource, error) {
	f, err := b.claimLinks(ctx, sent)
	if err != nil {
		return nil, err
	}
	if f != nil {
		return nil, unprocessable(f.expression, "%s; a Claim naming an Invoice or an Encounter by "+
			"fhirbill's identifiers must agree with them", f.detail)
	}
	if err := b.invoiceNotCancelled(ctx, sent); err != nil {
		return nil, err
	}
	key := sent.GetIdentifier()[0]
	id, err := b.claimByIdentifier(ctx, key)
	if err != nil {
		return nil, err
	}
	cur, err := b.readStored(ctx, "Claim", id)
	if err != nil {
		return nil, err
	}
	if err := resubmission(sent, cur.res, id); err != nil {
		return nil, err
	}
	crID := responseID(id)
	curCR, err := b.readAnswer(ctx, id)
	if err != nil {
		return nil, err
	}

	c := proto.Clone(sent).(*claimpb.Claim)
	c.Id, c.Meta = &dtpb.Id{Value: id}, nil
	refs, err := b.claimRefs(ctx, c)
	if err != nil {
		return nil, err
	}
	edits := Scrub(c, refs, b.currency)
	c.Status = &claimpb.Claim_StatusCode{Value: cpb.FinancialResourceStatusCode_ACTIVE}
	if len(edits) > 0 {
		c.Status.Value = cpb.FinancialResourceStatusCode_DRAFT
	}
	claim, err := resource.FromProto(c)
	if err != nil {
		return nil, err
	}
	changed, err := differs(claim, cur)
	if err != nil {
		return nil, err
	}
	if curCR.res != nil && adjudicated(curCR.res.Proto().(*crpb.ClaimResponse)) {
		if changed {
			return nil, conflict("Claim", "Claim/%s was adjudicated (ClaimResponse/%s): send the corrected "+
				"claim under a new identifier, naming this one in Claim.related", id, crID)
		}
		return curCR.res, nil
	}

	cr := b.frontEndResponse(c, crID, edits)
	if curCR.res != nil {
		cr.Created = curCR.res.Proto().(*crpb.ClaimResponse).GetCreated()
	}
	resp, err := resource.FromProto(cr)
	if err != nil {
		return nil, err
	}
	err = b.records.Commit(ctx, []Change{{Resource: claim, Prev: cur.version}, {Resource: resp, Prev: curCR.version}})
	if err != nil {
		return nil, fmt.Errorf("store Claim/%s: %w", id, err)
	}
	out, _, err := b.records.Read(ctx, "ClaimResponse", crID)
	if err != nil {
		return nil, readError("ClaimResponse", crID, err)
	}
	return out, nil
}

// resubmission checks a Claim sent to $submit against the stored Claim
// it would replace (stored nil: none), whose id is id. fhirbill's marks
// stay fhirbill's: an identifier of [SystemClaimID] names the Claim
// $claim built and stored at that id, so a Claim carrying one replaces
// that Claim or is refused; a Claim $claim built keeps the identifiers
// naming its Encounter and Invoice, so that claimLinks still holds it to
// them (dropping them would let it name another patient, or outlive its
// Invoice); and a Claim $cancel cancelled with its Invoice stays
// cancelled (bill the Encounter again and claim the new Invoice). 422
// naming the identifier, or 409 for the cancelled Claim.
func resubmission(sent *claimpb.Claim, stored *resource.Resource, id string) error {
	for i, ident := range sent.GetIdentifier() {
		if ident.GetSystem().GetValue() == SystemClaimID && (stored == nil || ident.GetValue().GetValue() != id) {
			return unprocessable(fmt.Sprintf("Claim.identifier[%d]", i), "identifiers of system %s "+
				"name the Claims $claim builds, by their id; submit a Claim of your own under an "+
				"identifier of your own system", SystemClaimID)
		}
	}
	if stored == nil {
		return nil
	}
	old := stored.Proto().(*claimpb.Claim)
	if !operationClaim(old) {
		return nil
	}
	if old.GetStatus().GetValue() == cpb.FinancialResourceStatusCode_CANCELLED {
		return conflict("Claim.status", "Claim/%s was cancelled with its Invoice ($cancel): it is not "+
			"submitted again; bill the Encounter again and claim the new Invoice", id)
	}
	for _, system := range []string{SystemEncounterID, SystemInvoiceID} {
		if was := identifierValue(old, system); was != "" && identifierValue(sent, system) != was {
			return unprocessable("Claim.identifier", "Claim/%s names %s by its identifier of system %s: "+
				"a resubmission keeps it", id, was, system)
		}
	}
	return nil
}

// invoiceNotCancelled refuses the Claim of a cancelled Invoice (one that
// names it in an identifier of SystemInvoiceID), with a 409: the charge
// was withdrawn, so there is nothing to ask a payer for; billing the
// Encounter again makes the Invoice to claim.
func (b *Biller) invoiceNotCancelled(ctx context.Context, c *claimpb.Claim) error {
	invID := identifierValue(c, SystemInvoiceID)
	if !resource.ValidID(invID) {
		return nil
	}
	s, err := b.readStored(ctx, "Invoice", invID)
	if err != nil || s.res == nil {
		return err
	}
	if invoiceStatus(s.res.Proto().(*invpb.Invoice)) == cpb.InvoiceStatusCode_CANCELLED {
		return conflict("Invoice.status", "Invoice/%s, which this Claim bills, was cancelled: "+
			"the Claim of a cancelled Invoice is not submitted; bill the Encounter again "+
			"with $bill and claim the new Invoice", invID)
	}
	return nil
}

// claimByIdentifier returns the id of the stored Claim with identifier
// key, the lowest when there are several; else the id derived from key.
func (b *Biller) claimByIdentifier(ctx context.Context, key *dtpb.Identifier) (string, error) {
	sys, val := key.GetSystem().GetValue(), key.GetValue().GetValue()
	rs, err := b.records.Search(ctx, "Claim", url.Values{"identifier": {escapeToken(sys) + "|" + escapeToken(val)}})
	if err != nil {
		return "", fmt.Errorf("search claims by identifier: %w", err)
	}
	if len(rs) > 0 {
		return rs[0].ID(), nil
	}
	return derivedID("claim-", sys, val), nil
}

// frontEndResponse is the ClaimResponse of the scrubber: outcome queued
// when c passes every edit, else error with one entry per edit.
func (b *Biller) frontEndResponse(c *claimpb.Claim, id string, edits []Edit) *crpb.ClaimResponse {
	cr := &crpb.ClaimResponse{
		Id:      &dtpb.Id{Value: id},
		Status:  &crpb.ClaimResponse_StatusCode{Value: cpb.FinancialResourceStatusCode_ACTIVE},
		Type:    proto.Clone(c.GetType()).(*dtpb.CodeableConcept),
		Use:     &crpb.ClaimResponse_UseCode{Value: c.GetUse().GetValue()},
		Patient: proto.Clone(c.GetPatient()).(*dtpb.Reference),
		Created: dateTime(b.now()),
		Request: refTo("Claim/" + c.GetId().GetValue()),
		Outcome: &crpb.ClaimResponse_OutcomeCode{Value: cpb.ClaimProcessingCode_QUEUED},
	}
	cr.Insurer = &dtpb.Reference{Display: &dtpb.String{Value: "the insurer the claim does not name"}}
	if c.GetInsurer() != nil {
		cr.Insurer = proto.Clone(c.GetInsurer()).(*dtpb.Reference)
	}
	if c.GetProvider() != nil {
		cr.Requestor = proto.Clone(c.GetProvider()).(*dtpb.Reference)
	}
	if len(edits) == 0 {
		cr.Disposition = &dtpb.String{Value: "The claim passed the claim edits and waits for the payer's adjudication."}
		return cr
	}
	cr.Outcome.Value = cpb.ClaimProcessingCode_ERROR
	cr.Disposition = &dtpb.String{Value: fmt.Sprintf("The claim fails %d claim edits; "+
		"correct them and submit it again.", len(edits))}
	for _, e := range edits {
		ce := &crpb.ClaimResponse_Error{Code: &dtpb.CodeableConcept{
			Coding: []*dtpb.Coding{coding(SystemClaimEdit, e.Code, "")},
			Text:   &dtpb.String{Value: e.Message + " (" + e.Expression + ")"},
		}}
		if e.ItemSequence > 0 {
			ce.ItemSequence = &dtpb.PositiveInt{Value: e.ItemSequence}
		}
		cr.Error = append(cr.Error, ce)
	}
	return cr
}
