package rest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// TestConcurrency_IfMatch sends 50 concurrent PUTs naming the same version:
// exactly one wins, the rest get 412, and the history has no gap and no
// duplicate. Then it repeats for the next version.
func TestConcurrency_IfMatch(t *testing.T) {
	s := resttest.New(t)
	base := `{"resourceType":"Account","id":"acc-1","status":"active","name":"%d"}`
	if got := s.Do(http.MethodPut, "/Account/acc-1", fmt.Appendf(nil, base, 0)); got.Status != http.StatusCreated {
		t.Fatalf("create: got %d: %s", got.Status, got.Body)
	}
	const writers = 50
	for version := 1; version <= 2; version++ {
		var wg sync.WaitGroup
		statuses := make([]int, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.Do(http.MethodPut, "/Account/acc-1", fmt.Appendf(nil, base, version*100+i), "If-Match", fmt.Sprintf(`W/"%d"`, version))
				statuses[i] = r.Status
			}()
		}
		wg.Wait()
		count := map[int]int{}
		for _, st := range statuses {
			count[st]++
		}
		if count[200] != 1 || count[412] != writers-1 {
			t.Fatalf("version %d: got statuses %v, want one 200 and %d x 412", version, count, writers-1)
		}
	}
	hist := s.Do(http.MethodGet, "/Account/acc-1/_history", nil).JSON()
	var versions []string
	for _, e := range hist["entry"].([]any) {
		versions = append(versions, e.(map[string]any)["resource"].(map[string]any)["meta"].(map[string]any)["versionId"].(string))
	}
	if got, want := fmt.Sprint(versions), "[3 2 1]"; got != want || hist["total"] != json.Number("3") {
		t.Errorf("history versions: got %s (total %v), want %s", got, hist["total"], want)
	}
}
