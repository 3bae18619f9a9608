package ehrtest_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
)

// syntheaBundle writes a Bundle as Synthea does: urn:uuid fullUrls, one
// Encounter per claim, and an ExplanationOfBenefit per Encounter whose
// contained Coverage's payor text names the payer kind. visits are
// "date kind" pairs.
func syntheaBundle(t *testing.T, visits ...string) []byte {
	t.Helper()
	patient := "urn:uuid:00000000-0000-4000-8000-000000000001"
	entries := []any{map[string]any{"fullUrl": patient,
		"resource": map[string]any{"resourceType": "Patient"}}}
	for i, v := range visits {
		day, kind, _ := strings.Cut(v, " ")
		enc := fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-1000000000%02d", i)
		entries = append(entries,
			map[string]any{"fullUrl": enc, "resource": map[string]any{
				"resourceType": "Encounter", "status": "finished",
				"subject": map[string]any{"reference": patient},
				"period":  map[string]any{"start": day + "T10:00:00+00:00"}}},
			map[string]any{"fullUrl": fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-2000000000%02d", i),
				"resource": map[string]any{
					"resourceType": "ExplanationOfBenefit",
					"contained": []any{map[string]any{"resourceType": "Coverage", "id": "coverage",
						"type": map[string]any{"text": kind}, "payor": []any{map[string]any{"display": kind}}}},
					"patient": map[string]any{"reference": patient},
					"item": []any{map[string]any{"sequence": 1,
						"encounter": []any{map[string]any{"reference": enc}}}}}})
	}
	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type coverage struct {
	ID     string
	Type   struct{ Text string }
	Order  int
	Period struct{ Start, End string }
	Payor  []struct {
		Identifier struct{ System, Value string }
	}
	Beneficiary struct{ Reference string }
}

func coverages(t *testing.T, srv *ehrtest.Server) []coverage {
	t.Helper()
	var out []coverage
	for _, id := range srv.IDs("Coverage") {
		var c coverage
		if err := json.Unmarshal(srv.Resource("Coverage", id), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// TestLoadBundle_DerivesCoverage: the payer kinds of a patient's claims in
// date order become Coverages whose periods follow the dates of service:
// private, then Medicaid, then dual eligible (Medicare first, Medicaid
// second), a spell without insurance (no Coverage), and private again.
func TestLoadBundle_DerivesCoverage(t *testing.T) {
	srv := ehrtest.New(nil)
	// Out of date order on purpose: the runs follow the dates.
	b := syntheaBundle(t, "2012-05-01 medicaid", "2010-01-15 private", "2011-03-02 private",
		"2014-07-07 dual_eligible", "2016-02-02 no_insurance", "2018-09-30 private", "2015-01-01 dual_eligible")
	n, err := srv.LoadBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	const p = "00000000-0000-4000-8000-000000000001"
	want := []string{
		p + "-medicaid-20120501 medicaid 2012-05-01..2014-07-06 medicaid order 0",
		p + "-medicaid-20140707 dual_eligible 2014-07-07..2016-02-01 medicaid order 2",
		p + "-medicare-20140707 dual_eligible 2014-07-07..2016-02-01 medicare order 1",
		p + "-private-20100115 private 2010-01-15..2012-04-30 private order 0",
		p + "-private-20180930 private 2018-09-30.. private order 0",
	}
	var got []string
	for _, c := range coverages(t, srv) {
		if c.Beneficiary.Reference != "Patient/"+p || len(c.Payor) != 1 ||
			c.Payor[0].Identifier.System != ehrtest.SystemSyntheaPayer {
			t.Errorf("Coverage/%s: beneficiary %s, payor %v", c.ID, c.Beneficiary.Reference, c.Payor)
		}
		got = append(got, fmt.Sprintf("%s %s %s..%s %s order %d", c.ID, c.Type.Text, c.Period.Start,
			c.Period.End, c.Payor[0].Identifier.Value, c.Order))
	}
	if !slices.Equal(got, want) {
		t.Errorf("Coverages\n got %q\nwant %q", got, want)
	}
	if wantN := 1 + 2*7 + len(want); n != wantN {
		t.Errorf("LoadBundle added %d resources, want %d", n, wantN)
	}

	// Loading the same bundle again gives the same Coverages.
	if _, err := srv.LoadBundle(b); err != nil {
		t.Fatal(err)
	}
	if len(srv.IDs("Coverage")) != len(want) {
		t.Errorf("%d Coverages after loading twice, want %d", len(srv.IDs("Coverage")), len(want))
	}
}

// syntheaDir holds the shared Synthea bundles, outside the repository.
const syntheaDir = "../../../../shared/testdata/synthea"

// TestLoadDir_SyntheaPayerFollowsDate: on the shared Synthea bundles, each
// Encounter's date is covered by exactly one primary Coverage (order 1 or
// none), of the payer its claim names (Medicare for dual eligible), and a
// no_insurance encounter by none.
func TestLoadDir_SyntheaPayerFollowsDate(t *testing.T) {
	if _, err := os.Stat(syntheaDir); err != nil {
		t.Skipf("Synthea bundles not found at %s (the shared test data sits beside the repository): %v", syntheaDir, err)
	}
	srv := ehrtest.New(nil)
	if _, _, err := srv.LoadDir(syntheaDir); err != nil {
		t.Fatal(err)
	}
	covs := coverages(t, srv)
	t.Logf("%d Coverages derived for %d patients", len(covs), srv.Count("Patient"))
	if len(covs) == 0 {
		t.Fatal("no Coverage derived")
	}

	kinds := claimKinds(t)
	checked := 0
	for _, encID := range srv.IDs("Encounter") {
		var enc struct {
			Subject struct{ Reference string }
			Period  struct{ Start string }
		}
		if err := json.Unmarshal(srv.Resource("Encounter", encID), &enc); err != nil {
			t.Fatal(err)
		}
		day := enc.Period.Start[:10]
		var first []string
		for _, c := range covs {
			if c.Beneficiary.Reference == enc.Subject.Reference && c.Order <= 1 &&
				c.Period.Start <= day && (c.Period.End == "" || day <= c.Period.End) {
				first = append(first, c.Payor[0].Identifier.Value)
			}
		}
		want := map[string][]string{"medicare": {"medicare"}, "medicaid": {"medicaid"}, "private": {"private"},
			"dual_eligible": {"medicare"}, "no_insurance": nil}[kinds[encID]]
		if !slices.Equal(first, want) {
			t.Errorf("Encounter/%s on %s (claim: %s): primary Coverages of payers %v, want %v",
				encID, day, kinds[encID], first, want)
		}
		checked++
	}
	if checked != srv.Count("Encounter") || checked == 0 {
		t.Errorf("checked %d of %d Encounters", checked, srv.Count("Encounter"))
	}
}

// claimKinds reads the payer kind of each Encounter from the bundles'
// ExplanationOfBenefits, independently of the test EHR.
func claimKinds(t *testing.T) map[string]string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(syntheaDir, "*.json"))
	out := map[string]string{}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				Resource struct {
					ResourceType string
					Contained    []struct {
						ResourceType string
						Payor        []struct{ Display string }
					}
					Item []struct {
						Encounter []struct{ Reference string }
					}
				}
			}
		}
		if err := json.Unmarshal(data, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			if e.Resource.ResourceType != "ExplanationOfBenefit" {
				continue
			}
			kind := ""
			for _, c := range e.Resource.Contained {
				if c.ResourceType == "Coverage" && len(c.Payor) > 0 {
					kind = c.Payor[0].Display
				}
			}
			for _, it := range e.Resource.Item {
				for _, enc := range it.Encounter {
					out[strings.TrimPrefix(enc.Reference, "urn:uuid:")] = kind
				}
			}
		}
	}
	return out
}
