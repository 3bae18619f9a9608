package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	accpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/account_go_proto"
	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
	crpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_response_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// statusCodes are the Invoice statuses SetInvoiceStatus sets.
var statusCodes = map[string]cpb.InvoiceStatusCode_Value{
	"issued":    cpb.InvoiceStatusCode_ISSUED,
	"balanced":  cpb.InvoiceStatusCode_BALANCED,
	"cancelled": cpb.InvoiceStatusCode_CANCELLED,
}

// transitions lists, per wanted status, the statuses it may follow.
var transitions = map[cpb.InvoiceStatusCode_Value][]cpb.InvoiceStatusCode_Value{
	cpb.InvoiceStatusCode_ISSUED:    {cpb.InvoiceStatusCode_DRAFT},
	cpb.InvoiceStatusCode_BALANCED:  {cpb.InvoiceStatusCode_ISSUED},
	cpb.InvoiceStatusCode_CANCELLED: {cpb.InvoiceStatusCode_DRAFT, cpb.InvoiceStatusCode_ISSUED},
}

// SetInvoiceStatus moves Invoice invoiceID to status, the one change an
// Invoice past draft allows: "issued" from draft ($issue), "cancelled"
// from draft or issued ($cancel, with reason as cancelledReason when not
// empty), "balanced" from issued. Cancelling also takes the Invoice's
// entry out of its accumulator Account, so the deductible it used is free
// again, and cancels its Claims that have no payer's answer, all in the
// same commit; billing the Encounter again then writes a new revision of
// the Invoice, which gets Claims of its own ([Biller.BuildClaim]).
//
// An Invoice a payer's answer was applied to ([Biller.Remit]) is not
// cancelled: the payer's decision stands, and a correction is a new
// claim.
//
// It returns the Invoice as stored. Errors: 404 when the Invoice does not
// exist, 400 for another status, 409 (with an OperationOutcome) for a
// change the current status does not allow, and for cancelling a
// remitted Invoice, 422 for issuing one whose Encounter is entered in
// error, cancelled or deleted.
func (b *Biller) SetInvoiceStatus(ctx context.Context, invoiceID, status, reason string) (*resource.Resource, error) {
	want, ok := statusCodes[status]
	if !ok {
		return nil, badRequest("status", "an Invoice's status can be set to issued, balanced or cancelled")
	}
	r, _, err := retryConflicts(ctx, func() (*resource.Resource, error) {
		return b.setStatus(ctx, invoiceID, want, reason)
	})
	if err != nil {
		return nil, err
	}
	b.log.InfoContext(ctx, "invoice status set",
		slog.String("invoice_id", invoiceID), slog.String("status", status))
	return r, nil
}

func (b *Biller) setStatus(
	ctx context.Context,
	id string,
	want cpb.InvoiceStatusCode_Value,
	reason string,
) (*resource.Resource, error) {
	r, v, err := b.records.Read(ctx, "Invoice", id)
	if errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted) {
		return nil, notFound("Invoice", "Invoice/%s does not exist", id)
	}
	if err != nil {
		return nil, readError("Invoice", id, err)
	}
	inv := proto.Clone(r.Proto()).(*invpb.Invoice)
	cur := inv.GetStatus().GetValue()
	allowed := false
	for _, from := range transitions[want] {
		allowed = allowed || cur == from
	}
	if !allowed {
		return nil, conflict("Invoice.status", "Invoice/%s is %s: it cannot become %s",
			id, codeString(cur.String()), codeString(want.String()))
	}

	var claims []Change
	if want == cpb.InvoiceStatusCode_CANCELLED {
		if claims, err = b.cancelClaims(ctx, id); err != nil {
			return nil, err
		}
	}
	if want == cpb.InvoiceStatusCode_ISSUED {
		if err := b.issuable(ctx, inv); err != nil {
			return nil, err
		}
	}

	inv.Status = &invpb.Invoice_StatusCode{Value: want}
	if want == cpb.InvoiceStatusCode_CANCELLED && reason != "" {
		inv.CancelledReason = &dtpb.String{Value: reason}
	}
	nr, err := resource.FromProto(inv)
	if err != nil {
		return nil, err
	}
	changes := append([]Change{{Resource: nr, Prev: v}}, claims...)
	if want == cpb.InvoiceStatusCode_CANCELLED {
		ch, err := b.releaseEntry(ctx, refID(inv.GetAccount(), "Account"), id)
		if err != nil {
			return nil, err
		}
		if ch != nil {
			changes = append(changes, *ch)
		}
	}
	if err := b.records.Commit(ctx, changes); err != nil {
		return nil, fmt.Errorf("set status of Invoice/%s: %w", id, err)
	}

	r, _, err = b.records.Read(ctx, "Invoice", id)
	if err != nil {
		return nil, readError("Invoice", id, err)
	}
	return r, nil
}

// cancelClaims returns the changes that cancel the Claims of Invoice
// invoiceID (those naming it in an identifier of SystemInvoiceID) with
// it, in the same commit: each one fhirbill's claim operations stored
// that is not cancelled or entered in error yet becomes cancelled, so the
// payer sees no live claim for a withdrawn charge and $remit takes no
// answer to it. Their ClaimResponses stay as they are (a queued one
// stays queued: the Claim's status says it is withdrawn). A Claim a
// client stored is the client's and is left alone; it takes no
// remittance anyway.
//
// Once a payer's answer to one of them is in (an adjudicated
// ClaimResponse where $remit stores it), the Invoice is not cancelled
// (409): the payer decided on the claim and applied its deductible;
// cancelling would take that deductible out of the accumulator and leave
// the adjudicated Claim behind. A correction is a new claim.
func (b *Biller) cancelClaims(ctx context.Context, invoiceID string) ([]Change, error) {
	claims, err := b.records.Search(ctx, "Claim", url.Values{
		"identifier": {escapeToken(SystemInvoiceID) + "|" + escapeToken(invoiceID)}})
	if err != nil {
		return nil, fmt.Errorf("search the claims of Invoice/%s: %w", invoiceID, err)
	}
	var changes []Change
	for _, r := range claims {
		crID := responseID(r.ID())
		s, err := b.readAnswer(ctx, r.ID())
		if err != nil {
			return nil, err
		}
		if s.res != nil && adjudicated(s.res.Proto().(*crpb.ClaimResponse)) {
			return nil, conflict("Invoice.status", "Invoice/%s shows the payer's answer to "+
				"Claim/%s (ClaimResponse/%s): the payer's decision stands and the Invoice "+
				"is not cancelled; a correction is a new claim, sent under a new identifier "+
				"naming Claim/%s in Claim.related", invoiceID, r.ID(), crID, r.ID())
		}
		ch, err := b.cancelClaim(ctx, r.ID())
		if err != nil {
			return nil, err
		}
		if ch != nil {
			changes = append(changes, *ch)
		}
	}
	return changes, nil
}

// cancelClaim returns the change that cancels Claim id, read again for
// its version; nil when a client stored it, or it is cancelled or
// entered in error already.
func (b *Biller) cancelClaim(ctx context.Context, id string) (*Change, error) {
	s, err := b.readStored(ctx, "Claim", id)
	if err != nil || s.res == nil {
		return nil, err
	}
	c := proto.Clone(s.res.Proto()).(*claimpb.Claim)
	switch c.GetStatus().GetValue() {
	case cpb.FinancialResourceStatusCode_CANCELLED, cpb.FinancialResourceStatusCode_ENTERED_IN_ERROR:
		return nil, nil
	}
	if !operationClaim(c) {
		return nil, nil
	}
	c.Status = &claimpb.Claim_StatusCode{Value: cpb.FinancialResourceStatusCode_CANCELLED}
	c.Meta = nil
	r, err := resource.FromProto(c)
	if err != nil {
		return nil, err
	}
	return &Change{Resource: r, Prev: s.version}, nil
}

// releaseEntry takes Invoice invoiceID's entry out of accumulator Account
// accountID; nil when there is nothing to take out.
func (b *Biller) releaseEntry(ctx context.Context, accountID, invoiceID string) (*Change, error) {
	if accountID == "" {
		return nil, nil
	}
	r, v, err := b.records.Read(ctx, "Account", accountID)
	if errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, readError("Account", accountID, err)
	}
	acc := proto.Clone(r.Proto()).(*accpb.Account)
	var kept []*dtpb.Extension
	for _, e := range acc.GetExtension() {
		if ref, _, _, ok := readEntry(e); ok && ref == "Invoice/"+invoiceID {
			continue
		}
		kept = append(kept, e)
	}
	if len(kept) == len(acc.GetExtension()) {
		return nil, nil
	}
	acc.Extension = kept
	nr, err := resource.FromProto(acc)
	if err != nil {
		return nil, err
	}
	return &Change{Resource: nr, Prev: v}, nil
}
