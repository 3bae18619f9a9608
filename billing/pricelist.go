package billing

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	cidpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/charge_item_definition_go_proto"
)

// This file reads ChargeItemDefinitions: the provider's price list (no
// payer context) and payer contracts (a payer context; see doc.go). Any
// of them may be scoped to one billing provider (a venue context), and
// then applies to that provider only, before the unscoped ones.

// payerOf returns the payer a ChargeItemDefinition belongs to: the
// valueReference of a useContext whose code is "program"
// (usage-context-type); "" for the provider's own price list.
func payerOf(d *cidpb.ChargeItemDefinition) string {
	for _, uc := range d.GetUseContext() {
		if uc.GetCode().GetSystem().GetValue() == SystemUsage && uc.GetCode().GetCode().GetValue() == "program" {
			if r := refString(uc.GetValue().GetReference()); r != "" {
				return r
			}
		}
	}
	return ""
}

// venueOf returns the billing provider a ChargeItemDefinition is scoped
// to: the valueReference of a useContext whose code is "venue"
// (usage-context-type); "" for one every provider shares.
func venueOf(d *cidpb.ChargeItemDefinition) string {
	for _, uc := range d.GetUseContext() {
		if uc.GetCode().GetSystem().GetValue() == SystemUsage && uc.GetCode().GetCode().GetValue() == "venue" {
			if r := refString(uc.GetValue().GetReference()); r != "" {
				return r
			}
		}
	}
	return ""
}

// forProvider splits defs into those scoped to the billing provider
// (venue) and those every provider shares, leaving out those of other
// providers.
func forProvider(defs []*cidpb.ChargeItemDefinition, provider string) (own, shared []*cidpb.ChargeItemDefinition) {
	for _, d := range defs {
		switch venueOf(d) {
		case provider:
			own = append(own, d)
		case "":
			shared = append(shared, d)
		}
	}
	return own, shared
}

// selectForProvider is selectDefinition over the definitions scoped to
// the billing provider, else over those every provider shares: the
// provider's own price wins, and the shared list is the fallback.
func selectForProvider(
	defs []*cidpb.ChargeItemDefinition,
	provider string,
	mods []string,
	d day,
) *cidpb.ChargeItemDefinition {
	own, shared := forProvider(defs, provider)
	if def := selectDefinition(own, mods, d); def != nil {
		return def
	}
	return selectDefinition(shared, mods, d)
}

// definitionModifiers reads the modifiers a definition prices (on it or
// its code), a 422 when one cannot be read (see [readModifiers]).
func definitionModifiers(d *cidpb.ChargeItemDefinition) ([]*dtpb.Coding, error) {
	return readModifiers(definitionName(d), extAt{"ChargeItemDefinition", d.GetExtension()},
		extAt{"ChargeItemDefinition.code", d.GetCode().GetExtension()})
}

// definitionName names d in trails: "ChargeItemDefinition/<id>".
func definitionName(d *cidpb.ChargeItemDefinition) string {
	return "ChargeItemDefinition/" + d.GetId().GetValue()
}

// searchDefinitions runs a ChargeItemDefinition search for active ones.
func (b *Biller) searchDefinitions(ctx context.Context, q url.Values) ([]*cidpb.ChargeItemDefinition, error) {
	q.Set("status", "active")
	rs, err := b.records.Search(ctx, "ChargeItemDefinition", q)
	if err != nil {
		return nil, fmt.Errorf("search charge item definitions: %w", err)
	}
	out := make([]*cidpb.ChargeItemDefinition, len(rs))
	for i, r := range rs {
		out[i] = r.Proto().(*cidpb.ChargeItemDefinition)
		// A definition for a code with modifiers whose modifier billing
		// cannot read would price the code without them.
		if _, err := definitionModifiers(out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tokenValue is the search value system|code of c.
func tokenValue(c *dtpb.Coding) string {
	return escapeSearch(c.GetSystem().GetValue()) + "|" + escapeSearch(c.GetCode().GetValue())
}

// selectDefinition picks the definition that prices a code with modifiers
// mods on date d among defs (all for that code):
//
//  1. only definitions whose effectivePeriod covers d (no period: always);
//  2. those whose modifiers (modifier extensions on the definition or its
//     code) are all among mods, preferring the most modifiers: code plus
//     modifiers first, then the code alone (a definition without
//     modifiers);
//  3. then the latest effectivePeriod.start, then the lowest id.
//
// It returns nil when none applies.
func selectDefinition(defs []*cidpb.ChargeItemDefinition, mods []string, d day) *cidpb.ChargeItemDefinition {
	var best *cidpb.ChargeItemDefinition
	bestN := -1
	for _, def := range defs {
		if !covers(def.GetEffectivePeriod(), d) {
			continue
		}
		dm := modifierCodes(modifiersOf(def.GetExtension(), def.GetCode().GetExtension()))
		if !subset(dm, mods) {
			continue
		}
		if best == nil || len(dm) > bestN || len(dm) == bestN && laterDefinition(def, best) {
			best, bestN = def, len(dm)
		}
	}
	return best
}

func subset(sub, set []string) bool {
	for _, s := range sub {
		if !slices.Contains(set, s) {
			return false
		}
	}
	return true
}

// laterDefinition reports whether a wins over b at equal modifiers.
func laterDefinition(a, b *cidpb.ChargeItemDefinition) bool {
	as, aok := dayOf(a.GetEffectivePeriod().GetStart())
	bs, bok := dayOf(b.GetEffectivePeriod().GetStart())
	switch {
	case aok && !bok:
		return true
	case !aok && bok:
		return false
	case aok && !as.Equal(bs):
		return as.After(bs)
	}
	return a.GetId().GetValue() < b.GetId().GetValue()
}

// price is what a definition's price components give.
type price struct {
	amount decimal.Decimal // exact, before rounding
	base   decimal.Decimal
	factor decimal.Decimal // the base component's factor; 1 when absent
	trail  string
	// baseExpr names the first base component with an amount
	// ("ChargeItemDefinition.propertyGroup[0].priceComponent[0].amount").
	baseExpr string
}

// priceOf applies the price components of d: the base amount (the sum of
// the base components' amounts), plus each surcharge, minus each discount,
// a component with a factor instead of an amount being that factor times
// the base. Property groups with an applicability condition are skipped,
// and the definition's own applicability is not evaluated (fhirbill does
// not evaluate FHIRPath or CQL expressions); the trail says so. Tax and
// informational components are not applied. Amounts in another currency
// than currency are a 400. When needBase is false a definition without a
// base amount is accepted (a payer rule that only carries a factor).
func priceOf(d *cidpb.ChargeItemDefinition, currency string, needBase bool) (price, error) {
	p := price{factor: decimal.NewFromInt(1)}
	var notes []string
	if len(d.GetApplicability()) > 0 {
		notes = append(notes, "applicability not evaluated")
	}
	type comp struct {
		pc   *cidpb.ChargeItemDefinition_PropertyGroup_PriceComponent
		expr string
	}
	var comps []comp
	for gi, g := range d.GetPropertyGroup() {
		if len(g.GetApplicability()) > 0 {
			notes = append(notes, fmt.Sprintf("conditional propertyGroup[%d] skipped", gi))
			continue
		}
		for ci, pc := range g.GetPriceComponent() {
			comps = append(comps, comp{pc, fmt.Sprintf(
				"ChargeItemDefinition.propertyGroup[%d].priceComponent[%d]", gi, ci)})
		}
	}

	hasBase := false
	var steps []string
	for _, c := range comps {
		if c.pc.GetType().GetValue() != cpb.InvoicePriceComponentTypeCode_BASE {
			continue
		}
		if f := c.pc.GetFactor(); f != nil {
			v, err := ParseMoney(f.GetValue())
			if err != nil {
				return p, badRequest(c.expr+".factor", "%s has a factor that is not a decimal", definitionName(d))
			}
			p.factor = v
		}
		if c.pc.GetAmount() == nil {
			continue
		}
		v, err := moneyValue(c.pc.GetAmount(), currency, definitionName(d), c.expr+".amount")
		if err != nil {
			return p, err
		}
		if !hasBase {
			p.baseExpr = c.expr + ".amount"
		}
		hasBase = true
		p.base = p.base.Add(v)
		steps = append(steps, "base "+v.String())
	}
	if !hasBase && needBase {
		return p, errNoBase
	}

	p.amount = p.base
	for _, c := range comps {
		typ := c.pc.GetType().GetValue()
		var sign int64
		switch typ {
		case cpb.InvoicePriceComponentTypeCode_SURCHARGE:
			sign = 1
		case cpb.InvoicePriceComponentTypeCode_DISCOUNT:
			sign = -1
		case cpb.InvoicePriceComponentTypeCode_TAX:
			notes = append(notes, "tax component not applied")
			continue
		default:
			continue
		}
		v, how, err := componentValue(c.pc, p.base, currency, definitionName(d), c.expr)
		if err != nil {
			return p, err
		}
		p.amount = p.amount.Add(v.Mul(decimal.NewFromInt(sign)))
		steps = append(steps, fmt.Sprintf("%s %s", codeString(typ.String()), how))
	}
	p.trail = definitionName(d) + ": " + strings.Join(steps, ", ")
	if len(steps) > 1 {
		p.trail += " = " + p.amount.String()
	}
	if len(notes) > 0 {
		p.trail += " (" + strings.Join(notes, "; ") + ")"
	}
	return p, nil
}

// errNoBase: the definition has no base amount.
var errNoBase = fmt.Errorf("billing: the definition has no base price component with an amount")

// componentValue is a surcharge or discount: its amount, or its factor
// times base.
func componentValue(
	pc *cidpb.ChargeItemDefinition_PropertyGroup_PriceComponent,
	base decimal.Decimal,
	currency, name, expr string,
) (decimal.Decimal, string, error) {
	if pc.GetAmount() != nil {
		v, err := moneyValue(pc.GetAmount(), currency, name, expr+".amount")
		return v, v.String(), err
	}
	if f := pc.GetFactor(); f != nil {
		v, err := ParseMoney(f.GetValue())
		if err != nil {
			return decimal.Zero, "", badRequest(expr+".factor", "%s has a factor that is not a decimal", name)
		}
		prod := base.Mul(v)
		return prod, fmt.Sprintf("%s × %s = %s", base, v, prod), nil
	}
	return decimal.Zero, "0", nil
}

// moneyValue reads a Money in currency (no currency: currency); another
// currency is a 400 naming the element.
func moneyValue(m *dtpb.Money, currency, name, expr string) (decimal.Decimal, error) {
	if c := m.GetCurrency().GetValue(); c != "" && c != currency {
		typ, id, _ := cutRef(name)
		return decimal.Zero, currencyError(typ, id, expr+".currency", currency)
	}
	v, err := ParseMoney(m.GetValue().GetValue())
	if err != nil {
		return decimal.Zero, badRequest(expr+".value", "%s has an amount that is not a decimal", name)
	}
	return v, nil
}
