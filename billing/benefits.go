package billing

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	covpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/coverage_go_proto"
	encpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/encounter_go_proto"
)

// benefitsOf reads the cost-sharing terms of a Coverage from
// costToBeneficiary, by coverage-copay-type code:
//
//   - deductible: the plan year's deductible;
//   - maxoutofpocket: the plan year's out-of-pocket maximum;
//   - copaypct: the coinsurance percent (valueQuantity 20 means 20 %);
//   - copay: the copay of visits with no copay of their own;
//   - gpvisit, spvisit, emergency, inpthosp, televisit, urgentcare and
//     any other code: the copay of that visit type.
//
// Amounts are valueMoney, or a valueQuantity read as an amount in the
// invoice currency. The first entry of a code counts; exceptions are not
// applied. A valueMoney in another currency is a 400; a negative amount
// or a percent outside 0-100 is a 422.
func benefitsOf(c *covpb.Coverage, currency string) (Benefits, error) {
	b := Benefits{Copay: map[string]decimal.Decimal{}}
	seen := map[string]bool{}
	name := "Coverage/" + c.GetId().GetValue()
	for i, ctb := range c.GetCostToBeneficiary() {
		cd := codingIn(ctb.GetType(), SystemCopay)
		if cd == nil || seen[cd.GetCode().GetValue()] {
			continue
		}
		code := cd.GetCode().GetValue()
		seen[code] = true

		expr := fmt.Sprintf("Coverage.costToBeneficiary[%d].value", i)
		var v decimal.Decimal
		var err error
		switch {
		case ctb.GetValue().GetMoney() != nil:
			v, err = moneyValue(ctb.GetValue().GetMoney(), currency, name, expr+"Money")
		case ctb.GetValue().GetQuantity() != nil:
			v, err = ParseMoney(ctb.GetValue().GetQuantity().GetValue().GetValue())
			if err != nil {
				err = badRequest(expr+"Quantity.value", "%s has a value that is not a decimal", name)
			}
		default:
			continue
		}
		if err != nil {
			return b, err
		}

		switch code {
		case copayDeductible:
			b.Deductible = v
		case copayMaxOOP:
			b.OutOfPocketMax = decimal.NewNullDecimal(v)
		case copayPercent:
			b.Coinsurance = v
		case copayDefault:
			b.DefaultCopay = v
		default:
			b.Copay[code] = v
		}
	}
	if err := b.Validate(); err != nil {
		return b, unprocessable("Coverage.costToBeneficiary", "%s cannot be applied: %s", name,
			"a deductible, copay or maximum is negative, or the copay percent is not 0 to 100")
	}
	return b, nil
}

// visitType is the coverage-copay-type code of the Encounter's visit copay:
// gpvisit (ambulatory), emergency, inpthosp (inpatient) or televisit
// (virtual); for other classes "copay", which Benefits.Copay does not hold,
// so the plain copay applies. fhirbill cannot tell a specialist (spvisit)
// or urgent care visit from the Encounter alone.
func visitType(enc *encpb.Encounter) string {
	if t, ok := visitTypes[encounterClass(enc)]; ok {
		return t
	}
	return copayDefault
}

// planYear is the plan year holding the date of service: from the
// anniversary of Coverage.period.start (month and day) to the day before
// the next one; without a start, the calendar year.
func planYear(c *covpb.Coverage, dos day) (start, end day) {
	s, ok := dayOf(c.GetPeriod().GetStart())
	if !ok {
		start = time.Date(dos.Year(), time.January, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(1, 0, -1)
	}
	start = anniversary(s, dos.Year())
	if start.After(dos) {
		start = anniversary(s, dos.Year()-1)
	}
	return start, anniversary(s, start.Year()+1).AddDate(0, 0, -1)
}

// anniversary is month and day of s in year; February 29 falls on March 1
// in other years.
func anniversary(s day, year int) day {
	return time.Date(year, s.Month(), s.Day(), 0, 0, 0, 0, time.UTC)
}
