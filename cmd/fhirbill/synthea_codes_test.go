package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fhirbill/fhirbill/billing"
)

// syntheaDir holds the shared Synthea bundles, outside the repository.
const syntheaDir = "../../../shared/testdata/synthea"

// syntheaCode is a SNOMED CT code as it occurs in the bundles.
type syntheaCode struct {
	where, code, display string // where: "Encounter.type", "Procedure.code" or "Condition.code"
	count                int
}

// syntheaCodes lists the SNOMED CT codes of the bundles' encounter types,
// procedures and conditions, with how often each occurs, read
// independently of fhirbill's code.
func syntheaCodes(t *testing.T) []*syntheaCode {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(syntheaDir, "*.json"))
	if len(names) == 0 {
		t.Skipf("Synthea bundles not found at %s (the shared test data sits beside the repository)", syntheaDir)
	}
	type coded struct {
		Coding []struct{ System, Code, Display string }
	}
	byKey := map[string]*syntheaCode{}
	var out []*syntheaCode
	note := func(where string, cc coded) {
		for _, c := range cc.Coding {
			if c.System != billing.SystemSNOMED {
				continue
			}
			k := where + "|" + c.Code
			if byKey[k] == nil {
				byKey[k] = &syntheaCode{where: where, code: c.Code, display: c.Display}
				out = append(out, byKey[k])
			}
			byKey[k].count++
		}
	}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				Resource struct {
					ResourceType string
					Type         json.RawMessage // []CodeableConcept on an Encounter
					Code         coded
				}
			}
		}
		if err := json.Unmarshal(data, &b); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		for _, e := range b.Entry {
			switch r := e.Resource; r.ResourceType {
			case "Encounter":
				var types []coded
				if err := json.Unmarshal(r.Type, &types); err != nil {
					t.Fatalf("%s: Encounter.type: %v", n, err)
				}
				for _, cc := range types {
					note("Encounter.type", cc)
				}
			case "Procedure", "Condition":
				note(r.ResourceType+".code", r.Code)
			}
		}
	}
	return out
}

// seedMaps reads the seed's ConceptMaps: for each map id, the SNOMED CT
// codes it lists and their first target's equivalence.
func seedMaps(t *testing.T) map[string]map[string]string {
	t.Helper()
	data, err := os.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType, ID string
				Group            []struct {
					Element []struct {
						Code   string
						Target []struct{ Equivalence string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, e := range b.Entry {
		if e.Resource.ResourceType != "ConceptMap" {
			continue
		}
		m := map[string]string{}
		for _, g := range e.Resource.Group {
			for _, el := range g.Element {
				m[el.Code] = el.Target[0].Equivalence
			}
		}
		out[e.Resource.ID] = m
	}
	return out
}

// TestSyntheaSeed_CoversEveryCode: every SNOMED CT code of the Synthea
// encounter types and procedures is in the CPT/HCPCS ConceptMap, and
// every condition code in the ICD-10-CM one, mapped or listed as
// unmatched; and the maps list no code that does not occur. With -v it
// prints the codes, how often they occur and how they map.
func TestSyntheaSeed_CoversEveryCode(t *testing.T) {
	codes := syntheaCodes(t)
	maps := seedMaps(t)
	used := map[string]map[string]bool{}
	for _, c := range codes {
		id := "synthea-snomed-to-cpt"
		if c.where == "Condition.code" {
			id = "synthea-snomed-to-icd10cm"
		}
		eq, ok := maps[id][c.code]
		if !ok {
			t.Errorf("%s %s (%s, %d times) is not in ConceptMap/%s", c.where, c.code, c.display, c.count, id)
		}
		if used[id] == nil {
			used[id] = map[string]bool{}
		}
		used[id][c.code] = true
		t.Logf("%-14s %-16s %4d  %-10s %s", c.where, c.code, c.count, eq, c.display)
	}
	for id, m := range maps {
		for code := range m {
			if !used[id][code] {
				t.Errorf("ConceptMap/%s lists %s, which no Synthea resource uses", id, code)
			}
		}
	}
}
