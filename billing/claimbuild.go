package billing

import (
	"context"

	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/proto"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
)

// assembleClaim builds the Claim of ci, status unset:
//
//   - type professional, use claim, priority normal; patient, billing
//     provider (the Invoice's issuer), insurer (the Coverage's payor, as
//     billing resolves it: a reference or an identifier),
//     facility (Encounter.location[0]) and billablePeriod (the
//     Encounter's period, by date);
//   - insurance: the Coverages up to the one claimed, in order, that one
//     focal; those before it name their adjudicated ClaimResponse;
//   - careTeam: each line's performer once (the rendering provider, role
//     primary), by reference: the scrubber reads its NPI from the
//     Practitioner the server holds;
//   - diagnosis: the ICD-10-CM codes the lines' ChargeItems give as
//     reasons, in the billing engine's order;
//   - item: one per Invoice line, with its sequence, the ChargeItem's
//     code, modifiers, quantity and date, the place of service, the first
//     four of its reasons as pointers, and as net its gross charge (for a
//     later payer: what the Invoice still leaves to the patient);
//   - total: the sum of the nets;
//   - identifiers: the Claim's own (SystemClaimID), its Encounter's and
//     its Invoice's.
func (b *Biller) assembleClaim(ctx context.Context, ci *claimInputs) (*claimpb.Claim, error) {
	cov := ci.coverages[ci.focal]
	id := claimID(ci.encID, ci.invoiceID, cov.GetId().GetValue())
	c := &claimpb.Claim{
		Id: &dtpb.Id{Value: id},
		Identifier: []*dtpb.Identifier{
			identifier(SystemClaimID, id),
			identifier(SystemEncounterID, ci.encID),
			identifier(SystemInvoiceID, ci.invoiceID),
		},
		Type:     concept(coding(SystemClaimType, "professional", "Professional")),
		Use:      &claimpb.Claim_UseCode{Value: cpb.UseCode_CLAIM},
		Patient:  refTo(ci.patient),
		Created:  dateTime(b.now()),
		Insurer:  refTo(ci.insurer),
		Provider: refTo(ci.providerRef),
		Priority: concept(coding(SystemPriority, "normal", "Normal")),
	}
	c.BillablePeriod = &dtpb.Period{Start: dateOnly(ci.dos), End: dateOnly(ci.dos)}
	if end, ok := dayOf(ci.enc.GetPeriod().GetEnd()); ok && end.After(ci.dos) {
		c.BillablePeriod.End = dateOnly(end)
	}
	if ci.location != nil {
		c.Facility = refTo("Location/" + ci.location.GetId().GetValue())
	}
	for i, cv := range ci.coverages[:ci.focal+1] {
		in := &claimpb.Claim_Insurance{
			Sequence: &dtpb.PositiveInt{Value: uint32(i + 1)},
			Focal:    &dtpb.Boolean{Value: i == ci.focal},
			Coverage: refTo("Coverage/" + cv.GetId().GetValue()),
		}
		if i < ci.focal {
			in.ClaimResponse = refTo("ClaimResponse/" + ci.responses[i])
		}
		c.Insurance = append(c.Insurance, in)
	}

	dx, err := b.claimDiagnoses(ctx, ci)
	if err != nil {
		return nil, err
	}
	for i, d := range dx {
		c.Diagnosis = append(c.Diagnosis, &claimpb.Claim_Diagnosis{
			Sequence: &dtpb.PositiveInt{Value: uint32(i + 1)},
			Diagnosis: &claimpb.Claim_Diagnosis_DiagnosisX{Choice: &claimpb.Claim_Diagnosis_DiagnosisX_CodeableConcept{
				CodeableConcept: concept(proto.Clone(d).(*dtpb.Coding))}},
		})
	}

	pos, _ := placeOfService(ci.enc, ci.location)
	team := map[string]uint32{}
	total := decimal.Zero
	for _, l := range ci.lines {
		code := l.code()
		it := &claimpb.Claim_Item{
			Sequence: &dtpb.PositiveInt{Value: l.sequence},
			ProductOrService: concept(coding(code.GetSystem().GetValue(), code.GetCode().GetValue(),
				code.GetDisplay().GetValue())),
			Serviced: &claimpb.Claim_Item_ServicedX{Choice: &claimpb.Claim_Item_ServicedX_Date{
				Date: dateOf(l.date(ci.dos))}},
			Location: &claimpb.Claim_Item_LocationX{Choice: &claimpb.Claim_Item_LocationX_CodeableConcept{
				CodeableConcept: concept(coding(SystemPOS, pos, ""))}},
			Encounter: []*dtpb.Reference{refTo("Encounter/" + ci.encID)},
		}
		if ps := l.ci.GetPerformer(); len(ps) > 0 && refString(ps[0].GetActor()) != "" {
			ref := refString(ps[0].GetActor())
			seq, ok := team[ref]
			if !ok {
				seq = uint32(len(c.CareTeam) + 1)
				team[ref] = seq
				c.CareTeam = append(c.CareTeam, &claimpb.Claim_CareTeam{
					Sequence: &dtpb.PositiveInt{Value: seq},
					Provider: refTo(ref),
					Role:     concept(coding(SystemCareTeamRole, "primary", "Primary provider")),
				})
			}
			it.CareTeamSequence = []*dtpb.PositiveInt{{Value: seq}}
		}
		for _, m := range modifiersOf(l.ci.GetExtension()) {
			it.Modifier = append(it.Modifier, concept(proto.Clone(m).(*dtpb.Coding)))
		}
		for _, r := range l.ci.GetReason() {
			rc := codingIn(r, SystemICD10CM)
			if rc == nil || len(it.DiagnosisSequence) == maxPointers {
				continue
			}
			for i, d := range dx {
				if d.GetCode().GetValue() == rc.GetCode().GetValue() {
					it.DiagnosisSequence = append(it.DiagnosisSequence, &dtpb.PositiveInt{Value: uint32(i + 1)})
				}
			}
		}

		qty := decimal.NewFromInt(1)
		if q, ok := parseDecimal(l.ci.GetQuantity().GetValue()); ok && q.Sign() > 0 {
			qty = q
		}
		net := l.gross()
		if ci.focal > 0 {
			net = l.owed()
		}
		it.Quantity = &dtpb.SimpleQuantity{Value: &dtpb.Decimal{Value: qty.String()}}
		it.UnitPrice = money(RoundCent(net.Div(qty)), b.currency)
		it.Net = money(net, b.currency)
		total = total.Add(net)
		c.Item = append(c.Item, it)
	}
	c.Total = money(total, b.currency)
	return c, nil
}

// claimDiagnoses lists the ICD-10-CM codes the lines give as reasons, in
// the order billing ranks the Encounter's diagnoses (Encounter.diagnosis
// rank, then billing role, then the others), then any other reason code
// in the order the lines give it.
func (b *Biller) claimDiagnoses(ctx context.Context, ci *claimInputs) ([]*dtpb.Coding, error) {
	used := map[string]*dtpb.Coding{}
	var order []string
	for _, l := range ci.lines {
		for _, r := range l.ci.GetReason() {
			if c := codingIn(r, SystemICD10CM); c != nil && used[c.GetCode().GetValue()] == nil {
				used[c.GetCode().GetValue()] = c
				order = append(order, c.GetCode().GetValue())
			}
		}
	}
	ranked, err := b.diagnoses(ctx, ci.inputs, newTranslator(b.records))
	if err != nil {
		return nil, err
	}
	var out []*dtpb.Coding
	done := map[string]bool{}
	for _, d := range ranked {
		k := d.code.GetCode().GetValue()
		if used[k] != nil && !done[k] {
			done[k] = true
			out = append(out, used[k])
		}
	}
	for _, k := range order {
		if !done[k] {
			done[k] = true
			out = append(out, used[k])
		}
	}
	return out, nil
}

// identifier builds an Identifier.
func identifier(system, value string) *dtpb.Identifier {
	return &dtpb.Identifier{System: &dtpb.Uri{Value: system}, Value: &dtpb.String{Value: value}}
}
