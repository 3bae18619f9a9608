package resource_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

func TestCheckJSON_Numbers(t *testing.T) {
	for _, tc := range []struct {
		num  string
		want bool // accepted
	}{
		{"10.50", true},
		{"0", true},
		{"-0.5", true},
		{strings.Repeat("9", 18), true},
		{strings.Repeat("9", 19), false},
		{"0." + strings.Repeat("1", 30), true},
		{"0." + strings.Repeat("1", 31), false},
		{"0.0035292338017849133", true},         // a double, as Synthea prints it
		{"1." + strings.Repeat("0", 31), false}, // trailing zeros are precision
		{"1.5e3", true},                         // 1500
		{"1e17", true},                          // 18 digits
		{"1e18", false},                         // 19 digits
		{"1e-30", true},
		{"1e-31", false},
		{"1.5E-29", true},
		{"123.45e-28", true},  // 28 zeros and 12345: 30 after
		{"123.45e-29", false}, // 31 after
		{"0.05e1", true},
		{"1e-10000000", false},
		{"1e400", false},
		{"1e+0400", false},
		{"0e99999", false},
	} {
		t.Run(tc.num, func(t *testing.T) {
			err := resource.CheckJSON([]byte(`{"resourceType":"Invoice","totalNet":{"value":` + tc.num + `}}`))
			if tc.want {
				if err != nil {
					t.Fatalf("got %v, want it accepted", err)
				}
				return
			}
			var re *resource.Error
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *resource.Error", err)
			}
			if re.Status != http.StatusBadRequest || re.Issues[0].Code != resource.IssueValue {
				t.Errorf("got %d %s, want 400 value", re.Status, re.Issues[0].Code)
			}
			if got := re.Issues[0].Expression; len(got) != 1 || got[0] != "Invoice.totalNet.value" {
				t.Errorf("expression: got %v, want Invoice.totalNet.value", got)
			}
			if strings.Contains(re.Issues[0].Diagnostics, tc.num) {
				t.Errorf("diagnostics echo the value: %s", re.Issues[0].Diagnostics)
			}
		})
	}
}
