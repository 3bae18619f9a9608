package billing

import (
	"fmt"

	"github.com/shopspring/decimal"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
	crpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_response_go_proto"
)

// The adjudication categories remittance reads: the HL7 adjudication
// code system's eligible, benefit, deductible and copay, and
// coinsurance from fhirbill's price-component code system (the HL7 one
// has none). Other categories (submitted, eligpercent, tax, ...) are
// read past.
var adjudicationCategories = []struct{ system, code string }{
	{SystemAdjudic, "eligible"},
	{SystemAdjudic, "benefit"},
	{SystemAdjudic, "deductible"},
	{SystemAdjudic, "copay"},
	{SystemPriceComponent, "coinsurance"},
}

// decisions reads the item adjudications of cr against the Claim c it
// answers, as the Share the payer decided per Claim item sequence, refusing with a 4xx what does not
// fit the Claim: an item sequence the Claim does not have or given
// twice, an amount in another currency or below zero, an amount above
// the line's net, a benefit above the eligible amount, a line without
// eligible or benefit, or patient amounts (deductible, copay,
// coinsurance) that do not add up to eligible minus benefit. Without a
// coinsurance amount, coinsurance is what eligible minus benefit leaves
// after deductible and copay. Amounts are rounded to the cent first.
func decisions(c *claimpb.Claim, cr *crpb.ClaimResponse, currency string) (map[uint32]Share, error) {
	nets := map[uint32]decimal.Decimal{}
	for _, it := range c.GetItem() {
		n, _ := amountOf(it.GetNet())
		nets[it.GetSequence().GetValue()] = n
	}
	if err := headerCurrencies(cr, currency); err != nil {
		return nil, err
	}
	if len(cr.GetItem()) == 0 {
		return nil, unprocessable("ClaimResponse.item", "the ClaimResponse adjudicates no line of the Claim")
	}

	out := map[uint32]Share{}
	seen := map[uint32]bool{}
	for i, it := range cr.GetItem() {
		at := fmt.Sprintf("ClaimResponse.item[%d]", i)
		seq := it.GetItemSequence().GetValue()
		net, ok := nets[seq]
		switch {
		case !ok:
			return nil, unprocessable(at+".itemSequence", "the Claim has no line %d", seq)
		case seen[seq]:
			return nil, unprocessable(at+".itemSequence", "line %d is adjudicated twice", seq)
		}
		amounts := map[string]decimal.Decimal{}
		for j, a := range it.GetAdjudication() {
			aat := fmt.Sprintf("%s.adjudication[%d]", at, j)
			code := ""
			for _, cat := range adjudicationCategories {
				if hasCode(a.GetCategory(), cat.system, cat.code) {
					code = cat.code
				}
			}
			if code == "" {
				continue
			}
			v, err := adjudicatedAmount(a.GetAmount(), aat+".amount", currency)
			if err != nil {
				return nil, err
			}
			if _, dup := amounts[code]; dup {
				return nil, unprocessable(aat+".category", "line %d has two %s amounts", seq, code)
			}
			if v.GreaterThan(net) {
				return nil, unprocessable(aat+".amount", "the %s amount of line %d is above the line's net", code, seq)
			}
			amounts[code] = v
		}
		d, err := lineDecision(amounts, seq, at)
		if err != nil {
			return nil, err
		}
		out[seq], seen[seq] = d, true
	}
	return out, nil
}

// lineDecision checks one line's amounts and splits it.
func lineDecision(a map[string]decimal.Decimal, seq uint32, at string) (Share, error) {
	eligible, okE := a["eligible"]
	benefit, okB := a["benefit"]
	if !okE || !okB {
		return Share{}, unprocessable(at+".adjudication",
			"line %d needs an eligible and a benefit amount (adjudication categories eligible and benefit)", seq)
	}
	if benefit.GreaterThan(eligible) {
		return Share{}, unprocessable(at+".adjudication", "the benefit of line %d is above its eligible amount", seq)
	}
	patient := eligible.Sub(benefit)
	d := Share{Allowed: eligible, InsurerPays: benefit, PatientTotal: patient,
		Deductible: a["deductible"], Copay: a["copay"]}
	if c, ok := a["coinsurance"]; ok {
		d.Coinsurance = c
		if !d.Deductible.Add(d.Copay).Add(c).Equal(patient) {
			return Share{}, unprocessable(at+".adjudication",
				"the deductible, copay and coinsurance of line %d do not add up to its eligible amount "+
					"minus its benefit", seq)
		}
		return d, nil
	}
	d.Coinsurance = patient.Sub(d.Deductible).Sub(d.Copay)
	if d.Coinsurance.Sign() < 0 {
		return Share{}, unprocessable(at+".adjudication",
			"the deductible and copay of line %d are more than its eligible amount minus its benefit", seq)
	}
	return d, nil
}

// adjudicatedAmount reads an adjudication amount: present, in currency
// (or without one), not below zero, rounded to the cent.
func adjudicatedAmount(m *dtpb.Money, at, currency string) (decimal.Decimal, error) {
	v, ok := amountOf(m)
	switch {
	case !ok:
		return decimal.Zero, unprocessable(at, "the adjudication has no amount")
	case m.GetCurrency() != nil && m.GetCurrency().GetValue() != currency:
		return decimal.Zero, badRequest(at+".currency",
			"the amount is in another currency than the claim's %s", currency)
	case v.Sign() < 0:
		return decimal.Zero, unprocessable(at, "an adjudicated amount is not below zero")
	}
	return RoundCent(v), nil
}

// headerCurrencies refuses totals and a payment in another currency.
func headerCurrencies(cr *crpb.ClaimResponse, currency string) error {
	check := func(m *dtpb.Money, at string) error {
		if c := m.GetCurrency(); c != nil && c.GetValue() != currency {
			return badRequest(at+".currency", "the amount is in another currency than the claim's %s", currency)
		}
		return nil
	}
	for i, t := range cr.GetTotal() {
		if err := check(t.GetAmount(), fmt.Sprintf("ClaimResponse.total[%d].amount", i)); err != nil {
			return err
		}
	}
	return check(cr.GetPayment().GetAmount(), "ClaimResponse.payment.amount")
}
