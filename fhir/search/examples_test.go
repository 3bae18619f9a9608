package search

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/profiles"
)

// examplesDir holds the official R4 examples shared by the team.
const examplesDir = "../../../shared/testdata/fhir-r4-examples"

// TestExtract_Examples extracts every official example (Bundles excepted)
// and reports how many fields it found.
func TestExtract_Examples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Skipf("no FHIR R4 examples in %s: it runs where the shared test data is mounted",
			examplesDir)
	}
	r := mustLoad(t)

	var resources, fields int
	for _, name := range files {
		if strings.HasPrefix(filepath.Base(name), "Bundle-") {
			continue
		}
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var head struct {
			ResourceType string `json:"resourceType"`
		}
		if err := json.Unmarshal(body, &head); err != nil {
			t.Fatalf("%s: decode: %v", filepath.Base(name), err)
		}

		idx, err := r.Extract(head.ResourceType, body, "http://localhost:8080/fhir")
		if err != nil {
			t.Errorf("%s: got error %v, want none", filepath.Base(name), err)
			continue
		}
		resources++
		fields += len(idx)
	}
	t.Logf("extracted %d fields from %d example resources", fields, resources)
}

// mustLoad loads the project's search parameters.
func mustLoad(t testing.TB) *Registry {
	t.Helper()
	r, err := Load(profiles.SearchParameters)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}
