package billing

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	accpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/account_go_proto"
	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
	crpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_response_go_proto"
	covpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/coverage_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// RemitResult is what [Biller.Remit] stored.
type RemitResult struct {
	// ClaimResponse is the payer's answer as stored.
	ClaimResponse *resource.Resource

	// Invoice is the patient's Invoice as stored, with what the payer
	// decided.
	Invoice *resource.Resource

	// Changed is false when nothing was stored: the same answer was
	// posted before.
	Changed bool
}

// Remit applies a payer's adjudication, a ClaimResponse for the Claim
// claimID that fhirbill built ([Biller.BuildClaim]), to the patient's
// Invoice, and stores the three together in one [Records.Commit]:
//
//   - the ClaimResponse, as "<claim>-response" (where $submit put its
//     queued answer, so the history of one ClaimResponse shows the claim
//     from front end to payer);
//   - a new version of the Invoice: each adjudicated line's components
//     become what the payer decided (eligible as the allowed amount,
//     benefit as the deduction, deductible, copay and coinsurance, the
//     contractual adjustment as gross minus eligible), the totals are
//     summed again, and the status becomes balanced when the patient owes
//     nothing, else issued; the estimate stays in the Invoice's history;
//   - the plan year's accumulator Account: this Invoice's entry becomes
//     the deductible and patient amounts the payer applied.
//
// This is the one change of an issued Invoice other than its status
// (doc.go): the payer's decision replaces billing's estimate, once.
// Posting the same ClaimResponse again stores nothing; another one, once
// an adjudication is applied, is a 409: a correction is a new claim.
//
// Client errors are *resource.Error, and nothing is stored: 400 for a
// ClaimResponse naming another Claim in request or with an amount in
// another currency; 404 when the Claim does not exist;
// 422 when the Claim is not one fhirbill built or was not sent (draft),
// disagrees with the Invoice or Encounter it names (another patient's,
// another Coverage: see claimLinks),
// when the ClaimResponse names another patient or insurer, is not active,
// answers no claim (use preauthorization or predetermination), is not
// adjudicated (outcome queued or error), adds lines or adjudicates the
// header or item details, names a line the Claim does not have, leaves
// one out with outcome complete, or has amounts that do not fit the line
// or totals that do not fit the lines (see decisions); 409 when
// the Claim already has another adjudication applied, or the Invoice was
// cancelled, balanced by another answer, or changed since the Claim was
// built.
func (b *Biller) Remit(ctx context.Context, claimID string, r *resource.Resource) (*RemitResult, error) {
	cr, ok := r.Proto().(*crpb.ClaimResponse)
	if !ok {
		return nil, badRequest("resourceType", "remittance takes a ClaimResponse, not a %s", r.Type())
	}
	if cr.GetRequest() != nil && refID(cr.GetRequest(), "Claim") != claimID {
		return nil, badRequest("ClaimResponse.request",
			"the ClaimResponse answers another Claim than Claim/%s, the one it is posted to", claimID)
	}
	if !adjudicated(cr) {
		return nil, unprocessable("ClaimResponse.outcome",
			"only an adjudicated ClaimResponse (outcome complete or partial) changes the Invoice")
	}
	if err := adjudicationShape(cr); err != nil {
		return nil, err
	}
	res, _, err := retryConflicts(ctx, func() (*RemitResult, error) {
		return b.remitOnce(ctx, cr, claimID)
	})
	if err != nil {
		return nil, err
	}
	b.log.InfoContext(ctx, "remittance applied",
		slog.String("claim_id", claimID),
		slog.String("invoice_id", res.Invoice.ID()),
		slog.Bool("changed", res.Changed))
	return res, nil
}

func (b *Biller) remitOnce(ctx context.Context, sent *crpb.ClaimResponse, claimID string) (*RemitResult, error) {
	cs, err := b.readStored(ctx, "Claim", claimID)
	if err != nil {
		return nil, err
	}
	if cs.res == nil {
		return nil, notFound("Claim", "Claim/%s is not on this server", claimID)
	}
	claim := cs.res.Proto().(*claimpb.Claim)
	encID, invID := identifierValue(claim, SystemEncounterID), identifierValue(claim, SystemInvoiceID)
	if err := remittable(claim, sent, claimID, encID, invID); err != nil {
		return nil, err
	}
	// Checked again here, not only at $submit: the Encounter or the
	// Invoice may have changed since, and a Claim stored before the
	// check was made at $submit is not trusted for it.
	f, err := b.claimLinks(ctx, claim)
	if err != nil {
		return nil, err
	}
	if f != nil {
		return nil, unprocessable("ClaimResponse.request", "Claim/%s does not agree with the records "+
			"it names (%s: %s): a remittance for it changes no Invoice", claimID, f.expression, f.detail)
	}
	ds, err := decisions(claim, sent, b.currency)
	if err != nil {
		return nil, err
	}

	is, err := b.readStored(ctx, "Invoice", invID)
	if err != nil {
		return nil, err
	}
	if is.res == nil {
		return nil, conflict("ClaimResponse.request", "Invoice/%s, which Claim/%s was built from, is gone",
			invID, claimID)
	}
	inv := proto.Clone(is.res.Proto()).(*invpb.Invoice)
	was := invoiceStatus(inv)
	if was == cpb.InvoiceStatusCode_CANCELLED {
		return nil, conflict("Invoice.status", "Invoice/%s was cancelled: a remittance no longer applies to it", invID)
	}
	// The Invoice names its ChargeItems: reads by id, as billing does.
	in := &inputs{encID: encID, chargeItems: map[string]stored{}}
	if err := b.readChargeItems(ctx, in, invoiceChargeItems(inv)); err != nil {
		return nil, err
	}
	lines, err := billedLines(inv, in.chargeItems)
	if err != nil {
		return nil, err
	}

	crID := responseID(claimID)
	next, err := b.remittedInvoice(claim, inv, lines, ds, crID)
	if err != nil {
		return nil, err
	}
	invRes, err := resource.FromProto(next)
	if err != nil {
		return nil, err
	}
	invChanged, err := differs(invRes, is)
	if err != nil {
		return nil, err
	}
	if invChanged && was == cpb.InvoiceStatusCode_BALANCED {
		return nil, conflict("Invoice.status", "Invoice/%s is balanced by an earlier remittance", invID)
	}

	c := proto.Clone(sent).(*crpb.ClaimResponse)
	c.Id, c.Meta, c.Request = &dtpb.Id{Value: crID}, nil, refTo("Claim/"+claimID)
	crRes, err := resource.FromProto(c)
	if err != nil {
		return nil, err
	}
	crs, err := b.readAnswer(ctx, claimID)
	if err != nil {
		return nil, err
	}
	crChanged, err := differs(crRes, crs)
	if err != nil {
		return nil, err
	}
	if crChanged && crs.res != nil && adjudicated(crs.res.Proto().(*crpb.ClaimResponse)) {
		// A partial answer after a complete one would leave the lines it
		// omits with the superseded answer's amounts, and any other
		// would redo a deductible the payer applied.
		return nil, conflict("ClaimResponse", "Claim/%s was adjudicated (ClaimResponse/%s) and the answer "+
			"applied to Invoice/%s: the payer's decision stands; a different answer is a new claim, "+
			"sent under a new identifier naming Claim/%s in Claim.related", claimID, crID, invID, claimID)
	}

	changes := []Change{{Resource: crRes, Prev: crs.version}, {Resource: invRes, Prev: is.version}}
	acc, err := b.remittedAccount(ctx, next, lines)
	if err != nil {
		return nil, err
	}
	if acc != nil {
		changes = append(changes, *acc)
	}
	res := &RemitResult{ClaimResponse: crs.res, Invoice: is.res, Changed: invChanged || crChanged}
	if !res.Changed {
		return res, nil
	}
	if err := b.records.Commit(ctx, changes); err != nil {
		return nil, fmt.Errorf("store remittance of Claim/%s: %w", claimID, err)
	}
	if res.ClaimResponse, _, err = b.records.Read(ctx, "ClaimResponse", crID); err != nil {
		return nil, readError("ClaimResponse", crID, err)
	}
	if res.Invoice, _, err = b.records.Read(ctx, "Invoice", invID); err != nil {
		return nil, readError("Invoice", invID, err)
	}
	return res, nil
}

// remittable checks that the ClaimResponse answers the Claim: one
// fhirbill built and sent (active), to its patient and insurer, and to
// the first payer.
func remittable(claim *claimpb.Claim, cr *crpb.ClaimResponse, claimID, encID, invID string) error {
	switch {
	case encID == "" || invID == "" || !operationClaim(claim):
		// A Claim a client stored, even one naming an Encounter and an
		// Invoice, is not: only $claim and $submit store at the ids
		// operationClaim knows, and clients cannot create or change one.
		return unprocessable("ClaimResponse.request",
			"Claim/%s was not built by fhirbill from an Invoice ($claim, $submit): a remittance for it "+
				"changes no Invoice", claimID)
	case claim.GetStatus().GetValue() != cpb.FinancialResourceStatusCode_ACTIVE:
		return unprocessable("ClaimResponse.request",
			"Claim/%s is not active (it fails claim edits, or was cancelled): it was not sent to a payer", claimID)
	case refString(cr.GetPatient()) != refString(claim.GetPatient()):
		return unprocessable("ClaimResponse.patient", "the ClaimResponse names another patient than Claim/%s", claimID)
	case refString(cr.GetInsurer()) != refString(claim.GetInsurer()):
		return unprocessable("ClaimResponse.insurer", "the ClaimResponse names another insurer than Claim/%s", claimID)
	}
	for _, in := range claim.GetInsurance() {
		if in.GetFocal().GetValue() && in.GetSequence().GetValue() > 1 {
			// TODO(#6): a later payer's (secondary) adjudication is not applied to the Invoice yet.
			return unprocessable("ClaimResponse.request",
				"Claim/%s is to a later payer: only the first payer's adjudication is applied to the Invoice", claimID)
		}
	}
	return nil
}

// remittedInvoice rewrites inv (a copy of the stored Invoice) with each
// line the payer decided on priced as it decided, totals summed again,
// and the status balanced when the patient owes nothing, else issued. A Claim item whose line is gone or coded
// otherwise is a 409: the Invoice changed since the Claim was built.
func (b *Biller) remittedInvoice(
	claim *claimpb.Claim,
	inv *invpb.Invoice,
	lines []*billedLine,
	ds map[uint32]Share,
	crID string,
) (*invpb.Invoice, error) {
	bySeq := map[uint32]*billedLine{}
	for _, l := range lines {
		bySeq[l.sequence] = l
	}
	for _, it := range claim.GetItem() {
		l := bySeq[it.GetSequence().GetValue()]
		if l == nil ||
			!hasCode(it.GetProductOrService(), l.code().GetSystem().GetValue(), l.code().GetCode().GetValue()) {
			return nil, conflict("ClaimResponse.request", "Invoice/%s changed since Claim/%s was built: "+
				"build the claim again", inv.GetId().GetValue(), claim.GetId().GetValue())
		}
	}

	dos, _ := dayOf(claim.GetBillablePeriod().GetStart())
	in := &inputs{encID: identifierValue(claim, SystemEncounterID), dos: dos, payer: refString(claim.GetInsurer()),
		remittance: "ClaimResponse/" + crID}
	for _, ins := range claim.GetInsurance() {
		if ins.GetFocal().GetValue() {
			in.coverage = &covpb.Coverage{Id: &dtpb.Id{Value: refID(ins.GetCoverage(), "Coverage")}}
		}
	}
	var ls []*line
	sums := newTotals()
	for _, bl := range lines {
		l := &line{code: bl.code(), modifiers: modifiersOf(bl.ci.GetExtension()),
			display: bl.code().GetDisplay().GetValue(), date: bl.date(dos), gross: bl.gross(), share: Share{
				Allowed: bl.amounts[3], InsurerPays: bl.amounts[2], Deductible: bl.amounts[4],
				Copay: bl.amounts[5], Coinsurance: bl.amounts[6], PatientTotal: bl.owed()}}
		if d, ok := ds[bl.sequence]; ok {
			l.share = d
			bl.li.PriceComponent = nil
			for _, k := range components {
				bl.li.PriceComponent = append(bl.li.PriceComponent, k.component(k.amount(l), b.currency))
			}
		}
		amounts := make([]decimal.Decimal, len(components))
		for i, k := range components {
			amounts[i] = k.amount(l)
		}
		sums.add(amounts)
		ls = append(ls, l)
	}
	sums.write(inv, b.currency)
	inv.Status = &invpb.Invoice_StatusCode{Value: cpb.InvoiceStatusCode_ISSUED}
	if sums.net.Sign() == 0 {
		inv.Status.Value = cpb.InvoiceStatusCode_BALANCED
	}
	inv.Meta = nil
	inv.Text = narrative(in, ls, inv, b.currency)
	return inv, nil
}

// remittedAccount rewrites the Invoice's entry in its accumulator
// Account with the deductible and patient amounts after remittance; nil
// when the Invoice has no Account or the entry is unchanged.
func (b *Biller) remittedAccount(ctx context.Context, inv *invpb.Invoice, lines []*billedLine) (*Change, error) {
	id := refID(inv.GetAccount(), "Account")
	if id == "" {
		return nil, nil
	}
	s, err := b.readStored(ctx, "Account", id)
	if err != nil || s.res == nil {
		return nil, err
	}
	var ded decimal.Decimal
	for _, l := range lines {
		for _, pc := range l.li.GetPriceComponent() {
			if componentIndex(pc) == 4 {
				v, _ := amountOf(pc.GetAmount())
				ded = ded.Add(v)
			}
		}
	}
	oop, _ := amountOf(inv.GetTotalNet())
	acc := proto.Clone(s.res.Proto()).(*accpb.Account)
	ref := "Invoice/" + inv.GetId().GetValue()
	var kept []*dtpb.Extension
	for _, e := range acc.GetExtension() {
		if r, _, _, ok := readEntry(e); ok && r == ref {
			continue
		}
		kept = append(kept, e)
	}
	acc.Extension = append(kept, entry(ref, ded, oop, b.currency))
	sortEntries(acc.Extension)
	r, err := resource.FromProto(acc)
	if err != nil {
		return nil, err
	}
	return &Change{Resource: r, Prev: s.version}, nil
}

// identifierValue is the value of c's identifier in system, "" when none.
func identifierValue(c *claimpb.Claim, system string) string {
	for _, id := range c.GetIdentifier() {
		if id.GetSystem().GetValue() == system {
			return id.GetValue().GetValue()
		}
	}
	return ""
}
