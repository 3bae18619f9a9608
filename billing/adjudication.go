package billing

import (
	"fmt"

	"github.com/shopspring/decimal"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
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

// adjudicationShape refuses a ClaimResponse that is no adjudication of a
// claim fhirbill can apply, naming the element (R4 ClaimResponse): one
// that is not active (cancelled, draft, entered in error), that answers a
// preauthorization or predetermination, or that adjudicates what
// remittance does not read (lines the payer adds, header-level
// adjudication): refused rather than applied in part.
func adjudicationShape(cr *crpb.ClaimResponse) error {
	switch {
	case cr.GetStatus().GetValue() != cpb.FinancialResourceStatusCode_ACTIVE:
		return unprocessable("ClaimResponse.status", "only an active ClaimResponse is "+
			"an adjudication to apply; this one is %s", codeString(cr.GetStatus().GetValue().String()))
	case cr.GetUse().GetValue() != cpb.UseCode_CLAIM:
		return unprocessable("ClaimResponse.use", "only the answer to a claim (use claim) "+
			"is applied to an Invoice, not that to a preauthorization or predetermination")
	case len(cr.GetAddItem()) > 0:
		return unprocessable("ClaimResponse.addItem", "lines the payer adds (addItem) "+
			"are not applied by fhirbill: adjudicate the Claim's own lines")
	case len(cr.GetAdjudication()) > 0:
		return unprocessable("ClaimResponse.adjudication", "header-level adjudication "+
			"is not applied by fhirbill: adjudicate each line (item.adjudication)")
	}
	return nil
}

// decisions reads the item adjudications of cr against the Claim c it
// answers, as the Share the payer decided per Claim item sequence, refusing with a 4xx what does not
// fit the Claim: an item sequence the Claim does not have or given
// twice, item details, an amount in another currency, below zero or not
// in whole cents, an amount above the line's net, a benefit above the
// eligible amount, a line without eligible or benefit, patient amounts
// (deductible, copay, coinsurance) that do not add up to eligible minus
// benefit, a line of the Claim left out by a complete outcome, and totals
// or a payment that are not the sums of the lines. Without a coinsurance
// amount, coinsurance is what eligible minus benefit leaves after
// deductible and copay.
//
// A payer pays money, in whole cents: an amount with a fraction of a cent
// is refused rather than rounded, since rounding the amounts of a line
// one by one can make them no longer add up (38.555 + 9.635 does, 38.56 +
// 9.64 does not), and which of them should give up the cent is the
// payer's to say.
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
	others := map[string]decimal.Decimal{} // sums of the categories read past, by system|code
	for i, it := range cr.GetItem() {
		at := fmt.Sprintf("ClaimResponse.item[%d]", i)
		seq := it.GetItemSequence().GetValue()
		net, ok := nets[seq]
		_, seen := out[seq]
		switch {
		case !ok:
			return nil, unprocessable(at+".itemSequence", "the Claim has no line %d", seq)
		case seen:
			return nil, unprocessable(at+".itemSequence", "line %d is adjudicated twice", seq)
		case len(it.GetDetail()) > 0:
			return nil, unprocessable(at+".detail", "adjudications of item details are "+
				"not applied by fhirbill, whose claims have none: adjudicate line %d itself", seq)
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
				if v, ok := amountOf(a.GetAmount()); ok {
					k := categoryKey(a.GetCategory())
					others[k] = others[k].Add(v)
				}
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
		out[seq] = d
	}

	if cr.GetOutcome().GetValue() == cpb.ClaimProcessingCode_COMPLETE {
		for _, it := range c.GetItem() {
			if _, ok := out[it.GetSequence().GetValue()]; !ok {
				return nil, unprocessable("ClaimResponse.item", "the outcome is complete, "+
					"but line %d of the Claim is not adjudicated: a complete answer "+
					"adjudicates every line, a partial one says outcome partial",
					it.GetSequence().GetValue())
			}
		}
	}
	if err := totalsFit(cr, out, others, currency); err != nil {
		return nil, err
	}
	return out, nil
}

// totalsFit checks ClaimResponse.total and payment against the lines
// decided: a total in a category remittance reads is the sum of the
// lines' amounts in it (coinsurance as decided, given or left to the
// remainder); one in another category, the sum of the lines' amounts in
// it when lines carry that category (the others are read past, as on the
// lines); payment.amount is the lines' benefit plus payment.adjustment.
func totalsFit(
	cr *crpb.ClaimResponse,
	ds map[uint32]Share,
	others map[string]decimal.Decimal,
	currency string,
) error {
	sums := map[string]decimal.Decimal{}
	for _, d := range ds {
		for k, v := range map[string]decimal.Decimal{
			"eligible": d.Allowed, "benefit": d.InsurerPays, "deductible": d.Deductible,
			"copay": d.Copay, "coinsurance": d.Coinsurance,
		} {
			sums[k] = sums[k].Add(v)
		}
	}
	for i, t := range cr.GetTotal() {
		at := fmt.Sprintf("ClaimResponse.total[%d].amount", i)
		code := ""
		for _, cat := range adjudicationCategories {
			if hasCode(t.GetCategory(), cat.system, cat.code) {
				code = cat.code
			}
		}
		want, ok := sums[code]
		if code == "" {
			if want, ok = others[categoryKey(t.GetCategory())]; !ok {
				continue
			}
		}
		v, err := paidAmount(t.GetAmount(), at, currency)
		if err != nil {
			return err
		}
		if !v.Equal(want) {
			return unprocessable(at, "the total of category %s is not the sum of "+
				"the lines' amounts in it", categoryKey(t.GetCategory()))
		}
	}

	p := cr.GetPayment()
	if p.GetAmount() == nil {
		return nil
	}
	v, err := paidAmount(p.GetAmount(), "ClaimResponse.payment.amount", currency)
	if err != nil {
		return err
	}
	want := sums["benefit"]
	if p.GetAdjustment() != nil {
		adj, err := paidAmount(p.GetAdjustment(), "ClaimResponse.payment.adjustment", currency)
		if err != nil {
			return err
		}
		want = want.Add(adj)
	}
	if !v.Equal(want) {
		return unprocessable("ClaimResponse.payment.amount",
			"the payment is not the lines' benefit plus the payment's adjustment")
	}
	return nil
}

// categoryKey is "system|code" of a category's first coding.
func categoryKey(cc *dtpb.CodeableConcept) string {
	if cs := cc.GetCoding(); len(cs) > 0 {
		return cs[0].GetSystem().GetValue() + "|" + cs[0].GetCode().GetValue()
	}
	return "|"
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
// (or without one), not below zero, in whole cents.
func adjudicatedAmount(m *dtpb.Money, at, currency string) (decimal.Decimal, error) {
	v, err := paidAmount(m, at, currency)
	if err == nil && v.Sign() < 0 {
		return decimal.Zero, unprocessable(at, "an adjudicated amount is not below zero")
	}
	return v, err
}

// paidAmount reads an amount of the payer's: present, in currency (or
// without one), in whole cents.
func paidAmount(m *dtpb.Money, at, currency string) (decimal.Decimal, error) {
	v, ok := amountOf(m)
	switch {
	case !ok:
		return decimal.Zero, unprocessable(at, "the amount has no value")
	case m.GetCurrency() != nil && m.GetCurrency().GetValue() != currency:
		return decimal.Zero, badRequest(at+".currency",
			"the amount is in another currency than the claim's %s", currency)
	case !v.Equal(RoundCent(v)):
		return decimal.Zero, unprocessable(at, "a payer's amount is money paid, in whole cents: "+
			"at most two decimals")
	}
	return v, nil
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
