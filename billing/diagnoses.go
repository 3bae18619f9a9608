package billing

import (
	"context"
	"fmt"
	"sort"

	"github.com/fhirbill/fhirbill/fhir/resource"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	condpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/condition_go_proto"
	encpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/encounter_go_proto"
	procpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/procedure_go_proto"
)

// diagnosis is one coded diagnosis of the Encounter.
type diagnosis struct {
	condition string       // the Condition's id
	code      *dtpb.Coding // ICD-10-CM
}

// maxPointers is how many diagnoses a line points at: the first four of
// ChargeItem.reason, as on a CMS-1500 or 837P service line.
const maxPointers = 4

// diagnoses lists the Encounter's diagnoses in billing order:
//
//  1. Encounter.diagnosis entries with a rank, by rank (ties in the order
//     written);
//  2. entries without a rank whose use is "billing" (diagnosis-role), in
//     the order written;
//  3. the other entries, in the order written;
//  4. the Conditions whose encounter is this one and that no entry names,
//     by id.
//
// Each Condition is coded in ICD-10-CM: its own ICD-10-CM coding, else the
// first of its codings a ConceptMap translates to ICD-10-CM. A Condition
// that cannot be coded, does not exist or is entered-in-error is left out
// with a note; a code already listed is not repeated. Another patient's
// Condition is left out: load noted it (leaveOutOtherPatients).
func (b *Biller) diagnoses(ctx context.Context, in *inputs, t *translator) ([]diagnosis, error) {
	byID := make(map[string]*condpb.Condition, len(in.conditions))
	for _, c := range in.conditions {
		byID[c.GetId().GetValue()] = c
	}

	entries := rankDiagnoses(in.enc.GetDiagnosis())
	var ids []string
	named := map[string]bool{}
	for _, e := range entries {
		id := refID(e.GetCondition(), "Condition")
		if id == "" || named[id] {
			continue
		}
		named[id] = true
		ids = append(ids, id)
	}
	for _, c := range in.conditions {
		if id := c.GetId().GetValue(); !named[id] {
			named[id] = true
			ids = append(ids, id)
		}
	}

	var out []diagnosis
	seen := map[string]bool{}
	for _, id := range ids {
		c, ok := byID[id]
		if !ok {
			c = in.diagnosed[id] // read by leaveOutOtherPatients
		}
		if in.otherPatients["Condition/"+id] {
			continue
		}
		if c == nil {
			in.notes = append(in.notes, dxNote(id, "does not exist"))
			continue
		}
		if hasCode(c.GetVerificationStatus(), "http://terminology.hl7.org/CodeSystem/condition-ver-status",
			"entered-in-error") {
			continue
		}
		code, err := t.diagnosisCode(ctx, c.GetCode())
		if err != nil {
			return nil, err
		}
		if code == nil {
			in.notes = append(in.notes, dxNote(id,
				"has no ICD-10-CM code and no ConceptMap translates its code to ICD-10-CM"))
			continue
		}
		k := code.GetCode().GetValue()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, diagnosis{condition: id, code: code})
	}
	return out, nil
}

// rankDiagnoses orders Encounter.diagnosis entries as diagnoses explains.
func rankDiagnoses(ds []*encpb.Encounter_Diagnosis) []*encpb.Encounter_Diagnosis {
	group := func(d *encpb.Encounter_Diagnosis) int {
		switch {
		case d.GetRank() != nil:
			return 0
		case hasCode(d.GetUse(), SystemDxRole, "billing"):
			return 1
		}
		return 2
	}
	out := append([]*encpb.Encounter_Diagnosis(nil), ds...)
	sort.SliceStable(out, func(i, j int) bool {
		gi, gj := group(out[i]), group(out[j])
		if gi != gj {
			return gi < gj
		}
		return gi == 0 && out[i].GetRank().GetValue() < out[j].GetRank().GetValue()
	})
	return out
}

// diagnosisCode returns the ICD-10-CM coding of cc, else the translation
// of its first coding a ConceptMap maps to ICD-10-CM, else nil.
func (t *translator) diagnosisCode(ctx context.Context, cc *dtpb.CodeableConcept) (*dtpb.Coding, error) {
	if c := codingIn(cc, SystemICD10CM); c != nil {
		return coding(SystemICD10CM, c.GetCode().GetValue(), c.GetDisplay().GetValue()), nil
	}
	for _, c := range cc.GetCoding() {
		if c.GetSystem().GetValue() == "" || c.GetCode().GetValue() == "" {
			continue
		}
		ts, err := t.translate(ctx, c.GetSystem().GetValue(), c.GetCode().GetValue(),
			[]string{SystemICD10CM})
		if err != nil {
			return nil, err
		}
		if len(ts) > 0 {
			return coding(ts[0].System, ts[0].Code, ts[0].Display), nil
		}
	}
	return nil, nil
}

// reasonsFirst returns dx with the diagnoses a Procedure names in its
// reasonReference moved to the front (keeping their order in dx), so that
// the procedure's line points at why it was done first.
func reasonsFirst(dx []diagnosis, p *procpb.Procedure) []diagnosis {
	named := map[string]bool{}
	for _, r := range p.GetReasonReference() {
		if id := refID(r, "Condition"); id != "" {
			named[id] = true
		}
	}
	if len(named) == 0 {
		return dx
	}
	out := make([]diagnosis, 0, len(dx))
	for _, d := range dx {
		if named[d.condition] {
			out = append(out, d)
		}
	}
	for _, d := range dx {
		if !named[d.condition] {
			out = append(out, d)
		}
	}
	return out
}

func dxNote(id, what string) resource.Issue {
	return resource.Issue{
		Severity: resource.SeverityInformation, Code: resource.IssueInformational,
		Expression:  []string{"Encounter.diagnosis"},
		Diagnostics: fmt.Sprintf("Condition/%s %s: it is not listed as a diagnosis", id, what),
	}
}
