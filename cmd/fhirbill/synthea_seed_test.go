package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
	"github.com/fhirbill/fhirbill/fhir/resource"
)

// update rewrites golden files (testdata/synthea/seed.json) instead of
// comparing with them.
var update = flag.Bool("update", false, "rewrite golden files in testdata")

// The Synthea seed: its sources (tables the project wrote) and the Bundle
// generated from them.
const (
	seedDir  = "../../testdata/synthea"
	seedFile = seedDir + "/seed.json"
)

// seedBase is the base of the seed's canonical URLs.
const seedBase = "https://fhirbill.dev/fhir/synthea/"

// mapRow is one line of snomed-to-cpt.tsv or snomed-to-icd10cm.tsv.
type mapRow struct {
	code, display, system, target, title, equivalence, comment string
}

// priceRow is one line of price-list.tsv.
type priceRow struct {
	system, code, title, gross, private, medicaid string
}

// readTable reads a tab-separated table, skipping # comments, and checks
// that every row has n fields.
func readTable(t *testing.T, name string, n int) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(seedDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if strings.HasPrefix(sc.Text(), "#") || strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != n {
			t.Fatalf("%s:%d: %d fields, want %d", name, line, len(fs), n)
		}
		rows = append(rows, fs)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func readMap(t *testing.T, name string) []mapRow {
	t.Helper()
	var out []mapRow
	seen := map[string]bool{}
	for _, f := range readTable(t, name, 7) {
		r := mapRow{f[0], f[1], f[2], f[3], f[4], f[5], f[6]}
		if seen[r.code] {
			t.Fatalf("%s: %s is listed twice", name, r.code)
		}
		seen[r.code] = true
		needsComment := r.equivalence == "narrower" || r.equivalence == "inexact" || r.equivalence == "unmatched"
		if needsComment && r.comment == "" {
			t.Fatalf("%s: %s is %s and needs a comment saying why", name, r.code, r.equivalence)
		}
		if (r.system == "-") != (r.equivalence == "unmatched") || (r.system == "-") != (r.target == "") {
			t.Fatalf("%s: %s: an unmatched code has no target system or code, a mapped one has both", name, r.code)
		}
		out = append(out, r)
	}
	return out
}

// systems are the code systems of the tables' target column.
var systems = map[string]string{
	"cpt": billing.SystemCPT, "hcpcs": billing.SystemHCPCS, "icd10cm": billing.SystemICD10CM,
}

// seedPayer is a payer kind of the Synthea patients: its Organization,
// plan (cost sharing) and contract.
type seedPayer struct {
	kind, name, planName, planText string
	factor                         string // of the 2025 fee schedule
	general                        []seedCost
	specific                       []seedCost
	feeColumn                      func(priceRow) string
}

type seedCost struct {
	code, value string // coverage-copay-type code; an amount in USD, or a percent for copaypct
}

// seedPayers are the payer kinds Synthea uses (dual eligible patients have
// a Medicare and a Medicaid Coverage; uninsured ones none). The terms are
// illustrative: Medicare's are the 2025 Part B deductible and 20 %
// coinsurance, with no out-of-pocket maximum; Medicaid charges no cost
// sharing for physician services; the private plan is a common PPO shape.
var seedPayers = []seedPayer{
	{kind: "medicare", name: "Medicare Part B", planName: "Medicare Part B (2025 cost sharing)",
		planText: "Original Medicare Part B: the 2025 annual deductible, then 20 % coinsurance; no out-of-pocket maximum.",
		factor:   "1", general: []seedCost{{"deductible", "257.00"}}, specific: []seedCost{{"copaypct", "20"}},
		feeColumn: func(priceRow) string { return "" }},
	{kind: "medicaid", name: "Medicaid", planName: "Medicaid (no cost sharing for physician services)",
		planText: "Medicaid: no deductible, copay or coinsurance for physician services.",
		factor:   "0.75", general: []seedCost{{"deductible", "0.00"}}, specific: []seedCost{{"copaypct", "0"}},
		feeColumn: func(p priceRow) string { return p.medicaid }},
	{kind: "private", name: "Private health plan", planName: "Private PPO (illustrative)",
		planText: "A private PPO: a 1,000.00 deductible, 25.00 office and 150.00 emergency copays, then 20 % " +
			"coinsurance, up to 4,000.00 out of pocket a year.",
		factor:    "1.40",
		general:   []seedCost{{"deductible", "1000.00"}, {"maxoutofpocket", "4000.00"}},
		specific:  []seedCost{{"gpvisit", "25.00"}, {"emergency", "150.00"}, {"copaypct", "20"}},
		feeColumn: func(p priceRow) string { return p.private }},
}

// buildSeed builds the seed Bundle from the tables.
func buildSeed(t *testing.T) []byte {
	t.Helper()
	cpt := readMap(t, "snomed-to-cpt.tsv")
	icd := readMap(t, "snomed-to-icd10cm.tsv")
	var prices []priceRow
	for _, f := range readTable(t, "price-list.tsv", 6) {
		prices = append(prices, priceRow{f[0], f[1], f[2], f[3], f[4], f[5]})
	}

	// One price per code mapped to, and no price for a code not mapped to.
	mapped := map[string]bool{}
	for _, r := range cpt {
		if r.system != "-" {
			mapped[r.system+"|"+r.target] = true
		}
	}
	priced := map[string]bool{}
	for _, p := range prices {
		k := p.system + "|" + p.code
		if !mapped[k] || priced[k] {
			t.Fatalf("price-list.tsv: %s is not a code snomed-to-cpt.tsv maps to, or is priced twice", k)
		}
		priced[k] = true
	}
	for k := range mapped {
		if !priced[k] {
			t.Fatalf("price-list.tsv has no gross charge for %s, which snomed-to-cpt.tsv maps to", k)
		}
	}

	var entries []any
	add := func(r map[string]any) {
		entries = append(entries, seedEntry(t, r))
	}
	add(conceptMap("synthea-snomed-to-cpt", "SyntheaSnomedToCpt",
		"Synthea SNOMED CT encounter types and procedures to CPT and HCPCS",
		"Maps the SNOMED CT codes of the encounter types and procedures of the Synthea patients in "+
			"../shared/testdata/synthea to CPT and HCPCS Level II billing codes, for charge capture. "+
			"Written by fhirbill from public code meanings; each judgement is explained in a target comment, "+
			"and codes that cannot be mapped honestly are listed as unmatched.", cpt))
	add(conceptMap("synthea-snomed-to-icd10cm", "SyntheaSnomedToIcd10cm",
		"Synthea SNOMED CT conditions to ICD-10-CM",
		"Maps the SNOMED CT codes of the conditions of the Synthea patients in ../shared/testdata/synthea "+
			"to ICD-10-CM diagnosis codes. Written by fhirbill from public code meanings; each judgement "+
			"is explained in a target comment, and codes that cannot be mapped honestly are listed as unmatched.", icd))
	for _, p := range prices {
		add(priceDefinition(p))
	}
	for _, p := range seedPayers {
		add(payerOrganization(p))
		add(insurancePlan(p))
		add(contract(p))
		for _, pr := range prices {
			if fee := p.feeColumn(pr); fee != "" {
				add(payerFee(p, pr, fee))
			}
		}
	}

	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", " "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// seedEntry validates r as fhirbill does any write and returns its
// transaction entry: a PUT to its natural-key id, in canonical JSON.
func seedEntry(t *testing.T, r map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := resource.Parse(b)
	if err != nil {
		t.Fatalf("%s/%s is not valid: %v", r["resourceType"], r["id"], err)
	}
	canon, err := res.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"fullUrl":  seedBase + res.Type() + "/" + res.ID(),
		"resource": json.RawMessage(canon),
		"request":  map[string]any{"method": "PUT", "url": res.Type() + "/" + res.ID()},
	}
}

func conceptMap(id, name, title, description string, rows []mapRow) map[string]any {
	groups := map[string][]any{}
	var order []string
	for _, r := range rows {
		sys := r.system
		if sys == "-" {
			sys = "cpt" // unmatched codes are listed in the first group; no CPT or HCPCS code fits them
			if strings.Contains(id, "icd10cm") {
				sys = "icd10cm"
			}
		}
		target := map[string]any{"equivalence": r.equivalence}
		if r.target != "" {
			target["code"], target["display"] = r.target, r.title
		}
		if r.comment != "" {
			target["comment"] = r.comment
		}
		if groups[sys] == nil {
			order = append(order, sys)
		}
		groups[sys] = append(groups[sys], map[string]any{
			"code": r.code, "display": r.display, "target": []any{target}})
	}
	var gs []any
	for _, sys := range order {
		gs = append(gs, map[string]any{"source": billing.SystemSNOMED, "target": systems[sys], "element": groups[sys]})
	}
	return map[string]any{
		"resourceType": "ConceptMap", "id": id, "url": seedBase + "ConceptMap/" + id, "version": "1",
		"name": name, "title": title, "status": "active", "publisher": "fhirbill",
		"description": description, "sourceUri": "http://snomed.info/sct?fhir_vs", "group": gs,
	}
}

func seedMoney(v string) map[string]any {
	return map[string]any{"value": json.Number(v), "currency": "USD"}
}

func priceDefinition(p priceRow) map[string]any {
	id := "synthea-price-" + p.code
	return map[string]any{
		"resourceType": "ChargeItemDefinition", "id": id, "url": seedBase + "ChargeItemDefinition/" + id,
		"version": "1", "title": "Gross charge: " + p.title, "status": "active", "publisher": "fhirbill",
		"description": "The Synthea clinics' gross charge for this code (illustrative).",
		"code":        codeOf(p),
		"propertyGroup": []any{map[string]any{"priceComponent": []any{
			map[string]any{"type": "base", "amount": seedMoney(p.gross)}}}},
	}
}

// codeOf is the CodeableConcept of a price list row's code.
func codeOf(p priceRow) map[string]any {
	return map[string]any{"coding": []any{map[string]any{"system": systems[p.system], "code": p.code, "display": p.title}}}
}

func payerRef(p seedPayer) map[string]any {
	return map[string]any{"reference": "Organization/synthea-payer-" + p.kind, "display": p.name}
}

func programContext(p seedPayer) []any {
	return []any{map[string]any{
		"code":           map[string]any{"system": billing.SystemUsage, "code": "program"},
		"valueReference": payerRef(p),
	}}
}

func payerOrganization(p seedPayer) map[string]any {
	return map[string]any{
		"resourceType": "Organization", "id": "synthea-payer-" + p.kind, "active": true, "name": p.name,
		"identifier": []any{map[string]any{"system": ehrtest.SystemSyntheaPayer, "value": p.kind}},
		"type": []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "pay", "display": "Payer"}}}},
	}
}

func costType(code string) map[string]any {
	return map[string]any{"coding": []any{map[string]any{"system": billing.SystemCopay, "code": code}}}
}

func insurancePlan(p seedPayer) map[string]any {
	var general, specific []any
	for _, c := range p.general {
		general = append(general, map[string]any{"type": costType(c.code), "cost": seedMoney(c.value)})
	}
	for _, c := range p.specific {
		v := map[string]any{"value": json.Number(c.value), "unit": "USD", "system": "urn:iso:std:iso:4217", "code": "USD"}
		if c.code == "copaypct" {
			v = map[string]any{"value": json.Number(c.value), "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
		}
		specific = append(specific, map[string]any{"type": costType(c.code), "value": v})
	}
	return map[string]any{
		"resourceType": "InsurancePlan", "id": "synthea-plan-" + p.kind, "status": "active", "name": p.planName,
		"identifier": []any{map[string]any{"system": seedBase + "plan", "value": p.kind}},
		"ownedBy":    payerRef(p),
		"plan": []any{map[string]any{
			"type":        map[string]any{"text": p.planText},
			"generalCost": general,
			"specificCost": []any{map[string]any{
				"category": map[string]any{"coding": []any{map[string]any{
					"system": "http://terminology.hl7.org/CodeSystem/ex-benefitcategory", "code": "1", "display": "Medical Care"}}},
				"benefit": []any{map[string]any{"type": map[string]any{"text": "physician services"}, "cost": specific}},
			}},
		}},
	}
}

func contract(p seedPayer) map[string]any {
	id := "synthea-contract-" + p.kind
	pct := map[string]string{"1": "100", "0.75": "75", "1.40": "140"}[p.factor]
	return map[string]any{
		"resourceType": "ChargeItemDefinition", "id": id, "url": seedBase + "ChargeItemDefinition/" + id,
		"version": "1", "title": fmt.Sprintf("%s contract: %s %% of the 2025 Medicare fee schedule", p.name, pct),
		"status": "active", "publisher": "fhirbill",
		"description": fmt.Sprintf("For %s, the allowed amount is %s %% of the Medicare Physician Fee Schedule "+
			"amount, on the 2025 schedule whatever the date of service (pfs-year): the repository holds only "+
			"the 2025 release, and the Synthea dates run from 1939 to 2021. Codes of the payer's own fee list "+
			"are priced from it. Illustrative.", p.name, pct),
		"extension": []any{
			map[string]any{"url": billing.ExtAllowedRule, "valueCode": billing.RuleMedicarePFS},
			map[string]any{"url": billing.ExtPFSYear, "valueInteger": 2025},
		},
		"useContext": programContext(p),
		"propertyGroup": []any{map[string]any{"priceComponent": []any{
			map[string]any{"type": "base", "factor": json.Number(p.factor)}}}},
	}
}

func payerFee(p seedPayer, pr priceRow, fee string) map[string]any {
	id := "synthea-fee-" + p.kind + "-" + pr.code
	return map[string]any{
		"resourceType": "ChargeItemDefinition", "id": id, "url": seedBase + "ChargeItemDefinition/" + id,
		"version": "1", "title": p.name + " fee: " + pr.title, "status": "active", "publisher": "fhirbill",
		"description": "What " + p.name + " allows for this code, which the Medicare fee schedule does not " +
			"price (illustrative).",
		"code":       codeOf(pr),
		"useContext": programContext(p),
		"propertyGroup": []any{map[string]any{"priceComponent": []any{
			map[string]any{"type": "base", "amount": seedMoney(fee)}}}},
	}
}

// TestSyntheaSeed_UpToDate checks that testdata/synthea/seed.json is what
// the tables beside it give; with -update it writes it.
func TestSyntheaSeed_UpToDate(t *testing.T) {
	got := buildSeed(t)
	if *update {
		if err := os.WriteFile(seedFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the tables give: run go test ./cmd/fhirbill -run TestSyntheaSeed -update", seedFile)
	}
}
