package billing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	cipb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/charge_item_go_proto"
	condpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/condition_go_proto"
	covpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/coverage_go_proto"
	encpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/encounter_go_proto"
	ippb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/insurance_plan_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
	locpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/location_go_proto"
	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"
	procpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/procedure_go_proto"
)

// stored is a resource as read and its version. res is nil when it does
// not exist (version 0) or its current version is a delete (the delete's
// version: billing writes over a deleted resource as over an absent one).
type stored struct {
	res     *resource.Resource
	version int64
}

// inputs is one snapshot of everything billing an Encounter reads.
type inputs struct {
	encID   string
	enc     *encpb.Encounter
	patient string // "Patient/<id>"
	dos     day    // the Encounter's date of service

	conditions []*condpb.Condition // the patient's whose encounter is this one, by id
	procedures []*procpb.Procedure // the patient's whose encounter is this one, by id
	// diagnosed holds the Conditions Encounter.diagnosis names that the
	// search did not find, by id; nil for one that does not exist.
	diagnosed map[string]*condpb.Condition
	// otherPatients holds the Conditions and Procedures ("Type/id") left
	// out of billing as another patient's (leaveOutOtherPatients).
	otherPatients map[string]bool

	coverage *covpb.Coverage     // nil: self-pay
	payer    string              // "Organization/<id>"; "" for self-pay
	plan     *ippb.InsurancePlan // the payer's plan, when the Coverage states no cost sharing

	provider    *orgpb.Organization // the billing provider
	providerRef string
	location    *locpb.Location // Encounter.location[0], nil when absent

	invoiceID   string
	invoice     stored
	cancelled   string            // the latest cancelled revision of the Invoice; "" when none
	chargeItems map[string]stored // the Encounter's ChargeItems by id

	notes []resource.Issue

	// remittance names the ClaimResponse whose amounts an Invoice shows,
	// for the narrative; "" for billing's estimate.
	remittance string
}

// maxRevisions bounds the cancelled Invoices of one Encounter that billing
// steps over to find the one to write.
const maxRevisions = 20

// load reads the Encounter and what billing needs around it.
func (b *Biller) load(ctx context.Context, encID string) (*inputs, error) {
	r, _, err := b.records.Read(ctx, "Encounter", encID)
	if errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted) {
		return nil, notFound("Encounter", "Encounter/%s does not exist", encID)
	}
	if err != nil {
		return nil, readError("Encounter", encID, err)
	}
	enc := r.Proto().(*encpb.Encounter)
	in := &inputs{encID: encID, enc: enc}

	if s := enc.GetStatus().GetValue(); s != cpb.EncounterStatusCode_FINISHED {
		return nil, unprocessable("Encounter.status",
			"only a finished Encounter is billed; this one is not finished")
	}
	in.patient = "Patient/" + refID(enc.GetSubject(), "Patient")
	if in.patient == "Patient/" {
		return nil, unprocessable("Encounter.subject", "the Encounter's subject must be a Patient")
	}
	var ok bool
	if in.dos, ok = dayOf(enc.GetPeriod().GetStart()); !ok {
		return nil, unprocessable("Encounter.period.start",
			"the Encounter needs a start date: it is the date of service")
	}
	if err := b.mustExist(ctx, in.patient, "Encounter.subject"); err != nil {
		return nil, err
	}

	if err := b.loadProvider(ctx, in); err != nil {
		return nil, err
	}
	if err := b.loadClinical(ctx, in); err != nil {
		return nil, err
	}
	if err := b.leaveOutOtherPatients(ctx, in); err != nil {
		return nil, err
	}
	if err := b.loadCoverage(ctx, in); err != nil {
		return nil, err
	}
	if err := b.loadPlan(ctx, in); err != nil {
		return nil, err
	}
	if err := b.loadBilled(ctx, in); err != nil {
		return nil, err
	}
	return in, nil
}

// mustExist checks that the local reference ref resolves.
func (b *Biller) mustExist(ctx context.Context, ref, expression string) error {
	typ, id, _ := cutRef(ref)
	_, _, err := b.records.Read(ctx, typ, id)
	if errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted) {
		return unprocessable(expression, "%s does not exist", ref)
	}
	if err != nil {
		return readError(typ, id, err)
	}
	return nil
}

// loadProvider reads the billing provider (Encounter.serviceProvider) and
// the place of service (Encounter.location[0]).
func (b *Biller) loadProvider(ctx context.Context, in *inputs) error {
	id := refID(in.enc.GetServiceProvider(), "Organization")
	if id == "" {
		return unprocessable("Encounter.serviceProvider",
			"the Encounter needs a serviceProvider Organization: the billing provider")
	}
	r, _, err := b.records.Read(ctx, "Organization", id)
	if errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted) {
		return unprocessable("Encounter.serviceProvider", "Organization/%s does not exist", id)
	}
	if err != nil {
		return readError("Organization", id, err)
	}
	in.provider, in.providerRef = r.Proto().(*orgpb.Organization), "Organization/"+id

	if locs := in.enc.GetLocation(); len(locs) > 0 {
		if id := refID(locs[0].GetLocation(), "Location"); id != "" {
			r, _, err := b.records.Read(ctx, "Location", id)
			switch {
			case err == nil:
				in.location = r.Proto().(*locpb.Location)
			case !errors.Is(err, resource.ErrNotFound) && !errors.Is(err, resource.ErrDeleted):
				return readError("Location", id, err)
			}
		}
	}
	return nil
}

// loadClinical searches the Conditions and Procedures of the Encounter.
func (b *Biller) loadClinical(ctx context.Context, in *inputs) error {
	q := url.Values{"encounter": {"Encounter/" + in.encID}}
	conds, err := b.records.Search(ctx, "Condition", q)
	if err != nil {
		return fmt.Errorf("search conditions of Encounter/%s: %w", in.encID, err)
	}
	for _, c := range conds {
		in.conditions = append(in.conditions, c.Proto().(*condpb.Condition))
	}
	procs, err := b.records.Search(ctx, "Procedure", q)
	if err != nil {
		return fmt.Errorf("search procedures of Encounter/%s: %w", in.encID, err)
	}
	for _, p := range procs {
		in.procedures = append(in.procedures, p.Proto().(*procpb.Procedure))
	}
	sort.Slice(in.conditions, func(i, j int) bool {
		return in.conditions[i].GetId().GetValue() < in.conditions[j].GetId().GetValue()
	})
	sort.Slice(in.procedures, func(i, j int) bool {
		return in.procedures[i].GetId().GetValue() < in.procedures[j].GetId().GetValue()
	})
	return nil
}

// leaveOutOtherPatients leaves out of billing a Condition or Procedure of
// another patient than the Encounter's, one whose encounter is this
// Encounter or one Encounter.diagnosis names, with an informational note
// naming it by id (ids only: nothing of another patient's record goes
// into this one's bill). It is never billed: a diagnosis of another
// patient on a Claim discloses it to the wrong insurer, and a service of
// another patient bills the wrong person. Nor does it hold up the
// visit's billing: any patient's app may write a Condition of its own
// naming any Encounter. It reads the Conditions Encounter.diagnosis names
// that the search did not find into in.diagnosed.
func (b *Biller) leaveOutOtherPatients(ctx context.Context, in *inputs) error {
	in.otherPatients = map[string]bool{}
	leaveOut := func(expression, ref string) {
		in.otherPatients[ref] = true
		in.notes = append(in.notes, resource.Issue{
			Severity: resource.SeverityInformation, Code: resource.IssueInformational,
			Expression: []string{expression},
			Diagnostics: fmt.Sprintf("%s is another patient's than the Encounter's (its subject): "+
				"it is left out of billing", ref),
		})
	}
	conds := in.conditions[:0]
	for _, c := range in.conditions {
		if in.ownSubject(c.GetSubject()) {
			conds = append(conds, c)
		} else {
			leaveOut("Condition.subject", "Condition/"+c.GetId().GetValue())
		}
	}
	in.conditions = conds
	procs := in.procedures[:0]
	for _, p := range in.procedures {
		if in.ownSubject(p.GetSubject()) {
			procs = append(procs, p)
		} else {
			leaveOut("Procedure.subject", "Procedure/"+p.GetId().GetValue())
		}
	}
	in.procedures = procs

	found := make(map[string]bool, len(in.conditions))
	for _, c := range in.conditions {
		found[c.GetId().GetValue()] = true
	}
	in.diagnosed = map[string]*condpb.Condition{}
	for i, d := range in.enc.GetDiagnosis() {
		id := refID(d.GetCondition(), "Condition")
		if _, read := in.diagnosed[id]; id == "" || found[id] || read || in.otherPatients["Condition/"+id] {
			continue
		}
		r, _, err := b.records.Read(ctx, "Condition", id)
		switch {
		case errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted):
			in.diagnosed[id] = nil
		case err != nil:
			return readError("Condition", id, err)
		case !in.ownSubject(r.Proto().(*condpb.Condition).GetSubject()):
			leaveOut(fmt.Sprintf("Encounter.diagnosis[%d].condition", i), "Condition/"+id)
		default:
			in.diagnosed[id] = r.Proto().(*condpb.Condition)
		}
	}
	return nil
}

// ownSubject reports whether subject is the Encounter's patient.
func (in *inputs) ownSubject(subject *dtpb.Reference) bool {
	id := refID(subject, "Patient")
	return id != "" && "Patient/"+id == in.patient
}

// loadCoverage chooses the patient's Coverage: among the active ones whose
// period covers the date of service, the lowest order (none counts as
// last), then the lowest id. None means self-pay. Its payer is resolved by
// coveragePayer.
func (b *Biller) loadCoverage(ctx context.Context, in *inputs) error {
	q := url.Values{"beneficiary": {in.patient}, "status": {"active"}}
	rs, err := b.records.Search(ctx, "Coverage", q)
	if err != nil {
		return fmt.Errorf("search coverage of Encounter/%s: %w", in.encID, err)
	}
	var best *covpb.Coverage
	for _, r := range rs {
		c := r.Proto().(*covpb.Coverage)
		if !covers(c.GetPeriod(), in.dos) {
			continue
		}
		if best == nil || coverageBefore(c, best) {
			best = c
		}
	}
	if best == nil {
		return nil
	}
	// TODO(#7): only this Coverage is billed; a secondary one (dual eligible: Medicaid) is not applied.
	in.coverage = best
	payer, err := b.coveragePayer(ctx, best)
	in.payer = payer
	return err
}

// coveragePayer resolves the payer of a Coverage: its first payor that
// references an Organization; else its first payor given only by
// identifier (a logical reference, as EHR registration data often names
// a payer), which must be carried by exactly one Organization.
func (b *Biller) coveragePayer(ctx context.Context, c *covpb.Coverage) (string, error) {
	for _, p := range c.GetPayor() {
		if id := refID(p, "Organization"); id != "" {
			return "Organization/" + id, nil
		}
	}
	covID := c.GetId().GetValue()
	for i, p := range c.GetPayor() {
		sys, val := p.GetIdentifier().GetSystem().GetValue(), p.GetIdentifier().GetValue().GetValue()
		typ := p.GetType().GetValue()
		if refString(p) != "" || sys == "" || val == "" || typ != "" && typ != "Organization" {
			continue
		}
		rs, err := b.records.Search(ctx, "Organization", url.Values{
			"identifier": {escapeSearch(sys) + "|" + escapeSearch(val)}})
		if err != nil {
			return "", fmt.Errorf("search the payor of Coverage/%s: %w", covID, err)
		}
		expr := fmt.Sprintf("Coverage.payor[%d].identifier", i)
		switch len(rs) {
		case 1:
			return "Organization/" + rs[0].ID(), nil
		case 0:
			return "", unprocessable(expr, "Coverage/%s names its payor by an identifier "+
				"that no Organization carries", covID)
		}
		return "", unprocessable(expr, "Coverage/%s names its payor by an identifier that "+
			"%d Organizations carry", covID, len(rs))
	}
	return "", unprocessable("Coverage.payor",
		"Coverage/%s needs a payor Organization to be billed", covID)
}

func coverageBefore(a, b *covpb.Coverage) bool {
	ao, bo := a.GetOrder(), b.GetOrder()
	switch {
	case ao != nil && bo == nil:
		return true
	case ao == nil && bo != nil:
		return false
	case ao != nil && ao.GetValue() != bo.GetValue():
		return ao.GetValue() < bo.GetValue()
	}
	return a.GetId().GetValue() < b.GetId().GetValue()
}

// loadBilled reads what an earlier billing stored: the Invoice to write
// (the first revision that is not cancelled) and the ChargeItems its
// revisions name, on their lines and in their not-billed extensions:
// every ChargeItem billing stored for the Encounter, since it stores them
// with the Invoice in one commit. They are read by id, never searched
// for (DESIGN.md, "Storage model": re-billing is lookups by _id).
func (b *Biller) loadBilled(ctx context.Context, in *inputs) error {
	base := invoiceBaseID(in.encID)
	var named []string
	for rev := 1; ; rev++ {
		id := base
		if rev > 1 {
			id = base + "-r" + strconv.Itoa(rev)
		}
		r, v, err := b.records.Read(ctx, "Invoice", id)
		switch {
		case errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted):
			in.invoiceID, in.invoice = id, stored{version: v}
			if errors.Is(err, resource.ErrNotFound) {
				in.invoice.version = 0
			}
		case err != nil:
			return readError("Invoice", id, err)
		case r.Proto().(*invpb.Invoice).GetStatus().GetValue() == cpb.InvoiceStatusCode_CANCELLED &&
			rev < maxRevisions:
			in.cancelled = id
			named = append(named, invoiceChargeItems(r.Proto().(*invpb.Invoice))...)
			continue
		default:
			in.invoiceID, in.invoice = id, stored{res: r, version: v}
			named = append(named, invoiceChargeItems(r.Proto().(*invpb.Invoice))...)
		}
		break
	}
	in.chargeItems = map[string]stored{}
	return b.readChargeItems(ctx, in, named)
}

// invoiceChargeItems lists the ChargeItems an Invoice names: those of its
// lines, then those of its not-billed extensions.
func invoiceChargeItems(inv *invpb.Invoice) []string {
	var ids []string
	for _, li := range inv.GetLineItem() {
		if id := refID(li.GetChargeItem().GetReference(), "ChargeItem"); id != "" {
			ids = append(ids, id)
		}
	}
	for _, e := range extensions(inv.GetExtension(), ExtNotBilled) {
		if id := refID(e.GetValue().GetReference(), "ChargeItem"); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// readChargeItems reads the ChargeItems ids of the Encounter into
// in.chargeItems, skipping those read already and those that do not
// exist or belong to another Encounter. A deleted one is kept without
// resource, with the version of its delete, so that billing writes over
// it.
func (b *Biller) readChargeItems(ctx context.Context, in *inputs, ids []string) error {
	for _, id := range ids {
		if _, ok := in.chargeItems[id]; ok {
			continue
		}
		r, v, err := b.records.Read(ctx, "ChargeItem", id)
		switch {
		case errors.Is(err, resource.ErrDeleted):
			in.chargeItems[id] = stored{version: v}
			continue
		case errors.Is(err, resource.ErrNotFound):
			continue
		case err != nil:
			return readError("ChargeItem", id, err)
		}
		if refID(r.Proto().(*cipb.ChargeItem).GetContext(), "Encounter") != in.encID {
			continue
		}
		in.chargeItems[id] = stored{res: r, version: v}
	}
	return nil
}

// invoiceBaseID is the id of an Encounter's Invoice to its patient:
// "<encounter id>-patient", or a hash when that is too long. Revisions
// after a cancellation append "-r2", "-r3"...
func invoiceBaseID(encID string) string {
	return readableID(encID+"-patient", 56, "inv-")
}

// frozen reports whether the Invoice is past draft: billing leaves it.
func (in *inputs) frozen() bool {
	if in.invoice.res == nil {
		return false
	}
	s := in.invoice.res.Proto().(*invpb.Invoice).GetStatus().GetValue()
	return s != cpb.InvoiceStatusCode_DRAFT
}

// frozen returns an issued or balanced Invoice as it is, with its
// ChargeItems, and a note saying why nothing changed.
func (b *Biller) frozen(_ context.Context, in *inputs) (*Result, error) {
	inv := in.invoice.res.Proto().(*invpb.Invoice)
	res := &Result{Invoice: in.invoice.res}
	for _, li := range inv.GetLineItem() {
		id := refID(li.GetChargeItem().GetReference(), "ChargeItem")
		if s := in.chargeItems[id]; s.res != nil {
			res.ChargeItems = append(res.ChargeItems, s.res)
		}
	}
	status := inv.GetStatus().GetValue().String()
	res.Notes = append(res.Notes, resource.Issue{
		Severity: resource.SeverityInformation, Code: resource.IssueInformational,
		Expression: []string{"Invoice.status"},
		Diagnostics: fmt.Sprintf("Invoice/%s is no longer a draft (%s): billing left it unchanged; "+
			"cancel it to bill the Encounter again", in.invoiceID, codeString(status)),
	})
	return res, nil
}

// cutRef splits "Type/id".
func cutRef(ref string) (typ, id string, ok bool) {
	for i := 0; i < len(ref); i++ {
		if ref[i] == '/' {
			return ref[:i], ref[i+1:], true
		}
	}
	return "", ref, false
}

// chargeItemOf returns the ChargeItem proto of s, or nil.
func chargeItemOf(s stored) *cipb.ChargeItem {
	if s.res == nil {
		return nil
	}
	return s.res.Proto().(*cipb.ChargeItem)
}
