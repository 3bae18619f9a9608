package rest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// examplesDir holds the official FHIR R4 examples (../shared/testdata, see
// its README).
const examplesDir = "../../../shared/testdata/fhir-r4-examples"

// TestExamples_RoundTrip posts every official R4 example and reads it back:
// the JSON read must equal the JSON sent apart from id and meta, with every
// decimal keeping its digits.
func TestExamples_RoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*.json"))
	if len(files) == 0 {
		t.Skipf("no FHIR R4 examples at %s: ../shared/testdata is absent", examplesDir)
	}
	s := resttest.New(t)
	n := 0
	for _, f := range files {
		if filepath.Base(f) == "Bundle-searchParams.json" {
			continue // the 2.2 MB Bundle of all SearchParameters: not an example resource
		}
		sent, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		typ := strings.SplitN(filepath.Base(f), "-", 2)[0]
		created := s.Do(http.MethodPost, "/"+typ, sent)
		if created.Status != http.StatusCreated {
			t.Errorf("%s: create: got %d, want 201: %s", filepath.Base(f), created.Status, created.Body)
			continue
		}
		read := s.Do(http.MethodGet, "/"+typ+"/"+created.JSON()["id"].(string), nil)
		if read.Status != http.StatusOK {
			t.Errorf("%s: read: got %d", filepath.Base(f), read.Status)
			continue
		}
		want, got := withoutIDMeta(t, sent), withoutIDMeta(t, read.Body)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: read differs from sent (-sent +read):\n%s", filepath.Base(f), diff)
			continue
		}
		n++
	}
	t.Logf("round-tripped %d of %d example resources", n, len(files)-1)
}

// withoutIDMeta decodes JSON keeping numbers as written and drops the
// top-level id and meta, which the server assigns.
func withoutIDMeta(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	delete(m, "id")
	if meta, ok := m["meta"].(map[string]any); ok {
		delete(meta, "versionId")
		delete(meta, "lastUpdated")
		if len(meta) == 0 {
			delete(m, "meta")
		}
	}
	return m
}
