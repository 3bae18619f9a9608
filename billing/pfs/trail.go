package pfs

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Trail records how a fee was computed, so that a reader can redo the sum:
// the inputs of the formula, the exact and rounded fee schedule amount, and
// each adjustment [Adjust] applied. [Trail.String] prints it on one line.
type Trail struct {
	Year         int // fee schedule year; zero when priced outside a Schedule
	Code         string
	Modifier     string
	Status       Status
	Locality     Locality
	LocalityName string
	Facility     bool

	Work, PE, MP             decimal.Decimal // RVUs used (PE of the setting)
	GPCIWork, GPCIPE, GPCIMP decimal.Decimal // GPCIs used
	CF                       decimal.Decimal // conversion factor used

	Exact   decimal.Decimal // the formula's exact result
	Rounded decimal.Decimal // Exact rounded half up to the cent: the fee schedule amount

	Adjustments []Adjustment    // in the order applied
	Percent     decimal.Decimal // product of the adjustments' percents; 100 when none
	UnitAmount  decimal.Decimal // Rounded × Percent / 100, rounded half up to the cent
	Units       int             // units billed; 1 unless the line said more
	Total       decimal.Decimal // UnitAmount × Units; zero when not payable

	Notes  []string // informative remarks, such as a restricted status
	Reason string   // why the fee is not payable; empty when it is
}

// Adjustment is one payment rule applied to a fee, as a percent of the fee
// schedule amount (150 for a bilateral procedure, 50 for a second
// procedure). A rule that was considered but left the fee alone is recorded
// with 100 and a note.
type Adjustment struct {
	Rule    string // RuleBilateral, RuleMultipleProcedure or RuleAssistant
	Percent decimal.Decimal
	Note    string
}

// The rules [Adjust] applies.
const (
	RuleBilateral         = "bilateral"
	RuleMultipleProcedure = "multiple procedure"
	RuleAssistant         = "assistant at surgery"
)

func (t Trail) setting() string {
	if t.Facility {
		return "facility"
	}

	return "non-facility"
}

// String prints the trail on one line, for example:
//
//	PFS 2025 27447 loc 1182-18 LOS ANGELES-... facility: (work 19.6 × 1.042
//	+ PE 15.3 × 1.194 + MP 3.98 × 0.69) × CF 32.3465 = 1340.3613284 → 1340.36;
//	bilateral 150% (BILAT SURG 1: ...); 1340.36 × 150% = 2010.54 → 2010.54
//	× 1 unit = 2010.54
//
// (printed as one line).
func (t Trail) String() string {
	var b strings.Builder
	b.WriteString("PFS")
	if t.Year != 0 {
		fmt.Fprintf(&b, " %d", t.Year)
	}
	b.WriteString(" " + t.Code)
	if t.Modifier != "" {
		b.WriteString("-" + t.Modifier)
	}
	if t.Locality != (Locality{}) {
		fmt.Fprintf(&b, " loc %s", t.Locality)
	}
	if t.LocalityName != "" {
		b.WriteString(" " + t.LocalityName)
	}
	fmt.Fprintf(&b, " %s: (work %s × %s + PE %s × %s + MP %s × %s) × CF %s = %s → %s",
		t.setting(), t.Work, t.GPCIWork, t.PE, t.GPCIPE, t.MP, t.GPCIMP, t.CF,
		t.Exact, t.Rounded.StringFixed(2))

	for _, n := range t.Notes {
		b.WriteString("; " + n)
	}
	if t.Reason != "" {
		b.WriteString("; not payable: " + t.Reason)
		return b.String()
	}

	for _, a := range t.Adjustments {
		fmt.Fprintf(&b, "; %s %s%%", a.Rule, a.Percent)
		if a.Note != "" {
			b.WriteString(" (" + a.Note + ")")
		}
	}
	if len(t.Adjustments) > 0 || t.Units > 1 {
		exact := t.Rounded.Mul(t.Percent).Shift(-2)
		fmt.Fprintf(&b, "; %s × %s%% = %s → %s × %d unit", t.Rounded.StringFixed(2), t.Percent,
			exact, t.UnitAmount.StringFixed(2), t.Units)
		if t.Units != 1 {
			b.WriteString("s")
		}
		fmt.Fprintf(&b, " = %s", t.Total.StringFixed(2))
	}

	return b.String()
}
