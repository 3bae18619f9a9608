package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/smart"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
	encpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/encounter_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"
	patpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
)

// The demo's tokens: billing staff reading everything, and a SMART app
// launched for one patient. The signing key is made at start, so they
// are valid only while the demo runs.
const (
	demoStaffSubject   = "demo-billing-staff"
	demoStaffScope     = "system/*.read"
	demoPatientSubject = "demo-patient-app"
	demoPatientScope   = "launch/patient patient/*.rs"
)

// demoRun is what the demo did, for its summary.
type demoRun struct {
	base, ehrBase string
	seeded        seedCounts
	sync          *ehr.Summary
	visits        []*demoVisit // in the EHR's Encounter id order

	staffToken   string
	patientToken string
	tokenFor     *demoVisit // a visit of the patient the patient token is for

	logPath, dataDir string
}

// demoVisit is what billing made of one sample Encounter.
type demoVisit struct {
	encounter string // ids in fhirbill
	patient   string
	invoice   string
	name      string // the (fictional) patient's name
	day       string // the date of service
	lines     *reportInvoice
	notBilled []billing.Unbilled
	payer     string // the payer's name, or self-pay
	insurer   string // Organization/<id>; "" for self-pay
	claim     string // Claim id; "" with none
	claimInfo string // its status and edits, or why there is none
}

// runDemo loads the reference data, pulls the EHR (which bills what it
// pulls), bills each Encounter again to read what billing made (billing
// again with the same inputs stores nothing), builds the Claims and
// mints the tokens. The sample data is the demo's own, so a resource the
// sync skips, or billing that bills nothing, is a bug: the demo fails at
// once and says why, rather than serving a partial demo. stdout gets
// what it waits for.
func runDemo(
	ctx context.Context,
	stdout io.Writer,
	a *app,
	e *demoEHR,
	reference []byte,
) (*demoRun, error) {
	r := &demoRun{base: a.base, ehrBase: e.srv.Base()}
	var err error
	if r.seeded, err = loadSeed(ctx, a.api, reference); err != nil {
		return nil, fmt.Errorf("sample reference data: %w", err)
	}
	if r.sync, err = syncDemo(ctx, a.syncer, stdout); err != nil {
		return nil, err
	}
	if err := checkDemoSync(ctx, a, e, r.sync); err != nil {
		return nil, err
	}

	lines := 0
	for _, enc := range e.encounters() {
		v, err := visitOf(ctx, a, enc)
		if err != nil {
			return nil, err
		}
		r.visits = append(r.visits, v)
		lines += len(v.lines.lines)
	}
	if lines == 0 {
		return nil, fmt.Errorf("the demo billed nothing: none of the %d sample visits' Invoices "+
			"has a line (does the sample reference data price their services?)", len(r.visits))
	}

	// The patient token is for the patient with the most visits.
	count := map[string]int{}
	for _, v := range r.visits {
		if count[v.patient]++; r.tokenFor == nil || count[v.patient] > count[r.tokenFor.patient] {
			r.tokenFor = v
		}
	}
	if r.staffToken, err = a.auth.IssueToken(ctx, smart.TokenRequest{
		Subject: demoStaffSubject, Scope: demoStaffScope, TTL: smart.MaxIssueTTL}); err != nil {
		return nil, err
	}
	if r.patientToken, err = a.auth.IssueToken(ctx, smart.TokenRequest{Subject: demoPatientSubject,
		Scope: demoPatientScope, Patient: r.tokenFor.patient, TTL: smart.MaxIssueTTL}); err != nil {
		return nil, err
	}
	return r, nil
}

// demoLeaseWait bounds how long the demo waits for the lease of a sync
// that a demo stopped mid-sync left behind (it expires within two
// minutes; no other process can hold the demo's store meanwhile).
const demoLeaseWait = 3 * time.Minute

// syncDemo pulls the demo's EHR once, waiting, at most demoLeaseWait and
// no longer than ctx, for a lease left behind.
func syncDemo(ctx context.Context, s *ehr.Syncer, stdout io.Writer) (*ehr.Summary, error) {
	deadline := time.Now().Add(demoLeaseWait)
	for waited := false; ; waited = true {
		sum, err := s.Sync(ctx, demoConnection, nil)
		if !errors.Is(err, ehr.ErrBusy) {
			return sum, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: the lease of an earlier sync of the demo's store "+
				"did not expire in %s", err, demoLeaseWait)
		}
		if !waited {
			fmt.Fprintf(stdout, "fhirbill demo: an earlier demo stopped mid-sync left its lease; "+
				"waiting up to %s for it to expire (Ctrl-C stops)...\n", demoLeaseWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

// demoSkipsShown bounds the skips a failed demo lists.
const demoSkipsShown = 20

// checkDemoSync fails when the sync skipped anything, or when one of the
// sample EHR's Encounters is not in fhirbill's store: every resource of
// the sample data must arrive, and every visit be billed.
func checkDemoSync(ctx context.Context, a *app, e *demoEHR, sum *ehr.Summary) error {
	if n := len(sum.Skipped); n > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "the sync skipped %d of the sample EHR's resources, which are "+
			"the demo's own data: a bug in testdata/demo or in fhirbill. Skipped:", n)
		for i, sk := range sum.Skipped {
			if i == demoSkipsShown {
				fmt.Fprintf(&b, "\n  ... and %d more", n-i)
				break
			}
			fmt.Fprintf(&b, "\n  %s: %s", sk.Ref, sk.Reason)
		}
		return errors.New(b.String())
	}
	for _, id := range e.srv.IDs("Encounter") {
		local := ehr.LocalID(demoConnection, "Encounter", id)
		_, _, err := a.api.ReadResource(ctx, "Encounter", local)
		if errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted) {
			return fmt.Errorf("the sample EHR's Encounter/%s is not in fhirbill's store "+
				"(Encounter/%s) after the sync; run the demo again with --reset", id, local)
		}
		if err != nil {
			return fmt.Errorf("read Encounter/%s: %w", local, err)
		}
	}
	return nil
}

// visitOf bills the Encounter enc, reads its Invoice, patient and date,
// and builds its Claim when the patient is insured.
func visitOf(ctx context.Context, a *app, enc string) (*demoVisit, error) {
	res, err := a.biller.Bill(ctx, enc)
	if err != nil {
		return nil, fmt.Errorf("bill Encounter/%s: %w", enc, err)
	}
	inv := res.Invoice.Proto().(*invpb.Invoice)
	v := &demoVisit{encounter: enc, invoice: res.Invoice.ID(), notBilled: res.NotBilled,
		patient: strings.TrimPrefix(resource.ReferenceString(inv.GetSubject()), "Patient/")}
	if v.lines, err = readInvoice(inv); err != nil {
		return nil, err
	}

	p, _, err := a.api.ReadResource(ctx, "Patient", v.patient)
	if err != nil {
		return nil, fmt.Errorf("read Patient/%s: %w", v.patient, err)
	}
	if ns := p.Proto().(*patpb.Patient).GetName(); len(ns) > 0 {
		var parts []string
		for _, g := range ns[0].GetGiven() {
			parts = append(parts, g.GetValue())
		}
		v.name = strings.Join(append(parts, ns[0].GetFamily().GetValue()), " ")
	}
	er, _, err := a.api.ReadResource(ctx, "Encounter", enc)
	if err != nil {
		return nil, fmt.Errorf("read Encounter/%s: %w", enc, err)
	}
	v.day = dateOf(er.Proto().(*encpb.Encounter).GetPeriod().GetStart())

	if v.lines.account == "" {
		v.payer, v.claimInfo = selfPay, "no claim: self-pay"
		return v, nil
	}
	return v, buildDemoClaim(ctx, a, v)
}

// buildDemoClaim builds the visit's Claim to the patient's primary Coverage.
func buildDemoClaim(ctx context.Context, a *app, v *demoVisit) error {
	cr, err := a.biller.BuildClaim(ctx, v.encounter, "")
	var re *resource.Error
	if errors.As(err, &re) && re.Status == http.StatusUnprocessableEntity && len(re.Issues) > 0 {
		v.payer, v.claimInfo = "?", "no claim: "+re.Issues[0].Diagnostics
		return nil
	}
	if err != nil {
		return fmt.Errorf("claim Encounter/%s: %w", v.encounter, err)
	}
	c := cr.Claim.Proto().(*claimpb.Claim)
	v.claim, v.insurer = cr.Claim.ID(), resource.ReferenceString(c.GetInsurer())
	v.claimInfo = fmt.Sprintf("%s, total %s", codeText(c.GetStatus().GetValue().String()),
		c.GetTotal().GetValue().GetValue())
	if n := len(cr.Edits); n > 0 {
		v.claimInfo += fmt.Sprintf(", fails %d claim edits (the first: %s)", n, cr.Edits[0].Message)
	}
	v.payer = v.insurer
	if id, ok := strings.CutPrefix(v.insurer, "Organization/"); ok {
		org, _, err := a.api.ReadResource(ctx, "Organization", id)
		if err != nil {
			return fmt.Errorf("read %s: %w", v.insurer, err)
		}
		v.payer = org.Proto().(*orgpb.Organization).GetName().GetValue()
	}
	return nil
}

// dateOf is the date of dt, YYYY-MM-DD, in dt's own time zone.
func dateOf(dt *dtpb.DateTime) string {
	if dt == nil {
		return "?"
	}
	t := time.UnixMicro(dt.GetValueUs()).UTC()
	if tz := dt.GetTimezone(); tz != "" && tz != "Z" && tz != "UTC" {
		if off, err := time.Parse("-07:00", tz); err == nil {
			_, secs := off.Zone()
			t = t.In(time.FixedZone(tz, secs))
		} else if loc, err := time.LoadLocation(tz); err == nil {
			t = t.In(loc)
		}
	}
	return t.Format(time.DateOnly)
}
