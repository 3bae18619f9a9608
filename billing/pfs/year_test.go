package pfs_test

import (
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/billing/pfs"
)

// TestTitleYear reads the year a file's title states; the titles are the
// first lines of the CY 2025 files.
func TestTitleYear(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"RVU", ",,2025 National Physician Fee Schedule Relative Value File,,\n" +
			",,CPT codes and descriptions only are copyright 2024 AMA.,,\n", 2025},
		{"GPCI", "ADDENDUM E. FINAL CY 2025 GEOGRAPHIC PRACTICE COST INDICES,,\n", 2025},
		{"Counties", ",,,,\nCOUNTIES INCLUDED IN 2025 LOCALITIES.,,,,\n", 2025},
		{"Other", "ADDENDUM E. FINAL CY 2024 GEOGRAPHIC PRACTICE COST INDICES,,\n", 2024},
		{"NoYear", "HCPCS,MOD,DESCRIPTION\n", 0},
		{"TwoYears", "CY 2025 values (CY 2024 for comparison)\n", 0},
		{"NotAWord", "code 120251,x\n", 0},
		{"Empty", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pfs.TitleYear(strings.NewReader(tc.in)); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}

	for _, name := range []string{rvuFile, gpciFile, countyFile} {
		if got := pfs.TitleYear(openCMS(t, name)); got != 2025 {
			t.Errorf("%s: got %d, want 2025 (its title)", name, got)
		}
	}
}
