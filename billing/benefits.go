package billing

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fhirbill/fhirbill/fhir/resource"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	covpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/coverage_go_proto"
	encpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/encounter_go_proto"
)

// benefitsOf reads the cost-sharing terms of a Coverage from
// costToBeneficiary, by coverage-copay-type code (see [readBenefits]).
// Exceptions are not applied.
func benefitsOf(c *covpb.Coverage, currency string) (Benefits, error) {
	var terms []costTerm
	for i, ctb := range c.GetCostToBeneficiary() {
		t := costTerm{typ: ctb.GetType(), money: ctb.GetValue().GetMoney(),
			qty:   simpleQuantity(ctb.GetValue().GetQuantity()),
			entry: fmt.Sprintf("Coverage.costToBeneficiary[%d]", i)}
		t.expr = t.entry + ".valueQuantity"
		if t.money != nil {
			t.expr = t.entry + ".valueMoney"
		}
		terms = append(terms, t)
	}
	return readBenefits(terms, "Coverage/"+c.GetId().GetValue(), "Coverage.costToBeneficiary", currency)
}

// hasCostSharing reports whether the Coverage states any cost-sharing term
// billing reads (a costToBeneficiary with a coverage-copay-type code).
func hasCostSharing(c *covpb.Coverage) bool {
	for _, ctb := range c.GetCostToBeneficiary() {
		if codingIn(ctb.GetType(), SystemCopay) != nil {
			return true
		}
	}
	return false
}

// costTerm is one cost-sharing entry as a Coverage or a plan states it:
// its type (a coverage-copay-type coding) and an amount as Money or as a
// Quantity; entry names the element of the term, expr the element
// holding its value.
type costTerm struct {
	typ         *dtpb.CodeableConcept
	money       *dtpb.Money
	qty         *quantity
	entry, expr string
}

// quantity is what billing reads of a Quantity or SimpleQuantity.
type quantity struct {
	value              *dtpb.Decimal
	system, code, unit string
}

func simpleQuantity(q *dtpb.SimpleQuantity) *quantity {
	if q == nil {
		return nil
	}
	return &quantity{value: q.GetValue(), system: q.GetSystem().GetValue(), code: q.GetCode().GetValue(),
		unit: q.GetUnit().GetValue()}
}

func fullQuantity(q *dtpb.Quantity) *quantity {
	if q == nil {
		return nil
	}
	return &quantity{value: q.GetValue(), system: q.GetSystem().GetValue(), code: q.GetCode().GetValue(),
		unit: q.GetUnit().GetValue()}
}

// readBenefits reads cost-sharing terms by coverage-copay-type code:
//
//   - deductible: the plan year's deductible;
//   - maxoutofpocket: the plan year's out-of-pocket maximum;
//   - copaypct: the coinsurance percent (a value of 20 means 20 %);
//   - copay: the copay of visits with no copay of their own;
//   - gpvisit, spvisit, emergency, inpthosp, televisit, urgentcare and
//     any other code: the copay of that visit type.
//
// The copaypct is a Quantity without unit or in % (UCUM); every other
// code is an amount: Money, or a Quantity in ISO 4217
// (urn:iso:std:iso:4217), which must be the invoice currency. Anything
// else would be a guess (20 dollars read as 20 %, a bare number read as
// dollars), so it is a 422 naming the element holding the value. A code
// stated twice with different values is a 422 naming both terms, since
// billing cannot tell which applies; stated twice alike, it counts once.
// Terms of other types are ignored. An amount in another currency is a
// 400 naming its element; a negative amount or a percent outside 0-100
// is a 422 on where, the element holding the terms. name names their
// resource.
func readBenefits(terms []costTerm, name, where, currency string) (Benefits, error) {
	b := Benefits{Copay: map[string]decimal.Decimal{}}
	type seen struct {
		entry string
		v     decimal.Decimal
	}
	first := map[string]seen{}
	for _, t := range terms {
		cd := codingIn(t.typ, SystemCopay)
		if cd == nil {
			continue
		}
		code := cd.GetCode().GetValue()
		v, ok, err := termValue(t, code, name, currency)
		if err != nil {
			return b, err
		}
		if !ok {
			continue
		}
		if f, dup := first[code]; dup {
			if f.v.Equal(v) {
				continue
			}
			return b, &resource.Error{Status: statusUnprocessableEntity, Issues: []resource.Issue{{
				Severity: resource.SeverityError, Code: issueBusinessRule,
				Expression: []string{f.entry, t.entry},
				Diagnostics: fmt.Sprintf("%s states the cost-sharing term %s twice with different values: "+
					"billing cannot tell which applies", name, code),
			}}}
		}
		first[code] = seen{t.entry, v}

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
		return b, unprocessable(where, "%s cannot be applied: %s", name,
			"a deductible, copay or maximum is negative, or the copay percent is not 0 to 100")
	}
	return b, nil
}

// termValue reads the value of one term of type code (see
// [readBenefits]); ok is false when the term has none.
func termValue(t costTerm, code, name, currency string) (v decimal.Decimal, ok bool, err error) {
	switch {
	case code == copayPercent && t.money != nil:
		return v, false, unprocessable(t.expr, "%s: a %s is a percent (20 for 20 %%), a Quantity "+
			"without unit or in %% (UCUM), not an amount of money", name, code)
	case code == copayPercent && t.qty != nil:
		if !percentUnit(t.qty) {
			return v, false, unprocessable(t.expr, "%s: a %s is a percent (20 for 20 %%), a Quantity "+
				"without unit or in %% (UCUM); this one has another unit", name, code)
		}
		v, err = quantityValue(t.qty, name, t.expr)
	case t.money != nil:
		v, err = moneyValue(t.money, currency, name, t.expr)
	case t.qty != nil:
		if t.qty.system != systemCurrency {
			return v, false, unprocessable(t.expr, "%s: a %s is an amount of money, Money or a Quantity "+
				"in ISO 4217 (system %s), not a number without currency", name, code, systemCurrency)
		}
		v, err = quantityAmount(t.qty, currency, name, t.expr)
	default:
		return v, false, nil
	}
	return v, err == nil, err
}

// systemCurrency is the code system of ISO 4217 currency codes, as a
// Quantity names a currency (https://hl7.org/fhir/R4/datatypes.html#Money).
const systemCurrency = "urn:iso:std:iso:4217"

// systemUCUM is the code system of UCUM units, where "%" is percent.
const systemUCUM = "http://unitsofmeasure.org"

// percentUnit reports whether q is a percent: no unit at all, or % (as
// the UCUM code, or as the unit text of a Quantity without code).
func percentUnit(q *quantity) bool {
	switch {
	case q.code == "%":
		return q.system == "" || q.system == systemUCUM
	case q.code == "" && q.system == "":
		return q.unit == "" || q.unit == "%"
	}
	return false
}

// quantityAmount reads a Quantity in ISO 4217 as an amount in currency:
// its value, provided that its code is currency.
func quantityAmount(q *quantity, currency, name, expr string) (decimal.Decimal, error) {
	if q.system == systemCurrency && q.code != currency {
		typ, id, _ := cutRef(name)
		return decimal.Zero, currencyError(typ, id, expr+".code", currency)
	}
	return quantityValue(q, name, expr)
}

// quantityValue reads the value of a Quantity.
func quantityValue(q *quantity, name, expr string) (decimal.Decimal, error) {
	v, err := ParseMoney(q.value.GetValue())
	if err != nil {
		return decimal.Zero, badRequest(expr+".value", "%s has a value that is not a decimal", name)
	}
	return v, nil
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
