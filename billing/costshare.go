package billing

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"
)

// Benefits are the cost-sharing terms of one Coverage for one plan year.
// Every field is optional: the zero value is coverage that pays every
// allowed amount in full.
type Benefits struct {
	// SelfPay means there is no coverage: the patient pays every allowed
	// amount (which the caller sets to the gross charge, possibly
	// discounted). The other fields are then ignored.
	SelfPay bool

	// Deductible is what the patient pays in the plan year before the
	// plan shares costs; zero means none.
	Deductible decimal.Decimal

	// OutOfPocketMax caps what the patient pays in the plan year
	// (deductible, copays and coinsurance together); Valid false means
	// no cap.
	OutOfPocketMax decimal.NullDecimal

	// Coinsurance is the percent of the allowed amount, after deductible
	// and copay, that the patient pays: 20 means 20%. Zero means none.
	Coinsurance decimal.Decimal

	// Copay is the fixed amount per visit, by visit type ("office",
	// "specialist", "emergency": the caller's own keys). DefaultCopay
	// applies to visit types not in the map; zero means none.
	Copay        map[string]decimal.Decimal
	DefaultCopay decimal.Decimal
}

// ErrInvalidBenefits is wrapped by [Benefits.Validate].
var ErrInvalidBenefits = errors.New("billing: invalid benefits")

// Validate reports negative amounts and a coinsurance percent outside 0 to
// 100. [ApplyCostSharing] reads a negative amount as zero and clamps the
// percent; callers should reject such benefits first.
func (b Benefits) Validate() error {
	neg := b.Deductible.Sign() < 0 || b.DefaultCopay.Sign() < 0 ||
		b.OutOfPocketMax.Valid && b.OutOfPocketMax.Decimal.Sign() < 0
	for _, c := range b.Copay {
		neg = neg || c.Sign() < 0
	}
	switch {
	case neg:
		return fmt.Errorf("%w: a deductible, copay or out-of-pocket maximum is negative",
			ErrInvalidBenefits)
	case b.Coinsurance.Sign() < 0 || b.Coinsurance.GreaterThan(hundred):
		return fmt.Errorf("%w: coinsurance is not a percent from 0 to 100", ErrInvalidBenefits)
	}

	return nil
}

// Accumulator is what the patient has paid so far toward the deductible and
// the out-of-pocket maximum of one Coverage in one plan year.
type Accumulator struct {
	DeductibleMet  decimal.Decimal
	OutOfPocketMet decimal.Decimal
}

// Allowed is one priced line to share: the allowed amount of a service.
type Allowed struct {
	// Date is the date of service; lines are shared in date order.
	Date time.Time

	// Amount is the allowed amount. It is rounded to the cent first.
	Amount decimal.Decimal

	// VisitType, when set, makes this line the visit line that carries
	// the visit's copay, looked up in Benefits.Copay. The caller marks one
	// line per visit (the evaluation and management service, say); lines
	// with an empty VisitType carry no copay.
	VisitType string
}

// Share is how one line's allowed amount splits between the patient and
// the insurer. On every line, Deductible + Copay + Coinsurance + SelfPay =
// PatientTotal and PatientTotal + InsurerPays = Allowed, exactly; SelfPay
// is zero unless the patient has no coverage.
type Share struct {
	Allowed      decimal.Decimal
	Deductible   decimal.Decimal
	Copay        decimal.Decimal
	Coinsurance  decimal.Decimal
	SelfPay      decimal.Decimal // the whole allowed amount, without coverage
	PatientTotal decimal.Decimal
	InsurerPays  decimal.Decimal
}

var hundred = decimal.NewFromInt(100)

// ApplyCostSharing splits each allowed line between patient and insurer
// under b, starting from what acc says the patient has already paid this
// plan year, and returns the shares (in the order of lines) and the
// accumulator after them. All lines must fall in acc's plan year.
//
// Lines are taken in date-of-service order, lines of the same date in
// input order. On each line, in this order:
//
//  1. the deductible: as much of the allowed amount as the deductible has
//     left;
//  2. the copay, on the visit line only (Allowed.VisitType set): the
//     visit type's copay, at most what remains of the line after the
//     deductible;
//  3. the coinsurance: Benefits.Coinsurance percent of what is left,
//     rounded half up to the cent;
//
// each capped so that the patient's total for the plan year stays within
// Benefits.OutOfPocketMax: deductible, copays and coinsurance all count
// toward it, and once it is reached the insurer pays the rest. The insurer
// pays the allowed amount minus the patient's total. All inputs are rounded
// to the cent first, so each component is rounded once and the line adds up.
//
// A line whose allowed amount is zero (or negative, a credit) shares
// nothing: the patient owes zero, the insurer the amount, and the
// accumulator does not move. Without coverage (Benefits.SelfPay) the
// patient pays every allowed amount and the accumulator does not move.
func ApplyCostSharing(b Benefits, acc Accumulator, lines []Allowed) ([]Share, Accumulator) {
	order := make([]int, len(lines))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, c int) bool {
		return lines[order[a]].Date.Before(lines[order[c]].Date)
	})

	t := newTerms(b)
	shares := make([]Share, len(lines))
	for _, i := range order {
		allowed := RoundCent(lines[i].Amount)
		switch {
		case allowed.Sign() <= 0:
			shares[i] = Share{Allowed: allowed, InsurerPays: allowed}
		case b.SelfPay:
			shares[i] = Share{Allowed: allowed, SelfPay: allowed, PatientTotal: allowed}
		default:
			shares[i] = t.share(&acc, allowed, lines[i].VisitType)
		}
	}

	return shares, acc
}

// terms are Benefits normalized once per call: amounts rounded to the
// cent and made non-negative, the percent clamped to 0-100.
type terms struct {
	b          Benefits
	deductible decimal.Decimal
	maxOOP     *decimal.Decimal // nil: no cap
	pct        decimal.Decimal
}

func newTerms(b Benefits) terms {
	t := terms{
		b:          b,
		deductible: nonNeg(RoundCent(b.Deductible)),
		pct:        decimal.Min(nonNeg(b.Coinsurance), hundred),
	}
	if b.OutOfPocketMax.Valid {
		m := nonNeg(RoundCent(b.OutOfPocketMax.Decimal))
		t.maxOOP = &m
	}

	return t
}

// share splits one positive, cent-rounded allowed amount and advances acc.
func (t terms) share(acc *Accumulator, allowed decimal.Decimal, visitType string) Share {
	s := Share{Allowed: allowed}

	// room is what the patient may still pay this year; nil means no cap.
	var room decimal.Decimal
	if t.maxOOP != nil {
		room = nonNeg(t.maxOOP.Sub(acc.OutOfPocketMet))
	}
	take := func(want decimal.Decimal) decimal.Decimal {
		if t.maxOOP == nil {
			return want
		}
		want = decimal.Min(want, room)
		room = room.Sub(want)

		return want
	}

	left := nonNeg(t.deductible.Sub(acc.DeductibleMet))
	s.Deductible = take(decimal.Min(allowed, left))
	rest := allowed.Sub(s.Deductible)

	if visitType != "" {
		s.Copay = take(decimal.Min(nonNeg(RoundCent(t.b.copay(visitType))), rest))
		rest = rest.Sub(s.Copay)
	}

	if t.pct.Sign() > 0 {
		s.Coinsurance = take(RoundCent(rest.Mul(t.pct).Shift(-2)))
	}

	s.PatientTotal = s.Deductible.Add(s.Copay).Add(s.Coinsurance)
	s.InsurerPays = allowed.Sub(s.PatientTotal)
	acc.DeductibleMet = acc.DeductibleMet.Add(s.Deductible)
	acc.OutOfPocketMet = acc.OutOfPocketMet.Add(s.PatientTotal)

	return s
}

func (b Benefits) copay(visitType string) decimal.Decimal {
	if c, ok := b.Copay[visitType]; ok {
		return c
	}

	return b.DefaultCopay
}

func nonNeg(d decimal.Decimal) decimal.Decimal {
	if d.Sign() < 0 {
		return decimal.Zero
	}

	return d
}
