package billing

import (
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	cidpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/charge_item_definition_go_proto"
	cipb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/charge_item_go_proto"
)

// chargeItems builds one ChargeItem per line, in line order. Amounts are
// not written on the ChargeItem (priceOverride and factorOverride are left
// to people overriding a price): the Invoice line carries them, and the
// pricing-trail extension says how they were computed.
func (b *Biller) chargeItems(in *inputs, lines []*line) ([]*resource.Resource, error) {
	entered := dateTime(b.now())
	out := make([]*resource.Resource, 0, len(lines))
	for _, l := range lines {
		ci := &cipb.ChargeItem{
			Id:                     &dtpb.Id{Value: l.id},
			Status:                 &cipb.ChargeItem_StatusCode{Value: cpb.ChargeItemStatusCode_BILLABLE},
			Code:                   lineConcept(l),
			Subject:                refTo(in.patient),
			Context:                refTo("Encounter/" + in.encID),
			Occurrence:             proto.Clone(l.occurrence).(*cipb.ChargeItem_OccurrenceX),
			PerformingOrganization: refTo(in.providerRef),
			Quantity:               &dtpb.Quantity{Value: &dtpb.Decimal{Value: "1"}},
			EnteredDate:            entered,
		}
		if l.performer != nil {
			ci.Performer = []*cipb.ChargeItem_Performer{{Actor: proto.Clone(l.performer).(*dtpb.Reference)}}
		}
		// The first time billing stored the ChargeItem dates it; later
		// billings keep that date so the same inputs give the same bytes.
		if old := chargeItemOf(in.chargeItems[l.id]); old != nil && old.GetEnteredDate() != nil {
			ci.EnteredDate = old.GetEnteredDate()
		}
		for _, d := range l.reasons {
			ci.Reason = append(ci.Reason, concept(proto.Clone(d.code).(*dtpb.Coding)))
		}
		if l.procedure != nil {
			ci.Service = []*dtpb.Reference{refTo(l.source)}
		}
		if l.definition != nil {
			setDefinition(ci, l.definition)
		}
		ci.Extension = modifierExts(l.modifiers)
		if len(l.trail) > 0 {
			ci.Extension = append(ci.Extension, stringExt(ExtPricingTrail, strings.Join(l.trail, "; ")))
		}
		if !l.billable() {
			ci.Status.Value = cpb.ChargeItemStatusCode_NOT_BILLABLE
			ci.Note = []*dtpb.Annotation{{Text: &dtpb.Markdown{Value: "Not billed: " + l.notBillable}}}
		}
		r, err := resource.FromProto(ci)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// lineConcept is the ChargeItem's code: the billing code first, then the
// other codings and the text of the concept the service came with. An
// uncoded service keeps its concept as it came, or "not coded".
func lineConcept(l *line) *dtpb.CodeableConcept {
	cc := &dtpb.CodeableConcept{}
	if l.code != nil {
		cc.Coding = append(cc.Coding, coding(l.code.GetSystem().GetValue(), l.code.GetCode().GetValue(),
			l.code.GetDisplay().GetValue()))
	}
	for _, c := range l.concept.GetCoding() {
		if l.code != nil && c.GetSystem().GetValue() == l.code.GetSystem().GetValue() &&
			c.GetCode().GetValue() == l.code.GetCode().GetValue() {
			continue
		}
		cc.Coding = append(cc.Coding, proto.Clone(c).(*dtpb.Coding))
	}
	if t := l.concept.GetText(); t != nil {
		cc.Text = proto.Clone(t).(*dtpb.String)
	}
	if len(cc.Coding) == 0 && cc.Text == nil {
		cc.Text = &dtpb.String{Value: "not coded"}
	}
	return cc
}

// setDefinition names the price list entry the line was priced from: its
// canonical URL (with "|version") when it has one, else its literal
// reference as definitionUri.
func setDefinition(ci *cipb.ChargeItem, d *cidpb.ChargeItemDefinition) {
	if u := d.GetUrl().GetValue(); u != "" {
		if v := d.GetVersion().GetValue(); v != "" {
			u += "|" + v
		}
		ci.DefinitionCanonical = []*dtpb.Canonical{{Value: u}}
		return
	}
	ci.DefinitionUri = []*dtpb.Uri{{Value: definitionName(d)}}
}

// staleChargeItems returns the Encounter's ChargeItems that an earlier
// billing stored (their ids are derived, "ci-...") and this one no longer
// produces, marked entered-in-error: the service went
// away or its code or modifiers changed.
func staleChargeItems(in *inputs, items []*resource.Resource) ([]Change, error) {
	now := map[string]bool{}
	for _, r := range items {
		now[r.ID()] = true
	}
	var out []Change
	for id, s := range in.chargeItems {
		ci := chargeItemOf(s)
		if now[id] || ci == nil || !strings.HasPrefix(id, "ci-") ||
			ci.GetStatus().GetValue() == cpb.ChargeItemStatusCode_ENTERED_IN_ERROR {
			continue
		}
		c := proto.Clone(ci).(*cipb.ChargeItem)
		c.Status.Value = cpb.ChargeItemStatusCode_ENTERED_IN_ERROR
		r, err := resource.FromProto(c)
		if err != nil {
			return nil, err
		}
		out = append(out, Change{Resource: r, Prev: s.version})
	}
	sortChanges(out)
	return out, nil
}
