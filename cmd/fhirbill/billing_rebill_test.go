package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// TestBill_ChangedServiceSupersedesItsChargeItem: billing again after a
// service's code changed marks the ChargeItem of the old code
// entered-in-error, whether it was billed or not billable, and the
// Invoice names every ChargeItem of its billing (lines and not-billed
// extensions), which is how billing finds them again without a search.
// A code a ConceptMap lists as unmatched is not billable, with the map's
// comment as the reason.
func TestBill_ChangedServiceSupersedesItsChargeItem(t *testing.T) {
	srv := billingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	visit := officeVisit("e1", "2025-03-10", true)
	for _, r := range visit {
		put(t, srv, r)
	}
	first := bill(t, srv, "e1")
	ecgBilled := chargeItemOf(t, first, "93000")

	// The ECG now comes coded in SNOMED CT, which a ConceptMap lists as
	// unmatched: the reason quotes it.
	ecg := visit[len(visit)-1]
	snomedECG := strings.Replace(ecg, `"system":"http://www.ama-assn.org/go/cpt","code":"93000"`,
		`"system":"http://snomed.info/sct","code":"29303009"`, 1)
	put(t, srv, snomedECG)
	put(t, srv, `{"resourceType":"ConceptMap","id":"ecg","url":"https://clinic.example/cm/ecg","status":"active",
	  "group":[{"source":"http://snomed.info/sct","target":"http://www.ama-assn.org/go/cpt",
	    "element":[{"code":"29303009","target":[{"equivalence":"unmatched","comment":"Not decided yet."}]}]}]}`)
	second := bill(t, srv, "e1")
	ecgUncoded := chargeItemOf(t, second, "29303009")
	for _, ci := range second.ChargeItems {
		if ci["id"] == ecgUncoded {
			want := "Not billed: no CPT or HCPCS code: https://clinic.example/cm/ecg lists it as unmatched: Not decided yet."
			if got := field(ci["note"].([]any)[0].(map[string]any), "text"); got != want {
				t.Errorf("note %q, want %q", got, want)
			}
		}
	}
	if got := statusOf(t, srv, ecgBilled); got != "entered-in-error" {
		t.Errorf("ChargeItem/%s of the old code is %s, want entered-in-error", ecgBilled, got)
	}
	if got := statusOf(t, srv, ecgUncoded); got != "not-billable" {
		t.Errorf("ChargeItem/%s of the unmapped code is %s, want not-billable", ecgUncoded, got)
	}
	if got, want := notBilled(second.Invoice), []string{"ChargeItem/" + ecgUncoded}; !slices.Equal(got, want) {
		t.Errorf("the Invoice names not-billed %v, want %v", got, want)
	}

	// A ConceptMap now maps the SNOMED CT code to 93000: the line is billed
	// again under its first ChargeItem, and the not-billable one is
	// superseded.
	put(t, srv, `{"resourceType":"ConceptMap","id":"ecg","url":"https://clinic.example/cm/ecg","status":"active",
	  "group":[{"source":"http://snomed.info/sct","target":"http://www.ama-assn.org/go/cpt",
	    "element":[{"code":"29303009","target":[{"code":"93000","equivalence":"equivalent"}]}]}]}`)
	third := bill(t, srv, "e1")
	if got := chargeItemOf(t, third, "93000"); got != ecgBilled {
		t.Errorf("the ECG is billed as ChargeItem/%s, want ChargeItem/%s again", got, ecgBilled)
	}
	if got := statusOf(t, srv, ecgBilled); got != "billable" {
		t.Errorf("ChargeItem/%s is %s, want billable", ecgBilled, got)
	}
	if got := statusOf(t, srv, ecgUncoded); got != "entered-in-error" {
		t.Errorf("ChargeItem/%s is %s, want entered-in-error", ecgUncoded, got)
	}
	if got := notBilled(third.Invoice); len(got) != 0 {
		t.Errorf("the Invoice names not-billed %v, want none", got)
	}
	if lines, _ := third.Invoice["lineItem"].([]any); len(lines) != 2 {
		t.Errorf("%d lines, want 2", len(lines))
	}
}

// chargeItemOf returns the id of the ChargeItem of a $bill answer whose
// first coding has code.
func chargeItemOf(t *testing.T, b billed, code string) string {
	t.Helper()
	for _, ci := range b.ChargeItems {
		cs, _ := field(ci, "code", "coding").([]any)
		if len(cs) > 0 && cs[0].(map[string]any)["code"] == code {
			return ci["id"].(string)
		}
	}
	t.Fatalf("no ChargeItem of code %s in the $bill answer", code)
	return ""
}

// statusOf reads ChargeItem/id's status.
func statusOf(t *testing.T, srv *resttest.Server, id string) string {
	t.Helper()
	res := srv.Do("GET", "/ChargeItem/"+id, nil)
	if res.Status != 200 {
		t.Fatalf("GET ChargeItem/%s: %d", id, res.Status)
	}
	s, _ := res.JSON()["status"].(string)
	return s
}

// notBilled lists the ChargeItems an Invoice names in not-billed
// extensions.
func notBilled(inv map[string]any) []string {
	var out []string
	exts, _ := inv["extension"].([]any)
	for _, e := range exts {
		m := e.(map[string]any)
		if m["url"] == "https://fhirbill.dev/fhir/StructureDefinition/not-billed" {
			out = append(out, field(m, "valueReference", "reference").(string))
		}
	}
	return out
}
