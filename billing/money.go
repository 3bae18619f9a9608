package billing

import (
	"errors"
	"regexp"

	"github.com/shopspring/decimal"
)

// ErrNotDecimal is returned by [ParseMoney] for a string that is not a FHIR
// decimal.
var ErrNotDecimal = errors.New("billing: not a FHIR decimal")

// fhirDecimal is the lexical form of the FHIR R4 decimal datatype:
// https://hl7.org/fhir/R4/datatypes.html#decimal
var fhirDecimal = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// ParseMoney parses a FHIR decimal, such as Money.value printed as "12.50",
// keeping every digit it has: the result is exact, and the exponent of the
// text is kept ("1.50" has two decimal places, not one). The error wraps
// [ErrNotDecimal] and does not repeat the text.
func ParseMoney(s string) (decimal.Decimal, error) {
	if !fhirDecimal.MatchString(s) {
		return decimal.Zero, ErrNotDecimal
	}

	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero, ErrNotDecimal
	}

	return d, nil
}

// RoundCent rounds d to the cent, half up: 0.005 becomes 0.01. For a
// negative amount, half rounds away from zero (-0.005 becomes -0.01), so
// a credit mirrors its charge.
func RoundCent(d decimal.Decimal) decimal.Decimal {
	return d.Round(2)
}

// Sum adds amounts exactly. Sum() is zero.
func Sum(amounts ...decimal.Decimal) decimal.Decimal {
	total := decimal.Zero
	for _, a := range amounts {
		total = total.Add(a)
	}

	return total
}

// FormatMoney prints d rounded to the cent with exactly two decimals, the
// way an Invoice shows Money.value: "12.50".
func FormatMoney(d decimal.Decimal) string {
	return d.StringFixed(2)
}
