package pfs

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

// Lookup errors of [Schedule.Price]. They never name the code asked about.
var (
	ErrUnknownCode     = errors.New("pfs: code and modifier not in the fee schedule")
	ErrUnknownLocality = errors.New("pfs: locality not in the fee schedule")
)

// Fee is the fee schedule amount of one service in one locality and setting.
type Fee struct {
	// Amount is the payment for the line in dollars, rounded to the cent:
	// the fee schedule amount after [Price], the adjusted total after
	// [Adjust]. It is zero when the fee is not payable.
	Amount decimal.Decimal

	// Payable is false when Medicare does not pay the service here; Reason
	// then says why in a sentence naming the CMS indicator.
	Payable bool
	Reason  string

	// RVU is the row the fee was priced from; [Adjust] reads its indicators.
	RVU RVU

	// Trail records every number used; Trail.String prints it.
	Trail Trail
}

// Price computes the fee schedule amount of row r in the locality of g with
// conversion factor cf:
//
//	(work RVU × work GPCI + PE RVU × PE GPCI + MP RVU × MP GPCI) × CF
//
// The facility setting (facility true) uses the facility PE RVU, the
// non-facility setting the non-facility PE RVU. The product is exact and is
// rounded half up to the cent once, at the end, because CMS publishes fee
// schedule amounts in cents; later percentages ([Adjust]) apply to that
// published amount, as Medicare's claims processing does.
//
// The fee is not payable (Amount zero, Payable false, Reason set) when the
// row's status is not A, R or T (B, C, I, E, X, N, M, J, P and unknown
// codes; C means the MAC prices the service, there is no national fee), or
// when the setting's PE RVU is marked NA: CMS then considers the service not
// payable in that setting. The trail still shows the formula.
func Price(r RVU, g GPCI, cf decimal.Decimal, facility bool) Fee {
	t := Trail{
		Code:         r.Code,
		Modifier:     r.Modifier,
		Status:       r.Status,
		Locality:     g.Locality,
		LocalityName: g.Name,
		Facility:     facility,
		Work:         r.Work,
		PE:           r.NonFacilityPE,
		MP:           r.MP,
		GPCIWork:     g.Work,
		GPCIPE:       g.PE,
		GPCIMP:       g.MP,
		CF:           cf,
		Percent:      hundred,
		Units:        1,
	}
	na := r.NonFacilityNA
	if facility {
		t.PE, na = r.FacilityPE, r.FacilityNA
	}

	t.Exact = r.Work.Mul(g.Work).
		Add(t.PE.Mul(g.PE)).
		Add(r.MP.Mul(g.MP)).
		Mul(cf)
	t.Rounded = t.Exact.Round(2)

	fee := Fee{Payable: true, RVU: r}
	switch {
	case !r.Status.Payable():
		fee.Payable = false
		fee.Reason = fmt.Sprintf("status %s: %s", r.Status, r.Status.Meaning())
	case r.NotForMedicare:
		fee.Payable = false
		fee.Reason = "the RVUs are published but not used for Medicare payment"
	case na:
		fee.Payable = false
		fee.Reason = fmt.Sprintf("the %s PE RVU is NA: not paid in the %s setting",
			t.setting(), t.setting())
	case r.Status != StatusActive:
		// Known gap: status T is priced normally; "no other service that day" is not checked.
		t.Notes = append(t.Notes, fmt.Sprintf("status %s: %s", r.Status, r.Status.Meaning()))
	}

	if fee.Payable {
		t.UnitAmount, t.Total = t.Rounded, t.Rounded
	} else {
		t.UnitAmount, t.Total = decimal.Zero, decimal.Zero
		t.Reason = fee.Reason
	}
	fee.Amount = t.Total
	fee.Trail = t

	return fee
}

// Price looks up code with pricing modifier mod (see [Schedule.RVU]) and
// locality loc, and prices them with the schedule's conversion factor; see
// [Price]. The trail carries the schedule's year. Errors are
// [ErrUnknownCode] and [ErrUnknownLocality]; a known code that Medicare
// does not pay is not an error but a fee with Payable false.
func (s *Schedule) Price(code, mod string, loc Locality, facility bool) (Fee, error) {
	r, ok := s.RVU(code, mod)
	if !ok {
		return Fee{}, ErrUnknownCode
	}
	g, ok := s.GPCI(loc)
	if !ok {
		return Fee{}, ErrUnknownLocality
	}

	fee := Price(r, g, s.CF, facility)
	fee.Trail.Year = s.Year

	return fee, nil
}

var (
	hundred = decimal.NewFromInt(100)
	one     = decimal.NewFromInt(1)
)
