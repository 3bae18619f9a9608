package ehrtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SystemSyntheaPayer is the identifier system of the payers named by the
// Coverages the test EHR derives (see [Server.LoadBundle]); the values are
// Synthea's payer kinds: "medicare", "medicaid" and "private". A payer
// Organization in fhirbill carries the same identifier to be found.
const SystemSyntheaPayer = "https://fhirbill.dev/fhir/sid/synthea-payer"

// systemPayerType is the Source of Payment Typology (PHVS), the payer
// type US Core binds Coverage.type to.
const systemPayerType = "urn:oid:2.16.840.1.113883.3.221.5"

// payerOf is a payer of the derived Coverages: its identifier value and
// display, and its payer type.
type payerOf struct {
	value, display, sopt, soptDisplay string
}

var (
	medicare = payerOf{"medicare", "Medicare", "1", "MEDICARE"}
	medicaid = payerOf{"medicaid", "Medicaid", "2", "MEDICAID"}
	private  = payerOf{"private", "Private health insurance", "5", "PRIVATE HEALTH INSURANCE"}
)

// payerKinds maps the payor text of Synthea's contained Coverages to the
// payers of its Coverages, in order of payment. A dual eligible patient
// has Medicare first and Medicaid second; no_insurance has no Coverage
// (self-pay).
var payerKinds = map[string][]payerOf{
	"medicare":      {medicare},
	"medicaid":      {medicaid},
	"private":       {private},
	"dual_eligible": {medicare, medicaid},
	"no_insurance":  nil,
}

// claimOf is one encounter's payer kind, as an ExplanationOfBenefit says.
type claimOf struct {
	patient string    // Patient/<id>
	start   time.Time // the encounter's start
	day     string    // its date, YYYY-MM-DD, in its own time zone
	kind    string
}

// deriveCoverages returns the Coverages that the resources of a Synthea
// Bundle imply, as an EHR's registration data would hold them: payer and
// period. Synthea writes no standalone Coverage; each
// ExplanationOfBenefit contains one whose payor text names the payer kind
// of the encounters the claim's items point at. For each patient, the
// encounters in date order fall into runs of one payer kind; a run gives
// a Coverage per payer (two for dual_eligible, Medicare with order 1 and
// Medicaid with order 2, none for no_insurance) from the date of its first
// encounter to the day before the next run's first encounter (open for
// the last run). The payer is a logical reference: an identifier in
// [SystemSyntheaPayer]. Ids are natural keys, "<patient id>-<payer>-<start
// yyyymmdd>", so loading the same bundles again gives the same Coverages.
// References in res must be local already (Type/id).
func deriveCoverages(res []map[string]any) []map[string]any {
	starts := map[string]string{} // Encounter/<id> → period.start
	for _, r := range res {
		if r["resourceType"] == "Encounter" {
			id, _ := r["id"].(string)
			starts["Encounter/"+id], _ = dig(r, "period", "start").(string)
		}
	}

	byPatient := map[string][]claimOf{}
	for _, r := range res {
		if r["resourceType"] != "ExplanationOfBenefit" {
			continue
		}
		kind := containedPayer(r)
		patient, _ := dig(r, "patient", "reference").(string)
		if _, ok := payerKinds[kind]; !ok || !strings.HasPrefix(patient, "Patient/") {
			continue
		}
		items, _ := r["item"].([]any)
		for _, it := range items {
			encs, _ := dig(it, "encounter").([]any)
			for _, e := range encs {
				ref, _ := dig(e, "reference").(string)
				s := starts[ref]
				t, err := time.Parse(time.RFC3339, s)
				if err != nil || len(s) < 10 {
					continue
				}
				byPatient[patient] = append(byPatient[patient], claimOf{patient, t, s[:10], kind})
			}
		}
	}

	patients := make([]string, 0, len(byPatient))
	for p := range byPatient {
		patients = append(patients, p)
	}
	sort.Strings(patients)
	var out []map[string]any
	for _, p := range patients {
		out = append(out, coveragesOf(byPatient[p])...)
	}
	return out
}

// coveragesOf turns one patient's claims into Coverages.
func coveragesOf(claims []claimOf) []map[string]any {
	sort.SliceStable(claims, func(i, j int) bool { return claims[i].start.Before(claims[j].start) })
	var runs []claimOf // the first claim of each run
	for _, c := range claims {
		if len(runs) == 0 || runs[len(runs)-1].kind != c.kind {
			runs = append(runs, c)
		}
	}
	var out []map[string]any
	for i, run := range runs {
		period := map[string]any{"start": run.day}
		if i+1 < len(runs) {
			next, _ := time.Parse(time.DateOnly, runs[i+1].day)
			period["end"] = next.AddDate(0, 0, -1).Format(time.DateOnly)
		}
		payers := payerKinds[run.kind]
		for order, p := range payers {
			cov := map[string]any{
				"resourceType": "Coverage",
				"id":           coverageID(strings.TrimPrefix(run.patient, "Patient/"), p.value, run.day),
				"status":       "active",
				"type": map[string]any{
					"coding": []any{map[string]any{"system": systemPayerType, "code": p.sopt, "display": p.soptDisplay}},
					"text":   run.kind,
				},
				"beneficiary": map[string]any{"reference": run.patient},
				"relationship": map[string]any{"coding": []any{map[string]any{
					"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self"}}},
				"period": period,
				"payor": []any{map[string]any{
					"type":       "Organization",
					"identifier": map[string]any{"system": SystemSyntheaPayer, "value": p.value},
					"display":    p.display,
				}},
			}
			if len(payers) > 1 {
				cov["order"] = json.Number(strconv.Itoa(order + 1))
			}
			out = append(out, cov)
		}
	}
	return out
}

// containedPayer is the payor text of the Coverage an
// ExplanationOfBenefit contains, or "".
func containedPayer(eob map[string]any) string {
	contained, _ := eob["contained"].([]any)
	for _, c := range contained {
		if dig(c, "resourceType") != "Coverage" {
			continue
		}
		payors, _ := dig(c, "payor").([]any)
		for _, p := range payors {
			if s, _ := dig(p, "display").(string); s != "" {
				return s
			}
		}
	}
	return ""
}

// coverageID is "<patient>-<payer>-<yyyymmdd>", or a hash of it when that
// is not a valid FHIR id of at most 64 characters.
func coverageID(patient, payer, day string) string {
	id := patient + "-" + payer + "-" + strings.ReplaceAll(day, "-", "")
	if len(id) <= 64 && validID(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "cov-" + hex.EncodeToString(sum[:16])
}

func validID(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return s != ""
}

// dig walks JSON objects by key; nil when a step is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
