package billing_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}

	return d
}

// plan is the plan of most cases: $500 deductible, $1,500 out-of-pocket
// maximum, 20% coinsurance, $25 office and $50 specialist copays, $35 for
// other visit types.
var plan = billing.Benefits{
	Deductible:     dec("500"),
	OutOfPocketMax: decimal.NewNullDecimal(dec("1500")),
	Coinsurance:    dec("20"),
	Copay:          map[string]decimal.Decimal{"office": dec("25"), "specialist": dec("50")},
	DefaultCopay:   dec("35"),
}

// share is a want row: allowed, deductible, copay, coinsurance, self-pay,
// patient total, insurer pays.
type share [7]string

func (s share) String() string { return strings.Join(s[:], " ") }

func got(s billing.Share) share {
	f := billing.FormatMoney
	return share{f(s.Allowed), f(s.Deductible), f(s.Copay), f(s.Coinsurance), f(s.SelfPay),
		f(s.PatientTotal), f(s.InsurerPays)}
}

// TestApplyCostSharing checks cost sharing over visits of one plan year.
// Every expected cent is worked out in the comments from the benefits and
// the allowed amounts of the case. The allowed amounts are inputs; 98.19
// (99213, Los Angeles, non-facility), 1340.36 (27447, Los Angeles,
// facility) and 816.08 (49505-50 ranked first) are 2025 fees from the
// billing/pfs tests, 88.95 the README's national 99213.
func TestApplyCostSharing(t *testing.T) {
	tests := []struct {
		name    string
		b       billing.Benefits
		acc     [2]string // deductible met, out-of-pocket met
		lines   []billing.Allowed
		want    []share
		wantAcc [2]string
	}{
		{
			// Input order is Feb, Jan, Jan; shared Jan 10 (two lines, input
			// order) then Feb 3. $100 of deductible left.
			// Jan office 133.05: deductible 100; copay 25 (33.05 left);
			//   coinsurance 20% × 8.05 = 1.61; patient 126.61; insurer 6.44.
			// Jan 21.30: deductible met; coinsurance 4.26; insurer 17.04.
			// Feb office 98.19: copay 25; 20% × 73.19 = 14.638 → 14.64;
			//   patient 39.64; insurer 58.55.
			// Out of pocket: 400 + 126.61 + 4.26 + 39.64 = 570.51.
			name: "DeductiblePartlyMetThenMet",
			b:    plan,
			acc:  [2]string{"400", "400"},
			lines: []billing.Allowed{
				{Date: day("2025-02-03"), Amount: dec("98.19"), VisitType: "office"},
				{Date: day("2025-01-10"), Amount: dec("133.05"), VisitType: "office"},
				{Date: day("2025-01-10"), Amount: dec("21.30")},
			},
			want: []share{
				{"98.19", "0.00", "25.00", "14.64", "0.00", "39.64", "58.55"},
				{"133.05", "100.00", "25.00", "1.61", "0.00", "126.61", "6.44"},
				{"21.30", "0.00", "0.00", "4.26", "0.00", "4.26", "17.04"},
			},
			wantAcc: [2]string{"500.00", "570.51"},
		},
		{
			// Deductible met. Specialist 250: copay 50; 20% × 200 = 40;
			// patient 90. Urgent care 120 (not in the map, default 35):
			// 20% × 85 = 17; patient 52. Out of pocket 900 + 90 + 52 = 1042.
			name: "CopayPlusCoinsurance",
			b:    plan,
			acc:  [2]string{"500", "900"},
			lines: []billing.Allowed{
				{Date: day("2025-03-01"), Amount: dec("250"), VisitType: "specialist"},
				{Date: day("2025-03-02"), Amount: dec("120"), VisitType: "urgent"},
			},
			want: []share{
				{"250.00", "0.00", "50.00", "40.00", "0.00", "90.00", "160.00"},
				{"120.00", "0.00", "35.00", "17.00", "0.00", "52.00", "68.00"},
			},
			wantAcc: [2]string{"500", "1042.00"},
		},
		{
			// $50 of out-of-pocket room. 1340.36: 20% = 268.072 → 268.07,
			// capped at 50; insurer 1290.36. Then the cap is reached: the
			// office visit 816.08 owes no copay or coinsurance.
			name: "OutOfPocketCapMidLine",
			b:    plan,
			acc:  [2]string{"500", "1450"},
			lines: []billing.Allowed{
				{Date: day("2025-06-01"), Amount: dec("1340.36")},
				{Date: day("2025-06-02"), Amount: dec("816.08"), VisitType: "office"},
			},
			want: []share{
				{"1340.36", "0.00", "0.00", "50.00", "0.00", "50.00", "1290.36"},
				{"816.08", "0.00", "0.00", "0.00", "0.00", "0.00", "816.08"},
			},
			wantAcc: [2]string{"500", "1500.00"},
		},
		{
			// $2,000 deductible, $2,500 maximum; 1900 and 2450 met. 300:
			// deductible min(300, 100 left, 50 room) = 50; no room for the
			// copay or coinsurance; insurer 250.
			name: "OutOfPocketCapInsideDeductible",
			b: billing.Benefits{
				Deductible:     dec("2000"),
				OutOfPocketMax: decimal.NewNullDecimal(dec("2500")),
				Coinsurance:    dec("30"),
				DefaultCopay:   dec("40"),
			},
			acc: [2]string{"1900", "2450"},
			lines: []billing.Allowed{
				{Date: day("2025-07-01"), Amount: dec("300"), VisitType: "office"},
			},
			want:    []share{{"300.00", "50.00", "0.00", "0.00", "0.00", "50.00", "250.00"}},
			wantAcc: [2]string{"1950.00", "2500.00"},
		},
		{
			// No cap: 20% of 0.05 = 0.01 (half up); 20% of 0.02 = 0.004 → 0.00.
			// 10.005 is rounded to 10.01 first; 20% = 2.002 → 2.00.
			name: "RoundingHalfUpNoCap",
			b:    billing.Benefits{Coinsurance: dec("20")},
			acc:  [2]string{"0", "0"},
			lines: []billing.Allowed{
				{Amount: dec("0.05")}, {Amount: dec("0.02")}, {Amount: dec("10.005")},
			},
			want: []share{
				{"0.05", "0.00", "0.00", "0.01", "0.00", "0.01", "0.04"},
				{"0.02", "0.00", "0.00", "0.00", "0.00", "0.00", "0.02"},
				{"10.01", "0.00", "0.00", "2.00", "0.00", "2.00", "8.01"},
			},
			wantAcc: [2]string{"0", "2.01"},
		},
		{
			// No coverage: the patient pays each allowed amount (the gross
			// charge, here 150 and 75.505 → 75.51); the accumulator stays.
			name: "SelfPay",
			b:    billing.Benefits{SelfPay: true, Deductible: dec("500")},
			acc:  [2]string{"0", "0"},
			lines: []billing.Allowed{
				{Amount: dec("150")}, {Amount: dec("75.505"), VisitType: "office"},
			},
			want: []share{
				{"150.00", "0.00", "0.00", "0.00", "150.00", "150.00", "0.00"},
				{"75.51", "0.00", "0.00", "0.00", "75.51", "75.51", "0.00"},
			},
			wantAcc: [2]string{"0", "0"},
		},
		{
			// A zero-priced visit line owes no copay; nothing accumulates.
			name:    "ZeroPriced",
			b:       plan,
			acc:     [2]string{"100", "100"},
			lines:   []billing.Allowed{{Amount: dec("0"), VisitType: "office"}},
			want:    []share{{"0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00"}},
			wantAcc: [2]string{"100", "100"},
		},
		{
			// Zero benefits: the insurer pays everything.
			name:    "FullCoverage",
			b:       billing.Benefits{},
			acc:     [2]string{"0", "0"},
			lines:   []billing.Allowed{{Amount: dec("88.95"), VisitType: "office"}},
			want:    []share{{"88.95", "0.00", "0.00", "0.00", "0.00", "0.00", "88.95"}},
			wantAcc: [2]string{"0", "0.00"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc := billing.Accumulator{
				DeductibleMet:  dec(tc.acc[0]),
				OutOfPocketMet: dec(tc.acc[1]),
			}
			shares, gotAcc := billing.ApplyCostSharing(tc.b, acc, tc.lines)

			for i, s := range shares {
				if g := got(s); g != tc.want[i] {
					t.Errorf("line %d: got  %s\nwant %s", i, g, tc.want[i])
				}
				parts := billing.Sum(s.Deductible, s.Copay, s.Coinsurance, s.SelfPay)
				whole := s.PatientTotal.Add(s.InsurerPays)
				if !parts.Equal(s.PatientTotal) || !whole.Equal(s.Allowed) {
					t.Errorf("line %d does not add up: %s", i, got(s))
				}
			}
			if !gotAcc.DeductibleMet.Equal(dec(tc.wantAcc[0])) ||
				!gotAcc.OutOfPocketMet.Equal(dec(tc.wantAcc[1])) {
				t.Errorf("accumulator: got %s / %s, want %v",
					gotAcc.DeductibleMet, gotAcc.OutOfPocketMet, tc.wantAcc)
			}
		})
	}
}

func copays(visitType, amount string) map[string]decimal.Decimal {
	return map[string]decimal.Decimal{visitType: dec(amount)}
}

// TestBenefits_Validate refuses negative amounts and percents outside 0-100.
func TestBenefits_Validate(t *testing.T) {
	tests := []struct {
		name    string
		b       billing.Benefits
		wantErr bool
	}{
		{"Plan", plan, false},
		{"Zero", billing.Benefits{}, false},
		{"NegativeDeductible", billing.Benefits{Deductible: dec("-1")}, true},
		{"NegativeCopay", billing.Benefits{DefaultCopay: dec("-5")}, true},
		{"NegativeVisitCopay", billing.Benefits{Copay: copays("x", "-1")}, true},
		{"NegativeMax", billing.Benefits{OutOfPocketMax: decimal.NewNullDecimal(dec("-1"))}, true},
		{"CoinsuranceOver100", billing.Benefits{Coinsurance: dec("100.5")}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.b.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("got %v, want error %v", err, tc.wantErr)
			}
		})
	}
}
