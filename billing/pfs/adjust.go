package pfs

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/shopspring/decimal"
)

// Line is one priced service of an encounter, as [Adjust] takes it.
type Line struct {
	Fee       Fee      // from [Price]; Fee.RVU holds the row's indicators
	Modifiers []string // every modifier billed: 50, 51, 80, 81, 82, AS, 26, TC, ...
	Units     int      // units of service; a value below 1 counts as 1
}

// Modifiers that trigger payment rules.
const (
	ModBilateral     = "50"
	ModAssistant     = "80"
	ModAssistantMin  = "81"
	ModAssistantNoQR = "82"
	ModAssistantNPP  = "AS"
)

var (
	assistantPercent = decimal.NewFromInt(16)
	// nppAssistantPercent is what Medicare pays a non-physician
	// practitioner assisting at surgery (modifier AS): 85% of the 16%.
	nppAssistantPercent = decimal.RequireFromString("13.6")
	secondPercent       = decimal.NewFromInt(50)
)

// Adjust applies the payment rules that depend on the other services of the
// same encounter (one performer, one date of service) and returns new lines;
// the input is not changed. For each line, in this order:
//
//  1. Bilateral: with modifier 50, by the BILAT SURG indicator: 1 pays 150%,
//     2 (the code is already bilateral) 100%, 3 (each side paid in full)
//     200%, 0 and 9 100% with a note saying why 150% does not apply.
//  2. Multiple procedures: lines whose MULT PROC indicator is 2 (with or
//     without modifier 51) are ranked by fee after the bilateral percent,
//     highest first, ties by code then input order; the first is paid at
//     100%, every other at 50%. Only applies with two or more such lines.
//  3. Assistant at surgery: with modifier 80, 81 or 82, ASST SURG
//     indicator 2 pays 16% (AS, a non-physician assistant, 85% of that:
//     13.6%); 0, 1 and 9 make the line not payable.
//
// The percents multiply the fee schedule amount (Fee.Trail.Rounded), the
// product is rounded half up to the cent once per line, and that unit
// amount is multiplied by Units. Fee.Amount becomes the line total; the
// trail records every percent. Lines that are not payable stay at zero and
// take no part in the ranking.
func Adjust(lines []Line) []Line {
	out := make([]Line, len(lines))
	factors := make([]decimal.Decimal, len(lines))
	var ranked, special []int
	payable := 0
	for i, l := range lines {
		l.Modifiers = slices.Clone(l.Modifiers)
		l.Fee.Trail.Adjustments = slices.Clone(l.Fee.Trail.Adjustments)
		l.Fee.Trail.Notes = slices.Clone(l.Fee.Trail.Notes)
		out[i] = l
		factors[i] = one
		if !l.Fee.Payable {
			continue
		}

		// Known gap: RT and LT on two lines are not combined into one bilateral procedure.
		if hasModifier(l.Modifiers, ModBilateral) {
			a := bilateral(l.Fee.RVU.Bilateral)
			out[i].Fee.Trail.Adjustments = append(out[i].Fee.Trail.Adjustments, a)
			factors[i] = a.Percent.Shift(-2)
		}
		if isAssistant(l.Modifiers) && l.Fee.RVU.AssistSurgery != 2 {
			deny(&out[i], assistantDenied(l.Fee.RVU.AssistSurgery))
			continue
		}

		// Known gap: co-surgery (62) and team surgery (66) are not applied.
		payable++
		switch mp := l.Fee.RVU.MultProc; {
		case mp == 2:
			ranked = append(ranked, i)
		case mp >= 3 && mp <= 7:
			special = append(special, i)
		}
	}

	if len(ranked) >= 2 {
		rankMultiple(out, factors, ranked)
	}
	if payable >= 2 {
		for _, i := range special {
			// Known gap: MULT PROC 3-7 (endoscopy, imaging, therapy...) special rules not applied.
			ind := out[i].Fee.RVU.MultProc
			addAdjustment(&out[i], Adjustment{Rule: RuleMultipleProcedure, Percent: hundred,
				Note: fmt.Sprintf("special rule for indicator %s not applied", ind)})
		}
	}

	for i := range out {
		l := &out[i]
		if !l.Fee.Payable {
			continue
		}
		if isAssistant(l.Modifiers) {
			pct, note := assistantPercent, "ASST SURG 2: assistant paid 16%"
			if slices.Contains(l.Modifiers, ModAssistantNPP) {
				pct, note = nppAssistantPercent, "ASST SURG 2: non-physician assistant (AS) paid 85% of 16% = 13.6%"
			}
			addAdjustment(l, Adjustment{Rule: RuleAssistant, Percent: pct, Note: note})
			factors[i] = factors[i].Mul(pct.Shift(-2))
		}
		finish(l, factors[i])
	}

	return out
}

// rankMultiple applies the standard multiple-procedure rule to the lines
// at indexes idx: 100% for the highest fee, 50% for every other.
func rankMultiple(out []Line, factors []decimal.Decimal, idx []int) {
	ranked := slices.Clone(idx)
	amount := make(map[int]decimal.Decimal, len(idx)) // fee after the bilateral percent
	for _, i := range idx {
		amount[i] = out[i].Fee.Trail.Rounded.Mul(factors[i])
	}
	sort.SliceStable(ranked, func(a, b int) bool {
		i, j := ranked[a], ranked[b]
		if c := amount[i].Cmp(amount[j]); c != 0 {
			return c > 0
		}
		if out[i].Fee.RVU.Code != out[j].Fee.RVU.Code {
			return out[i].Fee.RVU.Code < out[j].Fee.RVU.Code
		}

		return i < j
	})

	for rank, i := range ranked {
		pct := secondPercent
		if rank == 0 {
			pct = hundred
		}
		addAdjustment(&out[i], Adjustment{Rule: RuleMultipleProcedure, Percent: pct,
			Note: fmt.Sprintf("MULT PROC 2, rank %d of %d", rank+1, len(ranked))})
		factors[i] = factors[i].Mul(pct.Shift(-2))
	}
}

// bilateral returns the bilateral adjustment for a BILAT SURG indicator.
func bilateral(ind Indicator) Adjustment {
	a := Adjustment{Rule: RuleBilateral, Percent: hundred}
	switch ind {
	case 1:
		a.Percent = decimal.NewFromInt(150)
		a.Note = "BILAT SURG 1: 150% for both sides"
	case 2:
		a.Note = "BILAT SURG 2: code already describes both sides"
	case 3:
		a.Percent = decimal.NewFromInt(200)
		a.Note = "BILAT SURG 3: each side paid at 100%"
	case 0:
		a.Note = "BILAT SURG 0: the 150% bilateral adjustment does not apply"
	default:
		a.Note = fmt.Sprintf("BILAT SURG %s: the bilateral concept does not apply", ind)
	}

	return a
}

// assistantDenied says why an assistant at surgery is not paid.
func assistantDenied(ind Indicator) string {
	why := "the assistant-at-surgery concept does not apply"
	switch ind {
	case 0:
		why = "not paid without documentation of medical necessity"
	case 1:
		why = "statutory payment restriction"
	}

	return fmt.Sprintf("assistant at surgery not paid for this code (ASST SURG %s: %s)", ind, why)
}

func deny(l *Line, reason string) {
	l.Fee.Payable = false
	l.Fee.Reason = reason
	l.Fee.Amount = decimal.Zero
	l.Fee.Trail.Reason = reason
	l.Fee.Trail.UnitAmount = decimal.Zero
	l.Fee.Trail.Total = decimal.Zero
}

func addAdjustment(l *Line, a Adjustment) {
	l.Fee.Trail.Adjustments = append(l.Fee.Trail.Adjustments, a)
}

// finish rounds the unit amount once and multiplies it by the units.
func finish(l *Line, factor decimal.Decimal) {
	t := &l.Fee.Trail
	// Known gap: CMS ranks further units of a MULT PROC 2 code as further procedures.
	t.Units = max(l.Units, 1)
	t.Percent = factor.Shift(2)
	t.UnitAmount = t.Rounded.Mul(factor).Round(2)
	t.Total = t.UnitAmount.Mul(decimal.NewFromInt(int64(t.Units)))
	l.Fee.Amount = t.Total
}

func hasModifier(mods []string, want string) bool {
	for _, m := range mods {
		if strings.EqualFold(strings.TrimSpace(m), want) {
			return true
		}
	}

	return false
}

func isAssistant(mods []string) bool {
	return hasModifier(mods, ModAssistant) || hasModifier(mods, ModAssistantMin) ||
		hasModifier(mods, ModAssistantNoQR) || hasModifier(mods, ModAssistantNPP)
}
