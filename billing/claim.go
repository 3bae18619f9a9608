package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
	crpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_response_go_proto"
	covpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/coverage_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// ClaimResult is what [Biller.BuildClaim] built and stored.
type ClaimResult struct {
	// Claim is the Claim as stored.
	Claim *resource.Resource

	// Edits are the claim edits it fails; none when its status is active.
	Edits []Edit

	// Notes are informational remarks (a Claim left as submitted, a
	// diagnosis that could not be coded).
	Notes []resource.Issue

	// Changed is false when nothing was stored.
	Changed bool
}

// BuildClaim builds the professional Claim of the billed Encounter
// encounterID to the patient's Coverage coverageID, scrubs it and stores
// it: draft while it fails an edit ([Scrub]), active once it passes them
// all. An empty coverageID is the primary Coverage: among the patient's
// active Coverages in force on the date of service, the lowest
// Coverage.order (none counts as last), then the lowest id, as billing
// chose it. A later Coverage (the secondary) is claimed once the claim to
// each Coverage before it has an adjudicated ClaimResponse; its lines ask
// for what the Invoice still leaves to the patient.
//
// The Claim's id is "<encounter>-claim-<coverage>", and for a revision
// of the Invoice (billed again after $cancel) "-r2", "-r3"... after it (a
// hash when too long): building again with the same inputs gives the
// same Claim and stores nothing, and changed inputs update it, until it is submitted
// and accepted (its ClaimResponse is queued or adjudicated): then it is
// left as it is, with a note. A Claim $submit refused (outcome error) is
// built again, to be corrected and submitted again.
//
// The Claim bills the Invoice for the patient it bills: the Invoice's
// subject is the Encounter's subject, each Coverage claimed is that
// patient's, and the first is the one the Invoice was billed to.
//
// Client errors are *resource.Error: 404 when the Encounter does not
// exist, 422 when it is not billed (or its Invoice was cancelled and it
// was not billed again), has no Coverage, or the Coverage
// asked for is not one of the patient's in force or cannot be claimed
// yet; 409 when the Encounter's patient or the patient's first Coverage
// changed since the Invoice was billed.
func (b *Biller) BuildClaim(ctx context.Context, encounterID, coverageID string) (*ClaimResult, error) {
	if !resource.ValidID(encounterID) {
		return nil, badRequest("Encounter.id", "the Encounter id is not a valid FHIR id")
	}
	res, _, err := retryConflicts(ctx, func() (*ClaimResult, error) {
		return b.claimOnce(ctx, encounterID, coverageID)
	})
	if err != nil {
		return nil, err
	}
	b.log.InfoContext(ctx, "claim built",
		slog.String("encounter_id", encounterID),
		slog.String("claim_id", res.Claim.ID()),
		slog.Int("edit_count", len(res.Edits)),
		slog.Bool("changed", res.Changed))
	return res, nil
}

// claimInputs is what building one Claim reads.
type claimInputs struct {
	*inputs
	coverages []*covpb.Coverage // in force on the date of service, by order
	focal     int               // index in coverages of the one claimed
	insurer   string            // the focal Coverage's payer, "Organization/<id>"
	responses []string          // ids of the adjudicated ClaimResponses of the Coverages before focal
	lines     []*billedLine
}

func (b *Biller) claimOnce(ctx context.Context, encID, covID string) (*ClaimResult, error) {
	in, err := b.load(ctx, encID)
	if err != nil {
		return nil, err
	}
	if in.invoice.res == nil && in.cancelled != "" {
		return nil, unprocessable("Encounter", "Invoice/%s was cancelled: bill Encounter/%s again "+
			"with $bill, then claim the new Invoice", in.cancelled, encID)
	}
	if in.invoice.res == nil {
		return nil, unprocessable("Encounter", "Encounter/%s has no Invoice: bill it with $bill first", encID)
	}
	ci := &claimInputs{inputs: in}
	if err := b.loadCoverages(ctx, ci, covID); err != nil {
		return nil, err
	}
	if err := b.claimedAsBilled(ctx, ci); err != nil {
		return nil, err
	}
	if ci.lines, err = billedLines(in.invoice.res.Proto().(*invpb.Invoice), in.chargeItems); err != nil {
		return nil, err
	}
	if len(ci.lines) == 0 {
		return nil, unprocessable("Invoice.lineItem", "Invoice/%s has no billable line to claim", in.invoiceID)
	}

	c, err := b.assembleClaim(ctx, ci)
	if err != nil {
		return nil, err
	}
	id := c.GetId().GetValue()
	cur, err := b.readStored(ctx, "Claim", id)
	if err != nil {
		return nil, err
	}
	res := &ClaimResult{Notes: in.notes}
	if cur.res != nil {
		submitted, err := b.readAnswer(ctx, id)
		if err != nil {
			return nil, err
		}
		if submitted.res != nil && submitted.res.Proto().(*crpb.ClaimResponse).GetOutcome().GetValue() !=
			cpb.ClaimProcessingCode_ERROR {
			res.Claim = cur.res
			if res.Edits, err = b.scrubStored(ctx, cur.res); err != nil {
				return nil, err
			}
			res.Notes = append(res.Notes, resource.Issue{
				Severity: resource.SeverityInformation, Code: resource.IssueInformational,
				Expression: []string{"Claim"},
				Diagnostics: fmt.Sprintf(
					"Claim/%s was submitted and accepted (ClaimResponse/%s): it is left as submitted",
					id, responseID(id)),
			})
			return res, nil
		}
		// The first build dates the Claim; building again keeps that date.
		if d := cur.res.Proto().(*claimpb.Claim).GetCreated(); d != nil {
			c.Created = d
		}
	}

	refs, err := b.claimRefs(ctx, c)
	if err != nil {
		return nil, err
	}
	res.Edits = Scrub(c, refs, b.currency)
	c.Status = &claimpb.Claim_StatusCode{Value: cpb.FinancialResourceStatusCode_ACTIVE}
	if len(res.Edits) > 0 {
		c.Status.Value = cpb.FinancialResourceStatusCode_DRAFT
	}
	r, err := resource.FromProto(c)
	if err != nil {
		return nil, err
	}
	changed, err := differs(r, cur)
	if err != nil {
		return nil, err
	}
	if !changed {
		res.Claim = cur.res
		return res, nil
	}
	if err := b.records.Commit(ctx, []Change{{Resource: r, Prev: cur.version}}); err != nil {
		return nil, fmt.Errorf("store Claim/%s: %w", id, err)
	}
	if res.Claim, _, err = b.records.Read(ctx, "Claim", id); err != nil {
		return nil, readError("Claim", id, err)
	}
	res.Changed = true
	return res, nil
}

// loadCoverages lists the patient's Coverages in force on the date of
// service in billing's order and picks the one to claim.
func (b *Biller) loadCoverages(ctx context.Context, ci *claimInputs, covID string) error {
	q := url.Values{"beneficiary": {ci.patient}, "status": {"active"}}
	rs, err := b.records.Search(ctx, "Coverage", q)
	if err != nil {
		return fmt.Errorf("search coverage of Encounter/%s: %w", ci.encID, err)
	}
	for _, r := range rs {
		c := r.Proto().(*covpb.Coverage)
		if covers(c.GetPeriod(), ci.dos) {
			ci.coverages = append(ci.coverages, c)
		}
	}
	sort.SliceStable(ci.coverages, func(i, j int) bool { return coverageBefore(ci.coverages[i], ci.coverages[j]) })
	if len(ci.coverages) == 0 {
		return unprocessable("Coverage", "the patient has no active Coverage in force on the date of service: "+
			"a self-pay visit has no claim")
	}
	ci.focal = -1
	for i, c := range ci.coverages {
		if covID == "" || c.GetId().GetValue() == covID {
			ci.focal = i
			break
		}
	}
	if ci.focal < 0 {
		return unprocessable("Parameters.parameter.where(name = 'coverage')",
			"Coverage/%s is not one of the patient's active Coverages in force on the date of service", covID)
	}
	// The payer as billing resolves it: a reference, or an identifier
	// that one Organization carries (EHRs name payers so).
	insurer, err := b.coveragePayer(ctx, ci.coverages[ci.focal])
	if err != nil {
		return err
	}
	ci.insurer = insurer
	for _, c := range ci.coverages[:ci.focal] {
		prev := claimID(ci.encID, ci.invoiceID, c.GetId().GetValue())
		s, err := b.readAnswer(ctx, prev)
		if err != nil {
			return err
		}
		if s.res == nil || !adjudicated(s.res.Proto().(*crpb.ClaimResponse)) {
			return unprocessable("Parameters.parameter.where(name = 'coverage')",
				"Claim/%s to Coverage/%s, which comes first, has no adjudicated ClaimResponse yet: "+
					"the next payer is claimed for what the first leaves", prev, c.GetId().GetValue())
		}
		ci.responses = append(ci.responses, responseID(prev))
	}
	return nil
}

// adjudicated reports whether the payer decided on the claim.
func adjudicated(cr *crpb.ClaimResponse) bool {
	o := cr.GetOutcome().GetValue()
	return o == cpb.ClaimProcessingCode_COMPLETE || o == cpb.ClaimProcessingCode_PARTIAL
}

// claimID is the id of the Claim of Invoice invoiceID, billed for
// Encounter encID, to Coverage covID: "<encounter>-claim-<coverage>" for
// the Encounter's first Invoice, then the revision's "-r2", "-r3"... (a
// hash when too long). Each revision has Claims of its own: the Claim of
// a cancelled Invoice stays cancelled at its id, with its answer, which
// at the same id would pass for the answer to the new Invoice's Claim.
//
// The readable form is kept only when it names one Encounter, Coverage
// and revision: ids are the EHR's, so Encounter "a-claim-b" to Coverage
// "c" and Encounter "a" to Coverage "b-claim-c" would both read
// "a-claim-b-claim-c", and Coverage "cov1-r2" would read as the second
// revision's Claim to "cov1". Such a Claim's id is the hash of the three
// parts, kept apart.
func claimID(encID, invoiceID, covID string) string {
	rev, ok := strings.CutPrefix(invoiceID, invoiceBaseID(encID))
	if !ok {
		rev = ""
	}
	s := encID + "-claim-" + covID + rev
	if strings.Index(s, "-claim-") != strings.LastIndex(s, "-claim-") || revisionSuffix.MatchString(covID) {
		return derivedID("claim-", encID, covID, rev)
	}
	return readableID(s, 64, "claim-")
}

// revisionSuffix is how an id that claimID writes after a Coverage's id
// ends when the Invoice is a revision: "-r2", "-r3"...
var revisionSuffix = regexp.MustCompile(`-r[0-9]+$`)

// responseID is the id of the ClaimResponse of Claim claimID: $submit
// stores the front end's answer there, and remittance the payer's.
func responseID(claimID string) string {
	return readableID(claimID+"-response", 64, "cr-")
}

// readAnswer reads the ClaimResponse at responseID(claimID), where $submit
// and $remit keep the Claim's answer; a missing or deleted one is
// stored{}. One there that does not answer the Claim (its request names
// another Claim, or none) is a 409 naming it: a client stored it there
// before such creates were refused ([CheckClaimResponseCreate]),
// and taken as the answer it would answer $submit, freeze the Claim and
// its Invoice, or stand for a payer's decision. A client may delete it.
func (b *Biller) readAnswer(ctx context.Context, claimID string) (stored, error) {
	id := responseID(claimID)
	s, err := b.readStored(ctx, "ClaimResponse", id)
	if err != nil || s.res == nil {
		return s, err
	}
	if refID(s.res.Proto().(*crpb.ClaimResponse).GetRequest(), "Claim") != claimID {
		return stored{}, conflict("ClaimResponse", "ClaimResponse/%s, where fhirbill keeps the answer to "+
			"Claim/%s, answers another Claim or none: it was not stored by $submit or $remit; "+
			"delete it, then submit the Claim again", id, claimID)
	}
	return s, nil
}

// readStored reads typ/id; a missing or deleted one is stored{}.
func (b *Biller) readStored(ctx context.Context, typ, id string) (stored, error) {
	r, v, err := b.records.Read(ctx, typ, id)
	switch {
	case errors.Is(err, resource.ErrNotFound):
		return stored{}, nil
	case errors.Is(err, resource.ErrDeleted):
		return stored{version: v}, nil
	case err != nil:
		return stored{}, readError(typ, id, err)
	}
	return stored{res: r, version: v}, nil
}

// claimRefs reads what the scrubber checks through c's references: the
// patient, the billing provider, the insurer, the care team and the
// Coverages. A
// reference the server cannot resolve is left out, and the scrubber says
// so.
func (b *Biller) claimRefs(ctx context.Context, c *claimpb.Claim) (ClaimRefs, error) {
	refs := ClaimRefs{}
	want := []string{refString(c.GetPatient()), refString(c.GetProvider()), refString(c.GetInsurer())}
	for _, m := range c.GetCareTeam() {
		want = append(want, refString(m.GetProvider()))
	}
	for _, in := range c.GetInsurance() {
		want = append(want, refString(in.GetCoverage()))
	}
	for _, ref := range want {
		typ, id, ok := cutRef(ref)
		if _, done := refs[ref]; done || !ok || !resource.Known(typ) || !resource.ValidID(id) {
			continue
		}
		s, err := b.readStored(ctx, typ, id)
		if err != nil {
			return nil, err
		}
		if s.res != nil {
			refs[ref] = s.res
		}
	}
	return refs, nil
}

// scrubStored scrubs a stored Claim again, for the answer of $claim.
func (b *Biller) scrubStored(ctx context.Context, r *resource.Resource) ([]Edit, error) {
	c := proto.Clone(r.Proto()).(*claimpb.Claim)
	refs, err := b.claimRefs(ctx, c)
	if err != nil {
		return nil, err
	}
	return Scrub(c, refs, b.currency), nil
}
