package rest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

const patientJSON = `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"M1"}],"name":[{"family":"Ünal","given":["Ada"]}],"birthDate":"1970-03-02"}`

func TestCRUD_Lifecycle(t *testing.T) {
	s := resttest.New(t)

	created := s.Do(http.MethodPost, "/Patient", []byte(patientJSON))
	if created.Status != http.StatusCreated {
		t.Fatalf("create: got %d, want 201: %s", created.Status, created.Body)
	}
	loc := created.Header.Get("Location")
	if !strings.HasPrefix(loc, s.Base+"/Patient/") || !strings.HasSuffix(loc, "/_history/1") {
		t.Errorf("Location: got %q, want %s/Patient/<id>/_history/1", loc, s.Base)
	}
	if got := created.Header.Get("ETag"); got != `W/"1"` {
		t.Errorf("ETag: got %q, want W/\"1\"", got)
	}
	if created.Header.Get("Last-Modified") == "" {
		t.Error("Last-Modified missing")
	}
	if ct := created.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("Content-Type: got %q", ct)
	}
	id := created.JSON()["id"].(string)
	meta := created.JSON()["meta"].(map[string]any)
	if meta["versionId"] != "1" || meta["lastUpdated"] == nil {
		t.Errorf("meta: got %v, want versionId 1 and lastUpdated", meta)
	}

	read := s.Do(http.MethodGet, "/Patient/"+id, nil)
	if read.Status != http.StatusOK || string(read.Body) != string(created.Body) {
		t.Fatalf("read: got %d %s, want 200 with the created body", read.Status, read.Body)
	}
	if got := s.Do(http.MethodGet, "/Patient/"+id, nil, "If-None-Match", `W/"1"`); got.Status != http.StatusNotModified {
		t.Errorf("If-None-Match current: got %d, want 304", got.Status)
	}
	if got := s.Do(http.MethodGet, "/Patient/"+id, nil, "If-Modified-Since", read.Header.Get("Last-Modified")); got.Status != http.StatusNotModified {
		t.Errorf("If-Modified-Since: got %d, want 304", got.Status)
	}

	upd := strings.Replace(patientJSON, `{"resourceType":"Patient",`, `{"resourceType":"Patient","id":"`+id+`","gender":"female",`, 1)
	if got := s.Do(http.MethodPut, "/Patient/"+id, []byte(upd), "If-Match", `W/"1"`); got.Status != http.StatusOK || got.Header.Get("ETag") != `W/"2"` {
		t.Fatalf("update: got %d %s, want 200 with W/\"2\"", got.Status, got.Header.Get("ETag"))
	}
	if got := s.Do(http.MethodPut, "/Patient/"+id, []byte(upd), "If-Match", `W/"1"`); got.Status != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: got %d, want 412", got.Status)
	}
	// The same content again stores no new version.
	if got := s.Do(http.MethodPut, "/Patient/"+id, []byte(upd)); got.Status != http.StatusOK || got.Header.Get("ETag") != `W/"2"` {
		t.Errorf("unchanged update: got %d %s, want 200 with W/\"2\"", got.Status, got.Header.Get("ETag"))
	}
	if got := s.Do(http.MethodGet, "/Patient/"+id+"/_history/1", nil); got.Status != http.StatusOK || got.JSON()["gender"] != nil {
		t.Errorf("vread 1: got %d, want 200 without gender", got.Status)
	}

	if got := s.Do(http.MethodDelete, "/Patient/"+id, nil); got.Status != http.StatusNoContent {
		t.Fatalf("delete: got %d, want 204", got.Status)
	}
	if got := s.Do(http.MethodGet, "/Patient/"+id, nil); got.Status != http.StatusGone || got.JSON()["resourceType"] != "OperationOutcome" {
		t.Errorf("read deleted: got %d %s, want 410 OperationOutcome", got.Status, got.Body)
	}
	if got := s.Do(http.MethodDelete, "/Patient/"+id, nil); got.Status != http.StatusNoContent {
		t.Errorf("delete again: got %d, want 204", got.Status)
	}

	hist := s.Do(http.MethodGet, "/Patient/"+id+"/_history", nil).JSON()
	if hist["type"] != "history" || hist["total"] != json.Number("3") {
		t.Fatalf("history: got type %v total %v, want history with 3", hist["type"], hist["total"])
	}
	var methods []string
	for _, e := range hist["entry"].([]any) {
		methods = append(methods, e.(map[string]any)["request"].(map[string]any)["method"].(string))
	}
	if got, want := strings.Join(methods, ","), "DELETE,PUT,POST"; got != want {
		t.Errorf("history methods newest first: got %s, want %s", got, want)
	}

	// Update after delete brings the resource back as version 4.
	if got := s.Do(http.MethodPut, "/Patient/"+id, []byte(upd)); got.Status != http.StatusCreated || got.Header.Get("ETag") != `W/"4"` {
		t.Errorf("update after delete: got %d %s, want 201 W/\"4\"", got.Status, got.Header.Get("ETag"))
	}
}

func TestCRUD_UpdateAsCreateAndPrefer(t *testing.T) {
	s := resttest.New(t)
	body := strings.Replace(patientJSON, `{"resourceType":"Patient",`, `{"resourceType":"Patient","id":"mrn-1",`, 1)
	got := s.Do(http.MethodPut, "/Patient/mrn-1", []byte(body), "Prefer", "return=minimal")
	if got.Status != http.StatusCreated || len(got.Body) != 0 {
		t.Fatalf("update as create, minimal: got %d with %d bytes, want 201 and no body", got.Status, len(got.Body))
	}
	got = s.Do(http.MethodPost, "/Patient", []byte(patientJSON), "Prefer", "return=OperationOutcome")
	if got.Status != http.StatusCreated || got.JSON()["resourceType"] != "OperationOutcome" {
		t.Errorf("Prefer OperationOutcome: got %d %s", got.Status, got.Body)
	}

	// The history shows the PUT that created mrn-1, not a POST.
	entry := s.Do(http.MethodGet, "/Patient/mrn-1/_history", nil).JSON()["entry"].([]any)[0].(map[string]any)
	req, resp := entry["request"].(map[string]any), entry["response"].(map[string]any)
	if req["method"] != "PUT" || req["url"] != "Patient/mrn-1" || resp["status"] != "201 Created" {
		t.Errorf("history of an update-as-create: got %v %v, want PUT Patient/mrn-1 and 201 Created", req, resp)
	}

	if got := s.Do(http.MethodDelete, "/Patient/never-was", nil); got.Status != http.StatusNoContent {
		t.Errorf("delete of a resource that never existed: got %d, want 204", got.Status)
	}
	if got := s.Do(http.MethodHead, "/Patient/mrn-1", nil); got.Status != http.StatusOK || got.Header.Get("ETag") != `W/"1"` || len(got.Body) != 0 {
		t.Errorf("HEAD: got %d %q with %d bytes, want 200, W/\"1\", no body", got.Status, got.Header.Get("ETag"), len(got.Body))
	}
}

func TestSearch_TotalAndPaging(t *testing.T) {
	s := resttest.New(t)
	for i := range 5 {
		body := fmt.Sprintf(`{"resourceType":"Account","id":"a%d","status":"active"}`, i)
		if got := s.Do(http.MethodPut, fmt.Sprintf("/Account/a%d", i), []byte(body)); got.Status != http.StatusCreated {
			t.Fatalf("seed: got %d", got.Status)
		}
	}
	for _, tc := range []struct {
		query     string
		wantTotal any // nil: no total given
		wantIDs   string
		wantNext  bool
	}{
		{"?_count=2", nil, "a0,a1", true},
		{"?_count=2&_offset=4", json.Number("5"), "a4", false},
		{"?_count=2&_offset=2&_total=accurate", json.Number("5"), "a2,a3", true},
		{"?_offset=100", nil, "", false}, // past the end: the total is not known without counting
		{"?status=active", json.Number("5"), "a0,a1,a2,a3,a4", false},
		{"?status=inactive", json.Number("0"), "", false},
		{"?_id=a3,a1", json.Number("2"), "a1,a3", false},
	} {
		t.Run(tc.query, func(t *testing.T) {
			b := s.Do(http.MethodGet, "/Account"+tc.query, nil).JSON()
			if b["total"] != tc.wantTotal {
				t.Errorf("total: got %v, want %v", b["total"], tc.wantTotal)
			}
			var ids []string
			entries, _ := b["entry"].([]any)
			for _, e := range entries {
				ids = append(ids, e.(map[string]any)["resource"].(map[string]any)["id"].(string))
			}
			if got := strings.Join(ids, ","); got != tc.wantIDs {
				t.Errorf("ids: got %s, want %s", got, tc.wantIDs)
			}
			next := false
			for _, l := range b["link"].([]any) {
				next = next || l.(map[string]any)["relation"] == "next"
			}
			if next != tc.wantNext {
				t.Errorf("next link: got %v, want %v", next, tc.wantNext)
			}
		})
	}
}

func TestCRUD_Conditional(t *testing.T) {
	s := resttest.New(t)
	first := s.Do(http.MethodPost, "/Patient", []byte(patientJSON), "If-None-Exist", "identifier=urn:mrn|M1")
	if first.Status != http.StatusCreated {
		t.Fatalf("conditional create, no match: got %d, want 201: %s", first.Status, first.Body)
	}
	again := s.Do(http.MethodPost, "/Patient", []byte(patientJSON), "If-None-Exist", "identifier=urn:mrn|M1")
	if again.Status != http.StatusOK || again.JSON()["id"] != first.JSON()["id"] {
		t.Errorf("conditional create, one match: got %d id %v, want 200 id %v", again.Status, again.JSON()["id"], first.JSON()["id"])
	}
	s.Do(http.MethodPost, "/Patient", []byte(patientJSON)) // a second M1
	if got := s.Do(http.MethodPost, "/Patient", []byte(patientJSON), "If-None-Exist", "identifier=urn:mrn|M1"); got.Status != http.StatusPreconditionFailed {
		t.Errorf("conditional create, two matches: got %d, want 412", got.Status)
	}
	if got := s.Do(http.MethodPost, "/Patient", []byte(patientJSON), "If-None-Exist", "nosuchparam=1"); got.Status != http.StatusBadRequest {
		t.Errorf("conditional create with an unknown parameter: got %d, want 400", got.Status)
	}

	// Conditional update: no match creates, one match updates.
	p2 := strings.Replace(patientJSON, `"M1"`, `"M2"`, 1)
	c := s.Do(http.MethodPut, "/Patient?identifier=urn:mrn|M2", []byte(p2))
	if c.Status != http.StatusCreated {
		t.Fatalf("conditional update, no match: got %d, want 201: %s", c.Status, c.Body)
	}
	u := s.Do(http.MethodPut, "/Patient?identifier=urn:mrn|M2", []byte(strings.Replace(p2, `"birthDate"`, `"gender":"other","birthDate"`, 1)))
	if u.Status != http.StatusOK || u.JSON()["id"] != c.JSON()["id"] || u.Header.Get("ETag") != `W/"2"` {
		t.Errorf("conditional update, one match: got %d id %v %s", u.Status, u.JSON()["id"], u.Header.Get("ETag"))
	}
	if got := s.Do(http.MethodPut, "/Patient?identifier=urn:mrn|M1", []byte(patientJSON)); got.Status != http.StatusPreconditionFailed {
		t.Errorf("conditional update, two matches: got %d, want 412", got.Status)
	}

	// Conditional delete.
	if got := s.Do(http.MethodDelete, "/Patient?identifier=urn:mrn|M1", nil); got.Status != http.StatusPreconditionFailed {
		t.Errorf("conditional delete, two matches: got %d, want 412", got.Status)
	}
	if got := s.Do(http.MethodDelete, "/Patient?identifier=urn:mrn|M2", nil); got.Status != http.StatusNoContent {
		t.Errorf("conditional delete, one match: got %d, want 204", got.Status)
	}
	if got := s.Do(http.MethodGet, "/Patient/"+c.JSON()["id"].(string), nil); got.Status != http.StatusGone {
		t.Errorf("read after conditional delete: got %d, want 410", got.Status)
	}
}

func TestContent_Negotiation(t *testing.T) {
	s := resttest.New(t)
	for _, tc := range []struct {
		name   string
		path   string
		header []string
		want   int
	}{
		{"FormatJSON", "/metadata?_format=json", nil, 200},
		{"FormatFHIRJSON", "/metadata?_format=application/fhir%2Bjson", nil, 200},
		{"FormatXML", "/metadata?_format=xml", nil, 406},
		{"AcceptXML", "/metadata", []string{"Accept", "application/fhir+xml"}, 406},
		{"AcceptJSON", "/metadata", []string{"Accept", "application/json"}, 200},
		{"AcceptAny", "/metadata", []string{"Accept", "text/html, */*;q=0.1"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.Do(http.MethodGet, tc.path, nil, tc.header...)
			if got.Status != tc.want {
				t.Errorf("got %d, want %d: %s", got.Status, tc.want, got.Body)
			}
		})
	}
	pretty := s.Do(http.MethodGet, "/metadata?_pretty=true", nil)
	if !strings.Contains(string(pretty.Body), "\n  \"") {
		t.Error("_pretty=true: body is not indented")
	}
}
