package pfs_test

import (
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/billing/pfs"
	"github.com/shopspring/decimal"
)

// line is one input of an Adjust case: code, pricing modifier, facility,
// modifiers billed, units.
type line struct {
	code, mod string
	facility  bool
	mods      []string
	units     int
}

// TestAdjust applies the encounter rules to real 2025 rows in Los Angeles
// (1182-18; GPCI 1.042 / 1.194 / 0.69). The fee schedule amounts, from the
// rows of PPRRVU25_JAN1.csv × CF 32.3465 (checked with python3 decimal),
// with the row's MULT PROC, BILAT SURG and ASST SURG indicators:
//
//	47562 fac (10.47×1.042 + 6.97×1.194 + 2.62×0.69) = 680.56130298 → 680.56 MULT 2 BIL 0 AS 2
//	49505 fac (7.96×1.042 + 5.99×1.194 + 1.99×0.69)  = 544.05130982 → 544.05 MULT 2 BIL 1 AS 2
//	11042 fac (1.01×1.042 + 0.68×1.194 + 0.13×0.69)  = 63.20635486  → 63.21  MULT 2 BIL 0 AS 1
//	69436 fac (2.01×1.042 + 2.55×1.194 + 0.29×0.69)  = 172.70507973 → 172.71 BIL 1
//	45378 fac (3.26×1.042 + 1.79×1.194 + 0.43×0.69)  = 188.60855992 → 188.61 AS 1
//	99213 nf  (1.3×1.042 + 1.35×1.194 + 0.1×0.69)    = 98.18780075  → 98.19  BIL 0 AS 0
//	92002 nf  (0.88×1.042 + 1.61×1.194 + 0.02×0.69)  = 92.28779915  → 92.29  BIL 2
//	70030 nf  (0.18×1.042 + 0.79×1.194 + 0.02×0.69)  = 37.02445083  → 37.02  BIL 3
//	G0102 nf  (0.18×1.042 + 0.51×1.194 + 0.01×0.69)  = 25.9871781   → 25.99  BIL 9
//	97110 nf  (0.45×1.042 + 0.43×1.194 + 0.01×0.69)  = 31.99780473  → 32.00  MULT 5
//	71046-26 nf (0.22×1.042 + 0.08×1.194 + 0.01×0.69) = 10.72804019 → 10.73
//	71046-TC nf (0×1.042 + 0.69×1.194 + 0.01×0.69)    = 26.87217834 → 26.87 (facility NA)
//	71046 nf  (0.22×1.042 + 0.77×1.194 + 0.02×0.69)  = 37.60021853  → 37.60
func TestAdjust(t *testing.T) {
	s := testSchedule(t)
	tests := []struct {
		name  string
		lines []line
		want  []string // per line: amount, or "not payable: <reason prefix>"
	}{
		{
			// Ranked 47562 680.56 > 49505 544.05 > 11042 63.21: 100/50/50.
			// 680.56; 544.05 × 50% = 272.025 → 272.03; 63.21 × 50% = 31.605 → 31.61.
			name: "ThreeProcedures",
			lines: []line{
				{"11042", "", true, nil, 1},
				{"49505", "", true, []string{"51"}, 1},
				{"47562", "", true, nil, 1},
			},
			want: []string{"31.61", "272.03", "680.56"},
		},
		{
			// Bilateral first: 49505-50 544.05 × 150% = 816.075 outranks 47562.
			// 49505: 816.075 → 816.08; 47562: 680.56 × 50% = 340.28; 11042: 31.61.
			name: "BilateralChangesRanking",
			lines: []line{
				{"47562", "", true, nil, 1},
				{"49505", "", true, []string{"50"}, 1},
				{"11042", "", true, nil, 1},
			},
			want: []string{"340.28", "816.08", "31.61"},
		},
		{
			// Same code twice, same fee: input order breaks the tie.
			name:  "TieByInputOrder",
			lines: []line{{"11042", "", true, nil, 1}, {"11042", "", true, nil, 1}},
			want:  []string{"63.21", "31.61"},
		},
		{
			// 69436-50 BILAT 1: 172.71 × 150% = 259.065 → 259.07.
			name:  "Bilateral150",
			lines: []line{{"69436", "", true, []string{"50"}, 1}},
			want:  []string{"259.07"},
		},
		{
			// BILAT 2: 92.29 (100%); BILAT 3: 37.02 × 200% = 74.04;
			// BILAT 0: 98.19 (100%); BILAT 9: 25.99 (100%).
			// 99213 is MULT PROC 0, 92002 0, 70030 0, G0102 9: no ranking.
			name: "BilateralOtherIndicators",
			lines: []line{
				{"92002", "", false, []string{"50"}, 1}, {"70030", "", false, []string{"50"}, 1},
				{"99213", "", false, []string{"50"}, 1}, {"G0102", "", false, []string{"50"}, 1},
			},
			want: []string{"92.29", "74.04", "98.19", "25.99"},
		},
		{
			// ASST 2: 680.56 × 16% = 108.8896 → 108.89; ASST 1 and 0: not paid.
			name: "Assistant",
			lines: []line{
				{"47562", "", true, []string{"80"}, 1}, {"45378", "", true, []string{"82"}, 1},
				{"99213", "", false, []string{"AS"}, 1},
			},
			want: []string{
				"108.89",
				"not payable: assistant at surgery not paid for this code (ASST SURG 1",
				"not payable: assistant at surgery not paid for this code (ASST SURG 0",
			},
		},
		{
			// AS (non-physician assistant): Medicare pays 85% of the 16%
			// (Medicare pays non-physician practitioners 85% of the physician rate;
			// Noridian's modifier AS guidance):
			// 680.56 × 13.6% = 92.55616 → 92.56.
			name:  "AssistantNonPhysician",
			lines: []line{{"47562", "", true, []string{"AS"}, 1}},
			want:  []string{"92.56"},
		},
		{
			// Assistant on two procedures: 47562 100% × 16% = 108.89;
			// 49505 50% × 16% = 8%: 544.05 × 8% = 43.524 → 43.52.
			name: "AssistantMultiple",
			lines: []line{
				{"49505", "", true, []string{"81"}, 1},
				{"47562", "", true, []string{"81"}, 1},
			},
			want: []string{"43.52", "108.89"},
		},
		{
			// 26 and TC from their own rows: 10.73 + 26.87 = 37.60, the global
			// amount. In a facility the TC row is NA: not payable.
			name: "ProfessionalAndTechnical",
			lines: []line{
				{"71046", "26", false, []string{"26"}, 1},
				{"71046", "TC", false, []string{"TC"}, 1},
				{"71046", "", false, nil, 1},
				{"71046", "TC", true, []string{"TC"}, 1},
			},
			want: []string{"10.73", "26.87", "37.60", "not payable: the facility PE RVU is NA"},
		},
		{
			// Units after adjustments: 32.00 × 3 = 96.00; MULT PROC 5 noted only.
			name:  "Units",
			lines: []line{{"97110", "", false, nil, 3}, {"99213", "", false, nil, 0}},
			want:  []string{"96.00", "98.19"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := make([]pfs.Line, len(tc.lines))
			for i, l := range tc.lines {
				fee, err := s.Price(l.code, l.mod, la, l.facility)
				if err != nil {
					t.Fatalf("Price(%s): %v", l.code, err)
				}
				in[i] = pfs.Line{Fee: fee, Modifiers: l.mods, Units: l.units}
			}

			out := pfs.Adjust(in)
			for i, l := range out {
				got := l.Fee.Amount.StringFixed(2)
				if !l.Fee.Payable {
					got = "not payable: " + l.Fee.Reason
				}
				if !strings.HasPrefix(got, tc.want[i]) {
					t.Errorf("line %d (%s): got %s, want %s; trail: %s",
						i, tc.lines[i].code, got, tc.want[i], l.Fee.Trail)
				}
				if in[i].Fee.Amount.Cmp(in[i].Fee.Trail.Rounded) != 0 && in[i].Fee.Payable {
					t.Errorf("line %d: Adjust changed its input", i)
				}
			}
		})
	}
}

// TestAdjust_Trail checks the printed trail of an adjusted line and the
// notes of rules considered but not applied.
func TestAdjust_Trail(t *testing.T) {
	s := testSchedule(t)
	price := func(code string, facility bool, mods ...string) pfs.Line {
		fee, err := s.Price(code, "", la, facility)
		if err != nil {
			t.Fatal(err)
		}
		return pfs.Line{Fee: fee, Modifiers: mods}
	}

	out := pfs.Adjust([]pfs.Line{
		price("47562", true), price("49505", true, "50"), price("11042", true),
	})
	want := "PFS 2025 49505 loc 1182-18 LOS ANGELES-LONG BEACH-ANAHEIM (LOS ANGELES/ORANGE CNTY) " +
		"facility: (work 7.96 × 1.042 + PE 5.99 × 1.194 + MP 1.99 × 0.69) × CF 32.3465 = " +
		"544.05130982 → 544.05; bilateral 150% (BILAT SURG 1: 150% for both sides); " +
		"multiple procedure 100% (MULT PROC 2, rank 1 of 3); " +
		"544.05 × 150% = 816.075 → 816.08 × 1 unit = 816.08"
	if got := out[1].Fee.Trail.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := out[0].Fee.Trail.Percent; !got.Equal(decimal.NewFromInt(50)) {
		t.Errorf("47562: got percent %s, want 50", got)
	}

	out = pfs.Adjust([]pfs.Line{price("97110", false), price("99213", false, "50")})
	const (
		note5 = "multiple procedure 100% (special rule for indicator 5 not applied)"
		note0 = "bilateral 100% (BILAT SURG 0: the 150% bilateral adjustment does not apply)"
	)
	if got := out[0].Fee.Trail.String(); !strings.Contains(got, note5) {
		t.Errorf("97110: got %s, want %q", got, note5)
	}
	if got := out[1].Fee.Trail.String(); !strings.Contains(got, note0) {
		t.Errorf("99213-50: got %s, want %q", got, note0)
	}
}

// TestAdjust_TieByCode ranks two equal fees by code, not input order.
// Rows built here: work 1 only, national GPCI, CF 10: both 10.00.
func TestAdjust_TieByCode(t *testing.T) {
	cf := decimal.NewFromInt(10)
	row := func(code string) pfs.Line {
		r := pfs.RVU{Code: code, Status: pfs.StatusActive, Work: decimal.NewFromInt(1),
			MultProc: 2, CF: cf}
		return pfs.Line{Fee: pfs.Price(r, pfs.NationalGPCI(), cf, false)}
	}

	out := pfs.Adjust([]pfs.Line{row("20000"), row("10000")})
	a, b := out[0].Fee.Amount.StringFixed(2), out[1].Fee.Amount.StringFixed(2)
	if a != "5.00" || b != "10.00" {
		t.Errorf("got 20000 %s, 10000 %s; want 5.00 and 10.00 (10000 ranks first by code)", a, b)
	}
}
