package rest_test

import (
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// TestContent_TwoContentTypes: more than one Content-Type header is a 400
// with an OperationOutcome, as two Authorization headers are: the field is
// a singleton (RFC 9110 §8.3), and taking the first would be a guess.
// Nothing is stored.
func TestContent_TwoContentTypes(t *testing.T) {
	s := resttest.New(t)
	patient := []byte(`{"resourceType":"Patient"}`)
	checkRequests(t, s, []requestCase{
		{"OneContentType", "POST", "/Patient", patient, nil, 201, "", ""},
		{"TwoContentTypes", "POST", "/Patient", patient,
			[]string{"Content-Type", "application/fhir+json", "Content-Type", "application/fhir+json"},
			400, "invalid", "2 Content-Type headers"},
		{"TwoDifferentContentTypes", "POST", "/Patient", patient,
			[]string{"Content-Type", "application/fhir+json", "Content-Type", "text/plain"},
			400, "invalid", "2 Content-Type headers"},
		{"TwoContentTypesOnRead", "GET", "/Patient", nil,
			[]string{"Content-Type", "application/fhir+json", "Content-Type", "application/json"},
			400, "invalid", "2 Content-Type headers"},
	})
	if n := count(t, s, "Patient"); n != "1" {
		t.Errorf("Patients stored: got %s, want 1 (OneContentType's)", n)
	}
}

// requestCase is a request and the answer it must get.
type requestCase struct {
	name     string
	method   string
	path     string
	body     []byte
	header   []string
	want     int
	wantCode string // issue code of the OperationOutcome, for a 4xx
	wantText string // in its diagnostics
}

// checkRequests sends each request to s and checks its answer.
func checkRequests(t *testing.T, s *resttest.Server, tests []requestCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.Do(tc.method, tc.path, tc.body, tc.header...)
			if got.Status != tc.want {
				t.Fatalf("got %d, want %d: %s", got.Status, tc.want, short(got.Body))
			}
			if tc.wantCode == "" {
				return
			}
			oo := got.JSON()
			issues, _ := oo["issue"].([]any)
			if oo["resourceType"] != "OperationOutcome" || len(issues) == 0 {
				t.Fatalf("got %s, want an OperationOutcome", short(got.Body))
			}
			issue, _ := issues[0].(map[string]any)
			diag, _ := issue["diagnostics"].(string)
			if issue["code"] != tc.wantCode || !strings.Contains(diag, tc.wantText) {
				t.Errorf("got %s, want issue code %s and the text %q",
					short(got.Body), tc.wantCode, tc.wantText)
			}
		})
	}
}
