package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBill_OtherPatientsRecordsRefused: a Condition or Procedure whose
// subject is not the Encounter's patient is never billed. Billing
// refuses the Encounter with 422 naming the element at fault, and stores
// nothing, since a diagnosis of another patient on a claim discloses it
// to the wrong insurer and a service of another patient bills the wrong
// person: the record must be corrected, not billed around. Before,
// $bill answered "All OK" with the other patient's B20 as the reason of
// every line and its 93000 on p1's Invoice, and $claim sent B20 to p1's
// insurer.
func TestBill_OtherPatientsRecordsRefused(t *testing.T) {
	srv := billingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	put(t, srv, `{"resourceType":"Patient","id":"other"}`)
	put(t, srv, `{"resourceType":"Condition","id":"other-dx","subject":{"reference":"Patient/other"},
	  "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"B20"}]}}`)
	visit := officeVisit("e5", "2025-03-11", false)
	encounter := visit[2]
	for _, r := range visit {
		put(t, srv, r)
	}

	refused := func(t *testing.T, op, expression string) {
		t.Helper()
		res := srv.Do("POST", "/Encounter/e5/$"+op, nil)
		if res.Status != 422 || !bytes.Contains(res.Body, []byte(`"expression":["`+expression+`"]`)) {
			t.Errorf("$%s: %d %s, want 422 naming %s", op, res.Status, res.Body, expression)
		}
		if bytes.Contains(res.Body, []byte("B20")) {
			t.Errorf("$%s: the refusal quotes the other patient's code: %s", op, res.Body)
		}
		if res := srv.Do("GET", "/Invoice/e5-patient", nil); res.Status != 404 {
			t.Errorf("Invoice/e5-patient after a refused $%s: %d, want 404", op, res.Status)
		}
	}

	t.Run("EncounterDiagnosis", func(t *testing.T) {
		put(t, srv, strings.Replace(encounter, `{"condition":{"reference":"Condition/e5-cp"},"rank":1}`,
			`{"condition":{"reference":"Condition/other-dx"},"rank":1}`, 1))
		refused(t, "bill", "Encounter.diagnosis[0].condition")
		refused(t, "claim", "Encounter.diagnosis[0].condition")
		put(t, srv, encounter)
	})
	t.Run("ConditionOfTheEncounter", func(t *testing.T) {
		put(t, srv, `{"resourceType":"Condition","id":"other-dx2","subject":{"reference":"Patient/other"},
		  "encounter":{"reference":"Encounter/e5"},
		  "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"B20"}]}}`)
		refused(t, "bill", "Condition.subject")
		mustDo(t, srv, 204, "DELETE", "/Condition/other-dx2", nil)
	})
	t.Run("ProcedureOfTheEncounter", func(t *testing.T) {
		put(t, srv, `{"resourceType":"Procedure","id":"other-ecg","status":"completed",
		  "subject":{"reference":"Patient/other"},"encounter":{"reference":"Encounter/e5"},
		  "code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"93000"}]},
		  "performedDateTime":"2025-03-11"}`)
		refused(t, "bill", "Procedure.subject")
		mustDo(t, srv, 204, "DELETE", "/Procedure/other-ecg", nil)
	})

	// Corrected, the visit bills: the 99213 line only, its reasons p1's
	// own R07.9 and I10 (officeVisit).
	got := bill(t, srv, "e5")
	if n := len(got.Invoice["lineItem"].([]any)); n != 1 {
		t.Errorf("%d lines, want 1", n)
	}
	if dx := codes(got.ChargeItems[0]["reason"]); strings.Join(dx, " ") != "R07.9 I10" {
		t.Errorf("reasons %v, want [R07.9 I10]", dx)
	}
}
