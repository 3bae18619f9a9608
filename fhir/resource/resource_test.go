package resource_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

func TestParse_Errors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		wantCode resource.IssueType
		wantExpr string
	}{
		{"DuplicateKey", `{"resourceType":"Patient","gender":"male","gender":"male"}`, resource.IssueStructure, "Patient.gender"},
		{"TrailingData", `{"resourceType":"Patient"} {}`, resource.IssueStructure, ""},
		{"Array", `[{"resourceType":"Patient"}]`, resource.IssueStructure, ""},
		{"Truncated", `{"resourceType":"Patient"`, resource.IssueStructure, ""},
		{"TooDeep", `{"resourceType":"Patient","x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, resource.IssueTooCostly, ""},
		{"UnknownElement", `{"resourceType":"Patient","shoeSize":1}`, resource.IssueStructure, "Patient.shoeSize"},
		{"ImpossibleDate", `{"resourceType":"Patient","birthDate":"2023-02-29"}`, resource.IssueInvalid, "Patient.birthDate"},
		{"BadCode", `{"resourceType":"Patient","gender":"robot"}`, resource.IssueCodeInvalid, "Patient.gender"},
		{"MissingRequired", `{"resourceType":"Invoice"}`, resource.IssueRequired, "Invoice.status"},
		{"UnknownType", `{"resourceType":"Bogus"}`, resource.IssueInvalid, "resourceType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resource.Parse([]byte(tc.body))
			var re *resource.Error
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *resource.Error", err)
			}
			if re.Status != http.StatusBadRequest {
				t.Errorf("status: got %d, want 400", re.Status)
			}
			is := re.Issues[0]
			if is.Code != tc.wantCode {
				t.Errorf("code: got %s, want %s (%s)", is.Code, tc.wantCode, is.Diagnostics)
			}
			if tc.wantExpr != "" && (len(is.Expression) == 0 || is.Expression[0] != tc.wantExpr) {
				t.Errorf("expression: got %v, want %s", is.Expression, tc.wantExpr)
			}
		})
	}
}

func TestParse_KeepsDecimalsAndStamps(t *testing.T) {
	r, err := resource.Parse([]byte(`{"resourceType":"Invoice","id":"a","status":"draft","meta":{"source":"urn:ehr:x","versionId":"9"},"totalNet":{"value":10.50,"currency":"USD"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Type() != "Invoice" || r.ID() != "a" {
		t.Fatalf("got %s/%s, want Invoice/a", r.Type(), r.ID())
	}
	r.SetID("b")
	r.Stamp(3, time.Date(2024, 3, 1, 12, 0, 0, 500e6, time.UTC))
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The server's meta replaces the client's versionId; source is kept.
	for _, want := range []string{`"id":"b"`, `"value":10.50`, `"versionId":"3"`, `"lastUpdated":"2024-03-01T12:00:00.500Z"`, `"source":"urn:ehr:x"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("printed %s: missing %s", b, want)
		}
	}
}

func TestTypes(t *testing.T) {
	if n := len(resource.Types()); n < 140 {
		t.Errorf("got %d resource types, want the ~146 of R4", n)
	}
	for _, typ := range []string{"Claim", "Invoice", "ChargeItem", "Coverage", "Bundle"} {
		if !resource.Known(typ) {
			t.Errorf("%s not known", typ)
		}
	}
	if resource.Known("Bogus") {
		t.Error("Bogus known")
	}
}
