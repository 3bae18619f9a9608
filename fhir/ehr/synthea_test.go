package ehr_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
	"github.com/fhirbill/fhirbill/fhir/resource"
)

// syntheaDir holds the shared Synthea bundles, outside the repository.
const syntheaDir = "../../../shared/testdata/synthea"

// bundleCounts counts the resources of each type in the bundles of dir,
// read independently of the test EHR.
func bundleCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	out := map[string]int{}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				Resource struct {
					ResourceType string `json:"resourceType"`
				} `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(data, &b); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		for _, e := range b.Entry {
			out[e.Resource.ResourceType]++
		}
	}
	return out
}

func TestSync_Synthea(t *testing.T) {
	if _, err := os.Stat(syntheaDir); err != nil {
		t.Skipf("Synthea bundles not found at %s (the shared test data sits beside the repository): %v", syntheaDir, err)
	}
	want := bundleCounts(t, syntheaDir)

	srv, conn := newEHR(t, "synthea")
	files, n, err := srv.LoadDir(syntheaDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test EHR loaded %d resources from %d bundles", n, files)
	l := newLocal(t, nil, nil)
	bills := &biller{}
	conn.PageSize = 100
	s := newSyncer(t, l, conn, bills.Bill, nil)

	// One sync pulls every Encounter and Condition of the bundles.
	first, err := s.Sync(t.Context(), "synthea", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"Encounter", "Condition"} {
		if first.Pulled[typ] != want[typ] {
			t.Errorf("pulled %d %s, the bundles hold %d", first.Pulled[typ], typ, want[typ])
		}
	}
	logSummary(t, first)

	// Every resource pulled is stored under its derived id, or skipped
	// and reported: none silently dropped.
	skipped := map[string]bool{}
	for _, sk := range first.Skipped {
		skipped[sk.Ref] = true
	}
	for _, typ := range []string{"Encounter", "Condition", "Procedure", "Patient", "Practitioner"} {
		stored := 0
		for _, id := range srv.IDs(typ) {
			_, _, err := l.API.ReadResource(t.Context(), typ, ehr.LocalID("synthea", typ, id))
			switch {
			case err == nil:
				stored++
			case errors.Is(err, resource.ErrNotFound) && skipped[typ+"/"+id]:
			default:
				t.Errorf("%s/%s: neither stored nor reported: %v", typ, id, err)
			}
		}
		t.Logf("%s: %d at the EHR, %d stored", typ, srv.Count(typ), stored)
	}
	if first.Billed == 0 || len(bills.billed()) != first.Billed {
		t.Errorf("billed %d, the hook saw %d", first.Billed, len(bills.billed()))
	}

	// A second sync pulls nothing and creates nothing.
	second, err := s.Sync(t.Context(), "synthea", nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.PulledTotal() != 0 || second.Stored() != 0 || second.Billed != 0 {
		t.Errorf("second sync: pulled %v, stored %d, billed %d; want nothing", second.Pulled, second.Stored(), second.Billed)
	}

	// Three encounters added at the EHR: the next sync pulls exactly those.
	added := addCopies(t, srv, 3)
	third, err := s.Sync(t.Context(), "synthea", nil)
	if err != nil {
		t.Fatal(err)
	}
	if third.Pulled["Encounter"] != 3 || third.Created < 3 {
		t.Errorf("third sync: pulled %v, created %d; want the 3 new Encounters", third.Pulled, third.Created)
	}
	for _, id := range added {
		if _, _, err := l.API.ReadResource(t.Context(), "Encounter", ehr.LocalID("synthea", "Encounter", id)); err != nil {
			t.Errorf("new Encounter/%s not stored: %v", id, err)
		}
	}
}

// addCopies adds n Encounters to the EHR, copies of stored ones under new
// ids, and returns their ids.
func addCopies(t *testing.T, srv *ehrtest.Server, n int) []string {
	t.Helper()
	ids := srv.IDs("Encounter")
	var out []string
	for i := range n {
		var m map[string]any
		if err := json.Unmarshal(srv.Resource("Encounter", ids[i*7]), &m); err != nil {
			t.Fatal(err)
		}
		m["id"] = "added-" + ids[i*7]
		b, _ := json.Marshal(m)
		if err := srv.Put(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, m["id"].(string))
	}
	return out
}

func logSummary(t *testing.T, s *ehr.Summary) {
	t.Helper()
	t.Logf("sync: pages %d, pulled %v, created %d, updated %d, unchanged %d, billed %d, skipped %d",
		s.Pages, s.Pulled, s.Created, s.Updated, s.Unchanged, s.Billed, len(s.Skipped))
	reasons := s.SkipReasons()
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("  skipped %d: %s", reasons[k], k)
	}
}
