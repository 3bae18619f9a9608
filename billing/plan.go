package billing

import (
	"context"
	"fmt"
	"net/url"
	"sort"

	"github.com/shopspring/decimal"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	covpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/coverage_go_proto"
	ippb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/insurance_plan_go_proto"
)

// This file reads the payer's plan: the cost-sharing terms of a Coverage
// that states none of its own, as EHR registration data often holds a
// Coverage (payer and period, no deductible or copays).

// SystemCoverageClass is the code system of Coverage.class types; billing
// reads the "plan" class.
const SystemCoverageClass = "http://terminology.hl7.org/CodeSystem/coverage-class"

// loadPlan finds the plan of in.coverage when the Coverage has no
// cost-sharing terms of its own: the payer's active InsurancePlans
// (ownedBy the payer) whose period covers the date of service; when the
// Coverage has a class of type "plan", the one whose identifier value is
// that class's value. None found leaves in.plan nil: the Coverage pays
// every allowed amount in full. Several left is a 422, since billing
// cannot tell which applies.
func (b *Biller) loadPlan(ctx context.Context, in *inputs) error {
	if in.coverage == nil || hasCostSharing(in.coverage) {
		return nil
	}
	rs, err := b.records.Search(ctx, "InsurancePlan", url.Values{
		"owned-by": {in.payer}, "status": {"active"}})
	if err != nil {
		return fmt.Errorf("search plans of %s: %w", in.payer, err)
	}
	class := planClass(in.coverage)
	var found []*ippb.InsurancePlan
	for _, r := range rs {
		p := r.Proto().(*ippb.InsurancePlan)
		if refString(p.GetOwnedBy()) != in.payer || !covers(p.GetPeriod(), in.dos) {
			continue
		}
		if class != "" && !hasIdentifierValue(p.GetIdentifier(), class) {
			continue
		}
		found = append(found, p)
	}
	switch len(found) {
	case 0:
		return nil
	case 1:
		in.plan = found[0]
		return nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].GetId().GetValue() < found[j].GetId().GetValue() })
	return unprocessable("Coverage.class", "Coverage/%s states no cost sharing and its payer %s has "+
		"%d InsurancePlans in effect on the date of service (InsurancePlan/%s, InsurancePlan/%s...): "+
		"name one with a Coverage.class of type plan whose value is the plan's identifier",
		in.coverage.GetId().GetValue(), in.payer, len(found),
		found[0].GetId().GetValue(), found[1].GetId().GetValue())
}

// planClass is the value of the Coverage's class of type plan, or "".
func planClass(c *covpb.Coverage) string {
	for _, cl := range c.GetClassValue() {
		if hasCode(cl.GetType(), SystemCoverageClass, "plan") {
			return cl.GetValue().GetValue()
		}
	}
	return ""
}

func hasIdentifierValue(ids []*dtpb.Identifier, value string) bool {
	for _, id := range ids {
		if id.GetValue().GetValue() == value {
			return true
		}
	}
	return false
}

// planBenefits reads the cost-sharing terms of an InsurancePlan's first
// plan: its generalCost entries (cost, Money) and the costs of every
// benefit of its specificCost entries (value, a Quantity), by
// coverage-copay-type code as [readBenefits] explains, general costs
// first. A plan whose status is not active states nothing.
func planBenefits(p *ippb.InsurancePlan, currency string) (Benefits, error) {
	name := "InsurancePlan/" + p.GetId().GetValue()
	if p.GetStatus().GetValue() != cpb.PublicationStatusCode_ACTIVE || len(p.GetPlan()) == 0 {
		return Benefits{Copay: map[string]decimal.Decimal{}}, nil
	}
	pl := p.GetPlan()[0]
	var terms []costTerm
	for i, gc := range pl.GetGeneralCost() {
		entry := fmt.Sprintf("InsurancePlan.plan[0].generalCost[%d]", i)
		terms = append(terms, costTerm{typ: gc.GetType(), money: gc.GetCost(),
			entry: entry, expr: entry + ".cost"})
	}
	for i, sc := range pl.GetSpecificCost() {
		for j, bn := range sc.GetBenefit() {
			for k, c := range bn.GetCost() {
				entry := fmt.Sprintf("InsurancePlan.plan[0].specificCost[%d].benefit[%d].cost[%d]", i, j, k)
				terms = append(terms, costTerm{typ: c.GetType(), qty: fullQuantity(c.GetValue()),
					entry: entry, expr: entry + ".value"})
			}
		}
	}
	return readBenefits(terms, name, "InsurancePlan.plan[0]", currency)
}

// benefits are the cost-sharing terms billing applies to in: the
// Coverage's own, else its plan's, else none (the plan pays every allowed
// amount in full).
func (b *Biller) benefits(in *inputs) (Benefits, error) {
	if in.plan != nil {
		return planBenefits(in.plan, b.currency)
	}
	return benefitsOf(in.coverage, b.currency)
}
