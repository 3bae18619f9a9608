package pfs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/billing/pfs"
)

// TestParseRVU_NumberLimits: an RVU or conversion factor is a plain
// non-negative decimal of at most 6 digits before the point and 6 after
// (csv.go); anything else is an error naming the file, line and column.
func TestParseRVU_NumberLimits(t *testing.T) {
	const (
		header = "title\nHCPCS,MOD,DESCRIPTION,CODE\n"
		before = "99213,,Office visit,A,,"
		after  = ",1.35,,0.57,,0.1,2.75,1.97,0,XXX,0,0,0,0,0,0,0,0,,32.3465\n"
	)
	tests := []struct {
		name    string
		work    string
		want    string // the work RVU read
		wantErr string // substring after the file, line and column
	}{
		{"Plain", "1.3", "1.3", ""},
		{"Whole", "19", "19", ""},
		{"NoLeadingDigit", ".5", "0.5", ""},
		{"TrailingPoint", "5.", "5", ""},
		{"Widest", "999999.999999", "999999.999999", ""},
		{"TinyExponent", "1e-100000000", "", "no sign, no exponent"},
		{"HugeExponent", "1e400", "", "no sign, no exponent"},
		{"UpperExponent", "1.3E2", "", "no sign, no exponent"},
		{"Negative", "-1.3", "", "no sign, no exponent"},
		{"Plus", "+1.3", "", "no sign, no exponent"},
		{"TwoPoints", "1.3.1", "", "no sign, no exponent"},
		{"Point", ".", "", "no digits"},
		{"Infinity", "Infinity", "", "no sign, no exponent"},
		{"SevenWholeDigits", "1000000", "", "more than 6 digits before"},
		{"SevenPlaces", "0.1234567", "", "more than 6 digits after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := pfs.ParseRVU(strings.NewReader(header + before + tc.work + after))
			if tc.wantErr == "" {
				if err != nil || len(rows) != 1 || rows[0].Work.String() != tc.want {
					t.Fatalf("got %v, %v; want one row of work RVU %s", rows, err, tc.want)
				}
				return
			}
			prefix := "relative value file line 3 column 6: pfs: unexpected file format: WORK RVU: "
			if !errors.Is(err, pfs.ErrFormat) || !strings.HasPrefix(err.Error(), prefix) ||
				!strings.Contains(err.Error(), tc.wantErr) || rows != nil {
				t.Errorf("got %d rows, error %v; want none and an error starting %q, containing %q",
					len(rows), err, prefix, tc.wantErr)
			}
		})
	}

	// The conversion factor is bounded the same way (column 25).
	_, err := pfs.ParseRVU(strings.NewReader(header + before + "1.3" +
		strings.Replace(after, "32.3465", "3e1", 1)))
	want := "line 3 column 25: pfs: unexpected file format: CONV FACTOR"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("CF 3e1: got error %v, want one containing %q", err, want)
	}
}

// TestParseGPCI_NumberLimits: GPCIs are bounded like RVUs; the error names
// the column of the index at fault.
func TestParseGPCI_NumberLimits(t *testing.T) {
	const head = "ADDENDUM E. FINAL CY 2025 GPCIs,,,,,,\n,,,,,,\n" +
		"MAC,State,Locality Number,Name,PW,PE,MP\n"
	bad := ": " + pfs.ErrFormat.Error() + ": "
	tests := []struct {
		name    string
		row     string
		wantErr string // empty means success
	}{
		{"Valid", "10112,AL,0,ALABAMA,1,0.869,0.575", ""},
		{"NegativeWork", "10112,AL,0,ALABAMA,-1,0.869,0.575", "line 4 column 5" + bad + "PW GPCI"},
		{"ExponentPE", "10112,AL,0,ALABAMA,1,8.69e-1,0.575", "line 4 column 6" + bad + "PE GPCI"},
		{"LongMP", "10112,AL,0,ALABAMA,1,0.869,0.5750001", "line 4 column 7" + bad + "MP GPCI"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := pfs.ParseGPCI(strings.NewReader(head + tc.row + "\n"))
			if tc.wantErr == "" {
				if err != nil || len(rows) != 1 {
					t.Fatalf("got %d rows, %v; want 1 row, no error", len(rows), err)
				}
				return
			}
			want := "GPCI file " + tc.wantErr
			if !errors.Is(err, pfs.ErrFormat) || !strings.Contains(err.Error(), want) ||
				rows != nil {
				t.Errorf("got %d rows, error %v; want none and an error containing %q",
					len(rows), err, want)
			}
		})
	}
}
