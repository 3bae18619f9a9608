package billing

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/billing/pfs"
	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	cidpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/charge_item_definition_go_proto"
	cipb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/charge_item_go_proto"
	procpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/procedure_go_proto"
)

// line is one captured service: the visit or one Procedure, and later its
// prices and cost share.
type line struct {
	visit     bool
	procedure *procpb.Procedure // nil for the visit line
	source    string            // "visit" or "Procedure/<id>", for the ChargeItem id

	concept    *dtpb.CodeableConcept // the coded concept the service came with
	code       *dtpb.Coding          // the billing code (CPT or HCPCS); nil when uncodable
	sourceCode *dtpb.Coding          // the coding it was translated from, or the first coding
	display    string                // code display for the narrative
	modifiers  []*dtpb.Coding        // modifier extensions, in order
	date       day                   // date of service
	occurrence *cipb.ChargeItem_OccurrenceX
	performer  *dtpb.Reference
	reasons    []diagnosis

	// Pricing.
	definition *cidpb.ChargeItemDefinition // the price list entry
	grossExpr  string                      // the element of definition that prices it
	gross      decimal.Decimal
	allowed    decimal.Decimal
	onPFS      bool            // the payer's rule prices the line on the fee schedule
	fee        pfs.Fee         // the Medicare fee, when onPFS
	pfsFactor  decimal.Decimal // the contract's factor of the fee
	trail      []string
	share      Share

	notBillable string // why the line is not billed; "" when it is
	id          string // the ChargeItem id
}

// billable reports whether the line goes on the Invoice.
func (l *line) billable() bool { return l.notBillable == "" }

// skip marks the line not billable, keeping the first reason.
func (l *line) skip(reason string) {
	if l.notBillable == "" {
		l.notBillable = reason
	}
}

// codeKey is the line's code as "system|code".
func (l *line) codeKey() string {
	c := l.code
	if c == nil {
		c = l.sourceCode
	}
	return c.GetSystem().GetValue() + "|" + c.GetCode().GetValue()
}

// capture builds the lines of the Encounter: the visit (from its type or
// service type), then each completed Procedure, with codes, modifiers,
// dates, performers and diagnoses. Procedures that are not completed are
// left out with a note. Lines are ordered by date of service, the visit
// first, then by code.
func (b *Biller) capture(ctx context.Context, in *inputs) ([]*line, error) {
	t := newTranslator(b.records)
	dx, err := b.diagnoses(ctx, in, t)
	if err != nil {
		return nil, err
	}

	var lines []*line
	visitPerformer := encounterPerformer(in)
	if v, err := b.visitLine(ctx, in, t, visitPerformer); err != nil {
		return nil, err
	} else if v != nil {
		v.reasons = dx
		lines = append(lines, v)
	}

	// TODO(#7): code-pair (NCCI) edits are not applied: a service included in another of the day is still a line.
	for _, p := range in.procedures {
		if p.GetStatus().GetValue() != cpb.EventStatusCode_COMPLETED {
			in.notes = append(in.notes, resource.Issue{
				Severity: resource.SeverityInformation, Code: resource.IssueInformational,
				Expression:  []string{"Procedure.status"},
				Diagnostics: fmt.Sprintf("Procedure/%s is not completed: it is not billed", p.GetId().GetValue()),
			})
			continue
		}
		l := &line{procedure: p, source: "Procedure/" + p.GetId().GetValue()}
		mods, err := readModifiers(l.source,
			extAt{"Procedure", p.GetExtension()}, extAt{"Procedure.code", p.GetCode().GetExtension()})
		if err != nil {
			return nil, err
		}
		l.modifiers = mods
		if err := t.billingCode(ctx, l, []*dtpb.CodeableConcept{p.GetCode()}); err != nil {
			return nil, err
		}
		l.date, l.occurrence = procedureDate(p, in)
		l.performer = visitPerformer
		if ps := p.GetPerformer(); len(ps) > 0 && refString(ps[0].GetActor()) != "" {
			l.performer = ps[0].GetActor()
		}
		l.reasons = reasonsFirst(dx, p)
		lines = append(lines, l)
	}

	sort.SliceStable(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if !a.date.Equal(b.date) {
			return a.date.Before(b.date)
		}
		if a.visit != b.visit {
			return a.visit
		}
		if a.codeKey() != b.codeKey() {
			return a.codeKey() < b.codeKey()
		}
		return a.source < b.source
	})
	for _, l := range lines {
		l.id = chargeItemID(in.encID, l)
	}
	return lines, nil
}

// visitLine captures the visit itself, coded from Encounter.type (each in
// order), else Encounter.serviceType. Without either there is no visit
// line, and a note says so.
func (b *Biller) visitLine(
	ctx context.Context,
	in *inputs,
	t *translator,
	performer *dtpb.Reference,
) (*line, error) {
	ccs := in.enc.GetType()
	if len(ccs) == 0 && in.enc.GetServiceType() != nil {
		ccs = []*dtpb.CodeableConcept{in.enc.GetServiceType()}
	}
	if len(ccs) == 0 {
		in.notes = append(in.notes, resource.Issue{
			Severity: resource.SeverityInformation, Code: resource.IssueInformational,
			Expression:  []string{"Encounter.type"},
			Diagnostics: "the Encounter has no type or serviceType: no visit line was billed",
		})
		return nil, nil
	}

	l := &line{visit: true, source: "visit", date: in.dos, performer: performer}
	exts := []extAt{{"Encounter", in.enc.GetExtension()}}
	for i, cc := range ccs {
		path := fmt.Sprintf("Encounter.type[%d]", i)
		if len(in.enc.GetType()) == 0 {
			path = "Encounter.serviceType"
		}
		exts = append(exts, extAt{path, cc.GetExtension()})
	}
	mods, err := readModifiers("Encounter/"+in.encID, exts...)
	if err != nil {
		return nil, err
	}
	l.modifiers = mods
	l.occurrence = &cipb.ChargeItem_OccurrenceX{Choice: &cipb.ChargeItem_OccurrenceX_DateTime{
		DateTime: proto.Clone(in.enc.GetPeriod().GetStart()).(*dtpb.DateTime)}}
	if err := t.billingCode(ctx, l, ccs); err != nil {
		return nil, err
	}
	return l, nil
}

// procedureDate is Procedure.performed[x] (a dateTime, or a Period's
// start), else the Encounter's start.
func procedureDate(p *procpb.Procedure, in *inputs) (day, *cipb.ChargeItem_OccurrenceX) {
	dt := p.GetPerformed().GetDateTime()
	if dt == nil {
		dt = p.GetPerformed().GetPeriod().GetStart()
	}
	if d, ok := dayOf(dt); ok {
		return d, &cipb.ChargeItem_OccurrenceX{Choice: &cipb.ChargeItem_OccurrenceX_DateTime{
			DateTime: proto.Clone(dt).(*dtpb.DateTime)}}
	}
	return in.dos, &cipb.ChargeItem_OccurrenceX{Choice: &cipb.ChargeItem_OccurrenceX_DateTime{
		DateTime: proto.Clone(in.enc.GetPeriod().GetStart()).(*dtpb.DateTime)}}
}

// encounterPerformer is the visit's performer: the Encounter participant
// typed PPRF (primary performer), else ATND (attender), else the first
// participant with an individual; nil when there is none.
func encounterPerformer(in *inputs) *dtpb.Reference {
	parts := in.enc.GetParticipant()
	for _, want := range []string{"PPRF", "ATND"} {
		for _, p := range parts {
			for _, t := range p.GetType() {
				if hasCode(t, SystemPartType, want) && refString(p.GetIndividual()) != "" {
					return p.GetIndividual()
				}
			}
		}
	}
	for _, p := range parts {
		if refString(p.GetIndividual()) != "" {
			return p.GetIndividual()
		}
	}
	return nil
}

// chargeItemID derives a ChargeItem's id from the Encounter, the source
// of the line (the visit or a Procedure), its code and its modifiers.
func chargeItemID(encID string, l *line) string {
	parts := []string{encID, l.source, l.codeKey()}
	parts = append(parts, modifierCodes(l.modifiers)...)
	return derivedID("ci-", parts...)
}

// billingCode sets the line's code from the first of ccs that has a CPT or
// HCPCS coding, else from the first coding a ConceptMap translates to
// CPT or HCPCS. A line that cannot be coded keeps its first coding as
// sourceCode and is not billable; the reason quotes a ConceptMap that
// lists a coding as unmatched, with its comment, when one does.
func (t *translator) billingCode(ctx context.Context, l *line, ccs []*dtpb.CodeableConcept) error {
	unmatched := ""
	for _, cc := range ccs {
		for _, sys := range []string{SystemCPT, SystemHCPCS} {
			if c := codingIn(cc, sys); c != nil {
				l.concept, l.code, l.display = cc, c, c.GetDisplay().GetValue()
				return nil
			}
		}
	}
	for _, cc := range ccs {
		for _, c := range cc.GetCoding() {
			if c.GetCode().GetValue() == "" || c.GetSystem().GetValue() == "" {
				continue
			}
			if l.sourceCode == nil {
				l.sourceCode = c
			}
			a, err := t.lookup(ctx, c.GetSystem().GetValue(), c.GetCode().GetValue(),
				[]string{SystemCPT, SystemHCPCS})
			if err != nil {
				return err
			}
			if unmatched == "" {
				unmatched = a.unmatched
			}
			if ts := a.translations; len(ts) > 0 {
				l.concept, l.sourceCode = cc, c
				l.code = coding(ts[0].System, ts[0].Code, ts[0].Display)
				l.display = ts[0].Display
				if l.display == "" {
					l.display = c.GetDisplay().GetValue()
				}
				return nil
			}
		}
	}
	if len(ccs) > 0 {
		l.concept = ccs[0]
	}
	if l.sourceCode == nil {
		l.sourceCode = &dtpb.Coding{}
		if cs := l.concept.GetCoding(); len(cs) > 0 {
			l.sourceCode = cs[0]
		}
	}
	l.display = l.sourceCode.GetDisplay().GetValue()
	if unmatched != "" {
		l.skip("no CPT or HCPCS code: " + unmatched)
		return nil
	}
	l.skip("no CPT or HCPCS code: the service's code is not CPT or HCPCS and no ConceptMap " +
		"translates it to either")
	return nil
}

// modifierText prints modifier codes for trails and the narrative.
func modifierText(mods []*dtpb.Coding) string {
	return strings.Join(modifierCodes(mods), ", ")
}
