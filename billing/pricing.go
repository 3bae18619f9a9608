package billing

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/shopspring/decimal"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cidpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/charge_item_definition_go_proto"
)

// contract is the payer's contract as it applies to one Encounter.
type contract struct {
	payer    string                      // "Organization/<id>"
	rule     *cidpb.ChargeItemDefinition // the payer's rule; nil when it has none
	ruleCode string
	factor   decimal.Decimal // the rule's base factor; 1 when absent
	pfsYear  int             // the fee schedule year the rule names; 0: the year of service
}

// price sets the gross charge and the allowed amount of every billable
// line, marking the lines that cannot be priced not billable.
func (b *Biller) price(ctx context.Context, in *inputs, lines []*line) error {
	c, err := b.contractFor(ctx, in)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if !l.billable() {
			continue
		}
		if err := b.grossCharge(ctx, in, l); err != nil {
			return err
		}
		if !l.billable() {
			continue
		}
		if err := b.allowedAmount(ctx, in, c, l); err != nil {
			return err
		}
	}
	if err := b.medicare(ctx, in, c, lines); err != nil {
		return err
	}

	// The payer allows at most what the provider charges ("lesser of the
	// actual charge or the fee schedule amount", 42 CFR 414.20(a)), and
	// never less than nothing: a negative allowed amount (a payer price or
	// factor below zero, an error in the contract) would turn the
	// insurer's payment and the patient's share negative, so the line is
	// not billed, as a negative gross charge is not.
	for _, l := range lines {
		if l.billable() && l.allowed.Sign() < 0 {
			why := "the payer's contract gives a negative allowed amount"
			if n := len(l.trail); n > 0 {
				why += ": " + l.trail[n-1]
			}
			l.skip(why)
			continue
		}
		if l.billable() && l.allowed.GreaterThan(l.gross) {
			l.trail = append(l.trail, fmt.Sprintf("allowed limited to the gross charge: lesser of %s and %s = %s",
				FormatMoney(l.gross), FormatMoney(l.allowed), FormatMoney(l.gross)))
			l.allowed = l.gross
		}
	}
	return checkGrossTotal(lines)
}

// maxAmount is the first amount this server cannot store: a FHIR
// decimal here has at most resource.MaxIntegerDigits digits before the
// point (fhir/resource, the JSON limits).
var maxAmount = decimal.New(1, resource.MaxIntegerDigits)

// checkGrossTotal refuses lines whose gross charges add up to an amount
// the server cannot store. The sum is the Invoice's totalGross and the
// Claim's total, the largest amount billing writes (every other one is a
// part of it), so a price that passes each input check on its own (one
// line at 6 x 10^17) still cannot be billed three times. It is a 422 on
// the price that weighs most, by id: the input to correct, rather than
// an error on the Invoice, which the client never sent.
func checkGrossTotal(lines []*line) error {
	sum := decimal.Zero
	var top *line
	for _, l := range lines {
		if !l.billable() {
			continue
		}
		sum = sum.Add(l.gross)
		if top == nil || l.gross.GreaterThan(top.gross) {
			top = l
		}
	}
	if sum.LessThan(maxAmount) {
		return nil
	}
	expr := top.grossExpr + ".value"
	if top.grossExpr == "" {
		expr = "ChargeItemDefinition.propertyGroup"
	}
	return unprocessable(expr, "%s prices the services of this Encounter at a total gross charge "+
		"with more than %d digits before the decimal point, more than this server stores in an "+
		"amount: the price cannot be billed", definitionName(top.definition), resource.MaxIntegerDigits)
}

// grossCharge prices the line from the provider's price list: the active
// ChargeItemDefinition without a payer context for its code, the billing
// provider's own (venue context) before the one every provider shares,
// chosen by selectForProvider.
func (b *Biller) grossCharge(ctx context.Context, in *inputs, l *line) error {
	defs, err := b.searchDefinitions(ctx, url.Values{"code": {tokenValue(l.code)}})
	if err != nil {
		return err
	}
	list := defs[:0]
	for _, d := range defs {
		if payerOf(d) == "" {
			list = append(list, d)
		}
	}
	d := selectForProvider(list, in.providerRef, modifierCodes(l.modifiers), l.date)
	if d == nil {
		l.skip("no price in the price list: no active ChargeItemDefinition for this code " +
			"and its modifiers is in effect on the date of service")
		return nil
	}
	p, err := priceOf(d, b.currency, true)
	if errors.Is(err, errNoBase) {
		l.skip("no price in the price list: " + definitionName(d) + " has no base price")
		return nil
	}
	if err != nil {
		return err
	}
	l.definition = d
	l.grossExpr = p.baseExpr
	l.gross = RoundCent(p.amount)
	if l.gross.Sign() < 0 {
		l.skip("the price list gives a negative price: " + p.trail)
		return nil
	}
	l.trail = append(l.trail, fmt.Sprintf("gross %s from %s", FormatMoney(l.gross), p.trail))
	return nil
}

// contractFor finds the payer's rule: the active ChargeItemDefinition
// without a code whose payer context is the Coverage's payor, in effect on
// the date of service, the one scoped to the billing provider (venue)
// before those every provider shares (the latest start, then the lowest
// id).
func (b *Biller) contractFor(ctx context.Context, in *inputs) (*contract, error) {
	if in.coverage == nil {
		return nil, nil
	}
	c := &contract{payer: in.payer, factor: decimal.NewFromInt(1)}
	defs, err := b.searchDefinitions(ctx, url.Values{
		"context-reference": {in.payer}, "code:missing": {"true"}})
	if err != nil {
		return nil, err
	}
	own, shared := forProvider(defs, in.providerRef)
	for _, set := range [][]*cidpb.ChargeItemDefinition{own, shared} {
		for _, d := range set {
			if payerOf(d) != in.payer || !covers(d.GetEffectivePeriod(), in.dos) {
				continue
			}
			if c.rule == nil || laterDefinition(d, c.rule) {
				c.rule = d
			}
		}
		if c.rule != nil {
			break
		}
	}
	if c.rule == nil {
		return c, nil
	}

	c.ruleCode = extString(c.rule.GetExtension(), ExtAllowedRule)
	switch c.ruleCode {
	case RuleMedicarePFS, RuleFeeList, RuleBilled:
	default:
		return nil, unprocessable("ChargeItemDefinition.extension",
			"%s, the contract of %s, needs an allowed-rule extension: medicare-pfs, fee-list or billed",
			definitionName(c.rule), in.payer)
	}
	p, err := priceOf(c.rule, b.currency, false)
	if err != nil {
		return nil, err
	}
	c.factor = p.factor
	if c.pfsYear, err = contractYear(c.rule); err != nil {
		return nil, err
	}
	return c, nil
}

// allowedAmount sets what the payer allows for the line: self-pay allows
// the gross charge; a payer ChargeItemDefinition for the code (the billing
// provider's own before the shared one) gives its price; otherwise the
// payer's rule decides (the Medicare fee schedule
// lines are priced together afterwards, in medicare).
func (b *Biller) allowedAmount(ctx context.Context, in *inputs, c *contract, l *line) error {
	if c == nil {
		// TODO(#7): no self-pay discount rule; without Coverage the allowed amount is the gross charge.
		l.allowed = l.gross
		l.trail = append(l.trail, "allowed = gross: self-pay, no active Coverage on the date of service")
		return nil
	}

	defs, err := b.searchDefinitions(ctx, url.Values{
		"context-reference": {c.payer}, "code": {tokenValue(l.code)}})
	if err != nil {
		return err
	}
	mine := defs[:0]
	for _, d := range defs {
		if payerOf(d) == c.payer {
			mine = append(mine, d)
		}
	}
	if d := selectForProvider(mine, in.providerRef, modifierCodes(l.modifiers), l.date); d != nil {
		p, err := priceOf(d, b.currency, true)
		if errors.Is(err, errNoBase) {
			l.skip("the payer's price for this code, " + definitionName(d) + ", has no base price")
			return nil
		}
		if err != nil {
			return err
		}
		l.allowed = RoundCent(p.amount)
		l.trail = append(l.trail, fmt.Sprintf("allowed %s: payer %s fee for the code, %s",
			FormatMoney(l.allowed), c.payer, p.trail))
		return nil
	}

	switch c.ruleCode {
	case "":
		l.allowed = l.gross
		l.trail = append(l.trail, fmt.Sprintf("allowed = gross: no contract with payer %s", c.payer))
	case RuleBilled:
		l.allowed = l.gross
		l.trail = append(l.trail, fmt.Sprintf("allowed = gross: payer %s contract %s rule billed",
			c.payer, definitionName(c.rule)))
	case RuleFeeList:
		l.skip(fmt.Sprintf("the payer's fee list has no price for this code (payer %s, contract %s)",
			c.payer, definitionName(c.rule)))
	case RuleMedicarePFS:
		l.pfsFactor = c.factor
		l.onPFS = true
	}
	return nil
}

// contractYear reads the contract's pfs-year extension: 0 when absent, a
// 422 when it is not a valueInteger year from 1992 (the first fee
// schedule) to 2100.
func contractYear(d *cidpb.ChargeItemDefinition) (int, error) {
	exts := extensions(d.GetExtension(), ExtPFSYear)
	if len(exts) == 0 {
		return 0, nil
	}
	v := exts[0].GetValue().GetInteger()
	if v == nil || v.GetValue() < 1992 || v.GetValue() > 2100 {
		return 0, unprocessable("ChargeItemDefinition.extension",
			"%s: the pfs-year extension needs a valueInteger year from 1992 to 2100", definitionName(d))
	}
	return int(v.GetValue()), nil
}
