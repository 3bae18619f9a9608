package rest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// TestMalformed sends requests a client can get wrong. Each must get the
// right 4xx with an OperationOutcome, never a 5xx, and change nothing.
func TestMalformed(t *testing.T) {
	s := resttest.New(t)
	p1 := `{"resourceType":"Patient","id":"p1","birthDate":"1980-01-01"}`
	if got := s.Do(http.MethodPut, "/Patient/p1", []byte(p1)); got.Status != http.StatusCreated {
		t.Fatalf("seed: got %d: %s", got.Status, got.Body)
	}
	deep := strings.Repeat(`{"extension":[`, 80)
	deep = `{"resourceType":"Patient","extension":[` + deep + strings.Repeat(`]}`, 80) + `]}`
	huge := append([]byte(`{"resourceType":"Patient","text":{"status":"generated","div":"<div>`),
		bytes.Repeat([]byte("x"), 17<<20)...)
	huge = append(huge, []byte(`</div>"}}`)...)
	tx := func(entries ...string) string {
		return `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
	}
	put := func(id string) string {
		return `{"resource":{"resourceType":"Patient","id":"` + id + `"},"request":{"method":"PUT","url":"Patient/` + id + `"}}`
	}
	const urnA1 = "urn:uuid:a1a1a1a1-0000-4000-8000-000000000001"
	newPatient := `{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}`
	withFullURL := func(fullURL, entry string) string { return `{"fullUrl":"` + fullURL + `",` + entry[1:] }
	del := func(url string) string { return `{"request":{"method":"DELETE","url":"` + url + `"}}` }
	claimTx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"PATCH","url":"Patient/p1"}}]}`

	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   string
		raw    []byte
		header []string
		want   int
		expr   string // an expression the OperationOutcome must name, if any
	}{
		{"BrokenJSON", "POST", "/Patient", `{"resourceType":"Patient",`, nil, nil, 400, ""},
		{"NotAnObject", "POST", "/Patient", `["Patient"]`, nil, nil, 400, ""},
		{"DuplicateKey", "POST", "/Patient", `{"resourceType":"Patient","gender":"male","gender":"female"}`, nil, nil, 400, "Patient.gender"},
		{"TrailingData", "POST", "/Patient", `{"resourceType":"Patient"}{"resourceType":"Patient"}`, nil, nil, 400, ""},
		{"WrongResourceType", "POST", "/Patient", `{"resourceType":"Claim","status":"active"}`, nil, nil, 400, "resourceType"},
		{"UnknownResourceTypeInBody", "POST", "/Patient", `{"resourceType":"Bogus"}`, nil, nil, 400, "resourceType"},
		{"MissingResourceType", "POST", "/Patient", `{"gender":"male"}`, nil, nil, 400, ""},
		{"UnknownElement", "POST", "/Patient", `{"resourceType":"Patient","shoeSize":42}`, nil, nil, 400, "Patient.shoeSize"},
		{"ImpossibleDate", "POST", "/Patient", `{"resourceType":"Patient","birthDate":"2024-02-30"}`, nil, nil, 400, "Patient.birthDate"},
		{"InvalidCode", "POST", "/Patient", `{"resourceType":"Patient","gender":"robot"}`, nil, nil, 400, "Patient.gender"},
		{"MissingRequired", "POST", "/Claim", `{"resourceType":"Claim","status":"active"}`, nil, nil, 400, "Claim.patient"},
		{"WrongReferenceTarget", "POST", "/Encounter", `{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Claim/1"}}`, nil, nil, 400, "Encounter.subject"},
		{"NumberAsString", "POST", "/Patient", `{"resourceType":"Patient","multipleBirthInteger":"two"}`, nil, nil, 400, "Patient.multipleBirthInteger"},
		{"BadID", "POST", "/Patient", `{"resourceType":"Patient","id":"has space"}`, nil, nil, 400, "Patient.id"},
		{"IDMismatch", "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p2"}`, nil, nil, 400, "Patient.id"},
		{"PutWithoutID", "PUT", "/Patient/p1", `{"resourceType":"Patient"}`, nil, nil, 400, "Patient.id"},
		{"InvalidURLID", "PUT", "/Patient/bad_id!", `{"resourceType":"Patient","id":"bad_id!"}`, nil, nil, 400, ""},
		{"StaleIfMatch", "PUT", "/Patient/p1", p1, nil, []string{"If-Match", `W/"7"`}, 412, ""},
		{"GarbageIfMatch", "PUT", "/Patient/p1", p1, nil, []string{"If-Match", `banana`}, 400, ""},
		{"DeepNesting", "POST", "/Patient", deep, nil, nil, 400, ""},
		{"OversizedBody", "POST", "/Patient", "", huge, nil, 413, ""},
		{"WrongContentType", "POST", "/Patient", p1, nil, []string{"Content-Type", "text/plain"}, 415, ""},
		{"XMLContentType", "POST", "/Patient", `<Patient/>`, nil, []string{"Content-Type", "application/fhir+xml"}, 415, ""},
		{"EmptyBody", "POST", "/Patient", " ", nil, nil, 400, ""},
		{"UnknownResourceType", "POST", "/Bogus", `{"resourceType":"Bogus"}`, nil, nil, 404, ""},
		{"UnknownTypeRead", "GET", "/Bogus/1", "", nil, nil, 404, ""},
		{"ReadMissing", "GET", "/Patient/nope", "", nil, nil, 404, ""},
		{"VReadBadVersion", "GET", "/Patient/p1/_history/x", "", nil, nil, 404, ""},
		{"BadCount", "GET", "/Patient?_count=ten", "", nil, nil, 400, "_count"},
		{"NegativeCount", "GET", "/Patient?_count=-1", "", nil, nil, 400, "_count"},
		{"BadDateSearch", "GET", "/Patient?birthdate=2024-02-30", "", nil, nil, 400, "birthdate"},
		{"UnknownModifier", "GET", "/Patient?name:sounds-like=x", "", nil, nil, 400, ""},
		{"UnknownParamStrict", "GET", "/Patient?shoe=9", "", nil, []string{"Prefer", "handling=strict"}, 400, ""},
		{"BadTotal", "GET", "/Patient?_total=some", "", nil, nil, 400, "_total"},
		{"XMLFormat", "GET", "/Patient/p1?_format=xml", "", nil, nil, 406, ""},
		{"BundleWrongType", "POST", "", `{"resourceType":"Bundle","type":"collection"}`, nil, nil, 400, "Bundle.type"},
		{"BundleNotBundle", "POST", "", p1, nil, nil, 400, "resourceType"},
		{"BundlePatch", "POST", "", claimTx, nil, nil, 400, "Bundle.entry[0].request.method"},
		{"BundleEntryWithoutRequest", "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"}}]}`, nil, nil, 400, "Bundle.entry[0].request"},
		{"MethodNotAllowed", "PATCH", "/Patient/p1", p1, nil, nil, 405, ""},
		{"UnknownOperation", "POST", "/Patient/$frobnicate", `{"resourceType":"Parameters"}`, nil, nil, 404, ""},
		{"EmptyArray", "POST", "/Patient", `{"resourceType":"Patient","name":[]}`, nil, nil, 400, "Patient.name"},
		{"EmptyObject", "POST", "/Patient", `{"resourceType":"Patient","name":[{}]}`, nil, nil, 400, "Patient.name[0]"},
		{"EmptyString", "POST", "/Patient", `{"resourceType":"Patient","gender":""}`, nil, nil, 400, "Patient.gender"},
		{"ScriptInNarrative", "POST", "/Patient", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></div>"}}`, nil, nil, 400, "Patient.text.div"},
		{"EventHandlerInNarrative", "POST", "/Patient", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p onmouseover=\"x()\">hi</p></div>"}}`, nil, nil, 400, "Patient.text.div"},
		{"NotUTF8Charset", "POST", "/Patient", p1, nil, []string{"Content-Type", "application/fhir+json; charset=iso-8859-1"}, 415, ""},
		{"OtherFHIRVersion", "POST", "/Patient", p1, nil, []string{"Content-Type", "application/fhir+json; fhirVersion=3.0"}, 415, ""},
		{"AcceptOtherFHIRVersion", "GET", "/Patient/p1", "", nil, []string{"Accept", "application/fhir+json; fhirVersion=3.0"}, 406, ""},
		{"FormatOtherFHIRVersion", "GET", "/Patient/p1?_format=application/fhir%2Bjson%3BfhirVersion%3D3.0", "", nil, nil, 406, "_format"},
		{"GzipBody", "POST", "/Patient", p1, nil, []string{"Content-Encoding", "gzip"}, 415, ""},
		{"ConditionalDeleteResultParamOnly", "DELETE", "/Patient?_count=5", "", nil, nil, 400, ""},
		{"ConditionalUpdateResultParamOnly", "PUT", "/Patient?_total=none", p1, nil, nil, 400, ""},
		{"NULInSearch", "GET", "/Patient?name=%00", "", nil, nil, 400, "name"},
		{"BrokenQueryString", "GET", "/Patient?identifier=a;b", "", nil, nil, 400, ""},
		{"TooManyValues", "GET", "/Patient?_id=" + strings.Repeat("a,", 600) + "a", "", nil, nil, 400, "_id"},
		{"CreateOnlyButExists", "PUT", "/Patient/p1", p1, nil, []string{"If-None-Match", "*"}, 412, ""},
		{"PostMetadata", "POST", "/metadata", p1, nil, nil, 405, ""},
		{"BundleCaseMismatch", "POST", "", `{"resourceType":"Bundle","type":"batch","ENTRY":[{"REQUEST":{"METHOD":"DELETE","URL":"Patient/p1"}}]}`, nil, nil, 400, "Bundle"},
		{"BundleDuplicateFullURL", "POST", "", tx(withFullURL(urnA1, newPatient), withFullURL(urnA1, newPatient)), nil, nil, 400, "Bundle.entry[1].fullUrl"},
		// Bundle.entry.fullUrl (R4 bundle.html#bundle-unique): a urn holds
		// a UUID or OID, a URL is not version specific (bdl-8), and a
		// RESTful one agrees with request.url and the resource's id.
		{"FullURLNotUUID", "POST", "", tx(withFullURL("urn:uuid:not-a-uuid", newPatient)), nil, nil, 400, "Bundle.entry[0].fullUrl"},
		{"FullURLNotOID", "POST", "", tx(withFullURL("urn:oid:1.2.x", newPatient)), nil, nil, 400, "Bundle.entry[0].fullUrl"},
		{"FullURLNotUUIDInBatch", "POST", "", `{"resourceType":"Bundle","type":"batch","entry":[` + withFullURL("urn:uuid:1", newPatient) + `]}`, nil, nil, 400, "Bundle.entry[0].fullUrl"},
		{"FullURLRelative", "POST", "", tx(withFullURL("Patient/p9", put("p9"))), nil, nil, 400, "Bundle.entry[0].fullUrl"},
		{"FullURLVersioned", "POST", "", tx(withFullURL("http://example.org/fhir/Patient/p9/_history/1", put("p9"))), nil, nil, 400, "Bundle.entry[0].fullUrl"},
		{"FullURLOtherID", "POST", "", tx(withFullURL("http://example.org/fhir/Patient/p1", put("p1x"))), nil, nil, 400, "Bundle.entry[0].fullUrl"},
		{"FullURLOtherType", "POST", "", tx(withFullURL("http://example.org/fhir/Group/p9", put("p9"))), nil, nil, 400, "Bundle.entry[0].fullUrl"},
		{"FullURLOtherResourceID", "POST", "", tx(withFullURL("http://example.org/fhir/Patient/p9", `{"resource":{"resourceType":"Patient","id":"p8"},"request":{"method":"PUT","url":"Patient?_id=p9"}}`)), nil, nil, 400, "Bundle.entry[0].fullUrl"},
		{"TransactionDanglingURN", "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"subject":{"reference":"urn:uuid:3f1e0000-0000-4000-8000-000000000009"}},"request":{"method":"POST","url":"Encounter"}}]}`, nil, nil, 400, "Bundle.entry[0]"},
		// R4 http.html#trules: entries whose identities overlap, resolved
		// ones included, fail the transaction; whether a write would
		// change anything does not matter.
		{"TransactionPutAndDelete", "POST", "", tx(put("tx5"), del("Patient/tx5")), nil, nil, 400, "Bundle.entry[0]"},
		{"TransactionDeleteTwice", "POST", "", tx(del("Patient/tx6"), del("Patient/tx6")), nil, nil, 400, "Bundle.entry[1]"},
		{"TransactionConditionalDeleteAndPut", "POST", "", tx(put("p1"), del("Patient?_id=p1")), nil, nil, 400, "Bundle.entry[0]"},
		{"TransactionConditionalPutAndDelete", "POST", "", tx(`{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Patient?_id=p1"}}`, del("Patient/p1")), nil, nil, 400, "Bundle.entry[0]"},
		{"TransactionMatchedCreateAndPut", "POST", "", tx(`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient","ifNoneExist":"_id=p1"}}`, put("p1")), nil, nil, 400, "Bundle.entry[1]"},
		{"TransactionIDAndSearch", "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"zz"},"request":{"method":"PUT","url":"Patient/zz?_id=p1"}}]}`, nil, nil, 400, "Bundle.entry[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, s)
			body := tc.raw
			if body == nil && tc.body != "" {
				body = []byte(tc.body)
			}
			got := s.Do(tc.method, tc.path, body, tc.header...)
			if got.Status != tc.want {
				t.Errorf("got %d, want %d: %s", got.Status, tc.want, got.Body)
			}
			oo := got.JSON()
			if oo["resourceType"] != "OperationOutcome" || len(oo["issue"].([]any)) == 0 {
				t.Fatalf("body is not an OperationOutcome with issues: %s", got.Body)
			}
			if tc.expr != "" && !strings.Contains(string(got.Body), `"`+tc.expr) {
				t.Errorf("the OperationOutcome does not name %s: %s", tc.expr, got.Body)
			}
			if after := snapshot(t, s); after != before {
				t.Errorf("store changed: got %s, want %s", after, before)
			}
		})
	}
}

// snapshot summarizes the stored versions of the types the table touches.
func snapshot(t *testing.T, s *resttest.Server) string {
	t.Helper()
	var b strings.Builder
	for _, typ := range []string{"Patient", "Claim", "Encounter"} {
		h := s.Do(http.MethodGet, "/"+typ+"/_history?_count=1", nil).JSON()
		fmt.Fprintf(&b, "%s:%v ", typ, h["total"])
	}
	return b.String()
}
