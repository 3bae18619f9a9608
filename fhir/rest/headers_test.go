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
	const ct, fhirJSON = "Content-Type", "application/fhir+json"
	checkRequests(t, s, []requestCase{
		{"OneContentType", "POST", "/Patient", patient, nil, 201, "", ""},
		{"TwoContentTypes", "POST", "/Patient", patient,
			[]string{ct, fhirJSON, ct, fhirJSON},
			400, "invalid", "2 Content-Type headers"},
		{"TwoDifferentContentTypes", "POST", "/Patient", patient,
			[]string{ct, fhirJSON, ct, "text/plain"},
			400, "invalid", "2 Content-Type headers"},
		{"TwoContentTypesOnRead", "GET", "/Patient", nil,
			[]string{ct, fhirJSON, ct, "application/json"},
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

// TestSearch_QueryParamLimit: a query string of more than 10,000
// parameters (Go's url.ParseQuery limit, counted as it counts them:
// '&'-separated parts, empty ones too) is a 400 OperationOutcome saying
// so, wherever the URL leads, not one about a malformed % escape; so is a
// form body, an If-None-Exist or a batch entry's URL past it.
func TestSearch_QueryParamLimit(t *testing.T) {
	s := resttest.New(t)
	patient := []byte(`{"resourceType":"Patient"}`)
	params := func(n int) string { return strings.Repeat("&given=a", n)[1:] }
	const form = "application/x-www-form-urlencoded"
	checkRequests(t, s, []requestCase{
		// A search takes at most 100 parameters; metadata ignores them.
		{"AtTheLimit", "GET", "/metadata?" + params(maxParams), nil, nil, 200, "", ""},
		{"EmptyPartsAtTheLimit", "GET", "/Patient?_count=1" + strings.Repeat("&", maxParams-1),
			nil, nil, 200, "", ""},
		{"PastTheLimit", "GET", "/Patient?" + params(maxParams+1), nil, nil, 400, "too-long",
			"the query string has 10001 parameters ('&'-separated parts), " +
				"more than the limit of 10000"},
		{"EmptyPartsPastTheLimit", "GET", "/Patient?_count=1" + strings.Repeat("&", maxParams),
			nil, nil, 400, "too-long", "the query string has 10001 parameters"},
		{"PastTheLimitOnRead", "GET", "/Patient/p1?" + params(maxParams+1), nil, nil, 400,
			"too-long", "more than the limit of 10000"},
		{"PastTheLimitOnCreate", "POST", "/Patient?" + params(maxParams+1), patient, nil, 400,
			"too-long", "more than the limit of 10000"},
		{"FormPastTheLimit", "POST", "/Patient/_search", []byte(params(maxParams + 1)),
			[]string{"Content-Type", form}, 400, "too-long", "the form body has 10001 parameters"},
		{"FormAtTheLimit", "POST", "/Patient/_search",
			[]byte("_count=1" + strings.Repeat("&", maxParams-1)),
			[]string{"Content-Type", form}, 200, "", ""},
		{"IfNoneExistPastTheLimit", "POST", "/Patient", patient,
			[]string{"If-None-Exist", params(maxParams + 1)}, 400, "too-long",
			"If-None-Exist has 10001 parameters"},
	})

	batch := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET",` +
		`"url":"Patient?` + params(maxParams+1) + `"}}]}`
	got := s.Do("POST", "", []byte(batch))
	if got.Status != 200 || !strings.Contains(string(got.Body), `"status":"400`) ||
		!strings.Contains(string(got.Body), "request.url has 10001 parameters") {
		t.Errorf("batch GET past the limit: got %d %s, want 200 with the entry a 400 naming "+
			"request.url", got.Status, short(got.Body))
	}
	if n := count(t, s, "Patient"); n != "0" {
		t.Errorf("Patients stored: got %s, want 0", n)
	}
}

// maxParams is the limit on query parameters the README states.
const maxParams = 10000
