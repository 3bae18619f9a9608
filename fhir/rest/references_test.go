package rest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// mustCreate posts a resource and returns its Type/id.
func mustCreate(t *testing.T, s *resttest.Server, typ, body string) string {
	t.Helper()
	got := s.Do(http.MethodPost, "/"+typ, []byte(body))
	if got.Status != http.StatusCreated {
		t.Fatalf("create %s: got %d: %s", typ, got.Status, short(got.Body))
	}
	return typ + "/" + got.JSON()["id"].(string)
}

// entryResponses returns the response.status and, when there is one, the
// location's Type/id of each entry of a batch or transaction response.
func entryResponses(t *testing.T, s *resttest.Server, got *resttest.Response) (statuses, refs []string) {
	t.Helper()
	for _, e := range got.JSON()["entry"].([]any) {
		e := e.(map[string]any)
		r := e["response"].(map[string]any)
		statuses = append(statuses, r["status"].(string))
		full, _ := e["fullUrl"].(string)
		refs = append(refs, strings.TrimPrefix(full, s.Base+"/"))
	}
	return statuses, refs
}

const encounterWith = `{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"subject":{"reference":"%s"}}`

// TestTransaction_ConditionalReferences: a reference Patient?identifier=...
// inside a transaction is a search; exactly one match replaces it with
// that Patient's reference, none or several fail the transaction (R4
// http.html#trules, "Conditional References").
func TestTransaction_ConditionalReferences(t *testing.T) {
	s := resttest.New(t)
	one := mustCreate(t, s, "Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"C1"}]}`)
	mustCreate(t, s, "Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"DUP"}]}`)
	mustCreate(t, s, "Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"DUP"}]}`)
	tx := func(ref string) []byte {
		return []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` +
			strings.Replace(encounterWith, "%s", ref, 1) + `,"request":{"method":"POST","url":"Encounter"}}]}`)
	}

	got := s.Do(http.MethodPost, "", tx("Patient?identifier=urn:mrn|C1"))
	if got.Status != http.StatusOK {
		t.Fatalf("one match: got %d, want 200: %s", got.Status, short(got.Body))
	}
	_, refs := entryResponses(t, s, got)
	enc := s.Do(http.MethodGet, "/"+refs[0], nil).JSON()
	if ref := enc["subject"].(map[string]any)["reference"]; ref != one {
		t.Errorf("Encounter.subject: got %v, want %s", ref, one)
	}

	for _, tc := range []struct {
		name, ref string
		want      int
	}{
		{"NoMatch", "Patient?identifier=urn:mrn|NONE", http.StatusPreconditionFailed},
		{"SeveralMatches", "Patient?identifier=urn:mrn|DUP", http.StatusPreconditionFailed},
		{"SelectsNothing", "Patient?_count=1", http.StatusBadRequest},
		{"EmptyQuery", "Patient?", http.StatusBadRequest},
		{"UnknownParameter", "Patient?shoe=9", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.Do(http.MethodPost, "", tx(tc.ref))
			if got.Status != tc.want {
				t.Errorf("got %d, want %d: %s", got.Status, tc.want, short(got.Body))
			}
			if !strings.Contains(string(got.Body), `"Encounter.subject.reference"`) {
				t.Errorf("the OperationOutcome does not name Encounter.subject.reference: %s", short(got.Body))
			}
			if n := count(t, s, "Encounter"); n != "1" {
				t.Errorf("Encounters stored: got %s, want 1", n)
			}
		})
	}

	// Outside a transaction a conditional reference is not resolved, and
	// would be stored as a reference to nothing: refused.
	got = s.Do(http.MethodPost, "/Encounter", []byte(strings.Replace(encounterWith, "%s", "Patient?identifier=urn:mrn|C1", 1)))
	if got.Status != http.StatusBadRequest || !strings.Contains(string(got.Body), `"Encounter.subject.reference"`) {
		t.Errorf("POST with a conditional reference: got %d, want 400 naming Encounter.subject.reference: %s", got.Status, short(got.Body))
	}
}

// TestBatch_RefusesURNReferences: a batch does not resolve urn:uuid
// references between its entries (R4 http.html#brules), so an entry
// holding one is refused rather than stored with a reference to nothing.
func TestBatch_RefusesURNReferences(t *testing.T) {
	s := resttest.New(t)
	body := `{"resourceType":"Bundle","type":"batch","entry":[
 {"fullUrl":"urn:uuid:5e0b0000-0000-4000-8000-000000000001","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
 {"resource":` + strings.Replace(encounterWith, "%s", "urn:uuid:5e0b0000-0000-4000-8000-000000000001", 1) + `,"request":{"method":"POST","url":"Encounter"}}]}`
	got := s.Do(http.MethodPost, "", []byte(body))
	if got.Status != http.StatusOK {
		t.Fatalf("got %d, want 200: %s", got.Status, short(got.Body))
	}
	statuses, _ := entryResponses(t, s, got)
	if want := "201 Created,400 Bad Request"; strings.Join(statuses, ",") != want {
		t.Errorf("statuses: got %v, want %s", statuses, want)
	}
	if !strings.Contains(string(got.Body), `Encounter.subject.reference`) {
		t.Errorf("the entry's OperationOutcome does not name Encounter.subject.reference: %s", short(got.Body))
	}
	if n := count(t, s, "Encounter"); n != "0" {
		t.Errorf("Encounters stored: got %s, want 0", n)
	}
}

// TestTransaction_NarrativeLinks: links in a narrative to the fullUrl of
// an entry (<a href>, <img src>) are rewritten like references (R4
// http.html#trules).
func TestTransaction_NarrativeLinks(t *testing.T) {
	s := resttest.New(t)
	const urn = "urn:uuid:5e0b0000-0000-4000-8000-000000000002"
	div := `<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"` + urn + `\">patient</a> <img src='` + urn +
		`' alt=\"p\"/> <a href=\"http://example.org/\">elsewhere</a></div>`
	body := `{"resourceType":"Bundle","type":"transaction","entry":[
 {"fullUrl":"` + urn + `","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
 {"resource":{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"subject":{"reference":"` + urn + `"},
  "text":{"status":"generated","div":"` + div + `"}},"request":{"method":"POST","url":"Encounter"}}]}`
	got := s.Do(http.MethodPost, "", []byte(body))
	if got.Status != http.StatusOK {
		t.Fatalf("got %d, want 200: %s", got.Status, short(got.Body))
	}
	_, refs := entryResponses(t, s, got)
	enc := s.Do(http.MethodGet, "/"+refs[1], nil).JSON()
	stored := enc["text"].(map[string]any)["div"].(string)
	for _, want := range []string{`href="` + refs[0] + `"`, `src='` + refs[0] + `'`, `href="http://example.org/"`} {
		if !strings.Contains(stored, want) {
			t.Errorf("narrative %s: want it to hold %s", stored, want)
		}
	}
	if strings.Contains(stored, urn) {
		t.Errorf("narrative %s still holds %s", stored, urn)
	}
}

// TestTransaction_DuplicateConditionalCreates: two conditional creates
// with the same condition in one transaction make one resource, which both
// entries answer with, and references to either entry point at it; a
// condition that another entry's resource would also match fails the
// transaction, since after it the condition would match two.
func TestTransaction_DuplicateConditionalCreates(t *testing.T) {
	s := resttest.New(t)
	const a, b = "urn:uuid:5e0b0000-0000-4000-8000-00000000000a", "urn:uuid:5e0b0000-0000-4000-8000-00000000000b"
	patient := `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"N1"}]}`
	body := `{"resourceType":"Bundle","type":"transaction","entry":[
 {"fullUrl":"` + a + `","resource":` + patient + `,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:mrn|N1"}},
 {"fullUrl":"` + b + `","resource":` + patient + `,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:mrn%7CN1"}},
 {"resource":` + strings.Replace(encounterWith, "%s", b, 1) + `,"request":{"method":"POST","url":"Encounter"}}]}`
	got := s.Do(http.MethodPost, "", []byte(body))
	if got.Status != http.StatusOK {
		t.Fatalf("got %d, want 200: %s", got.Status, short(got.Body))
	}
	statuses, refs := entryResponses(t, s, got)
	if want := "201 Created,200 OK,201 Created"; strings.Join(statuses, ",") != want {
		t.Errorf("statuses: got %v, want %s", statuses, want)
	}
	if refs[0] != refs[1] {
		t.Errorf("the two conditional creates answer %s and %s, want the same Patient", refs[0], refs[1])
	}
	if n := count(t, s, "Patient"); n != "1" {
		t.Errorf("Patients stored: got %s, want 1", n)
	}
	enc := s.Do(http.MethodGet, "/"+refs[2], nil).JSON()
	if ref := enc["subject"].(map[string]any)["reference"]; ref != refs[0] {
		t.Errorf("Encounter.subject: got %v, want %s", ref, refs[0])
	}

	// A conditional create whose condition a plain create in the same
	// transaction also meets.
	body = `{"resourceType":"Bundle","type":"transaction","entry":[
 {"resource":{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"N2"}]},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:mrn|N2"}},
 {"resource":{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"N2"}]},"request":{"method":"POST","url":"Patient"}}]}`
	got = s.Do(http.MethodPost, "", []byte(body))
	if got.Status != http.StatusPreconditionFailed || !strings.Contains(string(got.Body), "Bundle.entry[0]") {
		t.Errorf("got %d, want 412 naming Bundle.entry[0]: %s", got.Status, short(got.Body))
	}
	if n := count(t, s, "Patient"); n != "1" {
		t.Errorf("Patients stored: got %s, want 1", n)
	}
	if h := s.Do(http.MethodGet, "/Patient/_history", nil).JSON(); h["total"] != json.Number("1") {
		t.Errorf("Patient history: got %v, want 1", h["total"])
	}
}
