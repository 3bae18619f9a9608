package billing_test

import (
	"errors"
	"testing"

	"github.com/fhirbill/fhirbill/billing"
)

// TestParseMoney checks the FHIR decimal lexical form
// (https://hl7.org/fhir/R4/datatypes.html#decimal) and that digits are kept.
func TestParseMoney(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // exponent kept: the value printed with its own places
		wantErr bool
	}{
		{"TrailingZeroKept", "12.50", "12.50", false},
		{"Zero", "0", "0", false},
		{"NegativeSubCent", "-0.005", "-0.005", false},
		{"ManyDigits", "1.000000000000000001", "1.000000000000000001", false},
		{"Exponent", "1e2", "100", false},
		{"Empty", "", "", true},
		{"LeadingZero", "01", "", true},
		{"NoIntegerPart", ".5", "", true},
		{"NoFraction", "1.", "", true},
		{"PlusSign", "+1", "", true},
		{"DecimalComma", "1,5", "", true},
		{"LeadingSpace", " 1", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := billing.ParseMoney(tc.in)
			if tc.wantErr {
				if !errors.Is(err, billing.ErrNotDecimal) {
					t.Errorf("got %v, %v; want ErrNotDecimal", d, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := d.StringFixed(-d.Exponent()); d.Exponent() < 0 && got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if d.Exponent() >= 0 && d.String() != tc.want {
				t.Errorf("got %s, want %s", d.String(), tc.want)
			}
		})
	}
}

// TestRoundCent rounds half up (away from zero for credits).
func TestRoundCent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"88.952875", "88.95"}, // 99213 national non-facility (testdata README)
		{"0.005", "0.01"},
		{"0.0049999", "0.00"},
		{"816.075", "816.08"},
		{"-0.005", "-0.01"},
		{"7", "7.00"},
	}
	for _, tc := range tests {
		if got := billing.FormatMoney(billing.RoundCent(dec(tc.in))); got != tc.want {
			t.Errorf("RoundCent(%s): got %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestSum adds exactly: 0.1 + 0.2 is 0.3, not 0.30000000000000004.
func TestSum(t *testing.T) {
	if got := billing.Sum(dec("0.1"), dec("0.2")); !got.Equal(dec("0.3")) {
		t.Errorf("got %s, want 0.3", got)
	}
	if got := billing.Sum(); !got.IsZero() {
		t.Errorf("Sum(): got %s, want 0", got)
	}
}
