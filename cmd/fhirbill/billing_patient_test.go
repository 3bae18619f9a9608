package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBill_OtherPatientsRecordsLeftOut: a Condition or Procedure whose
// subject is not the Encounter's patient (one whose encounter is it, or
// one Encounter.diagnosis names) is never billed, and does not hold up
// the visit either: billing leaves it out, and the $bill outcome says so
// in an informational issue naming it by id, and by id only (not its
// code). Since any patient's app may write a Condition of its own naming
// any Encounter, refusing the Encounter let one patient block another's
// billing. Before, $bill and $claim answered 422 naming the record until
// it was corrected.
//
// What is billed is the visit's own (officeVisit): the 99213 line, its
// reasons p1's R07.9 (rank 1) and I10 (rank 2); the other patient's B20
// and 93000 are in no line and no reason.
func TestBill_OtherPatientsRecordsLeftOut(t *testing.T) {
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

	leftOut := func(t *testing.T, expression, ref string) {
		t.Helper()
		got := bill(t, srv, "e5")
		out := mustJSON(t, got.Outcome)
		want := `"diagnostics":"` + ref + ` is another patient's than the Encounter's (its subject): ` +
			`it is left out of billing","expression":["` + expression + `"]`
		if !bytes.Contains(out, []byte(want)) || !bytes.Contains(out, []byte(`"severity":"information"`)) {
			t.Errorf("$bill outcome %s, want an informational issue %s", out, want)
		}
		if bytes.Contains(out, []byte("B20")) || bytes.Contains(out, []byte("93000")) {
			t.Errorf("the outcome quotes the other patient's code: %s", out)
		}
		if n := len(got.Invoice["lineItem"].([]any)); n != 1 {
			t.Errorf("%d lines, want 1 (99213)", n)
		}
		if dx := codes(got.ChargeItems[0]["reason"]); strings.Join(dx, " ") != "R07.9 I10" {
			t.Errorf("reasons %v, want [R07.9 I10]", dx)
		}
		assertClaimItems(t, srv, "e5", []string{"99213 x 1"})
		var dxs []string
		for _, d := range asList(claimOf(t, srv, "e5", nil).Claim["diagnosis"]) {
			dxs = append(dxs, codes([]any{d.(map[string]any)["diagnosisCodeableConcept"]})[0])
		}
		if strings.Join(dxs, " ") != "R07.9 I10" {
			t.Errorf("Claim diagnoses %v, want [R07.9 I10]", dxs)
		}
	}

	t.Run("EncounterDiagnosis", func(t *testing.T) {
		htn := `{"condition":{"reference":"Condition/e5-htn"},"rank":2}`
		put(t, srv, strings.Replace(encounter, htn,
			`{"condition":{"reference":"Condition/other-dx"},"rank":1},`+htn, 1))
		leftOut(t, "Encounter.diagnosis[1].condition", "Condition/other-dx")
		put(t, srv, encounter)
	})
	t.Run("ConditionOfTheEncounter", func(t *testing.T) {
		put(t, srv, `{"resourceType":"Condition","id":"other-dx2","subject":{"reference":"Patient/other"},
		  "encounter":{"reference":"Encounter/e5"},
		  "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"B20"}]}}`)
		leftOut(t, "Condition.subject", "Condition/other-dx2")
		mustDo(t, srv, 204, "DELETE", "/Condition/other-dx2", nil)
	})
	t.Run("ProcedureOfTheEncounter", func(t *testing.T) {
		put(t, srv, `{"resourceType":"Procedure","id":"other-ecg","status":"completed",
		  "subject":{"reference":"Patient/other"},"encounter":{"reference":"Encounter/e5"},
		  "code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"93000"}]},
		  "performedDateTime":"2025-03-11"}`)
		leftOut(t, "Procedure.subject", "Procedure/other-ecg")
		mustDo(t, srv, 204, "DELETE", "/Procedure/other-ecg", nil)
	})
}

// TestBill_PatientAppCannotBlockAnotherPatient: with p2's token
// (patient/*.cruds) an app may write a Condition of p2's naming p1's
// Encounter e1 (201: the Condition is in p2's compartment), but billing
// leaves it out: staff's $bill and $claim of e1 still answer 200, and,
// the inputs being otherwise the same, store nothing new (the Invoice
// and the Claim stay at version 1, twoPatientsBilled's). Before, both
// answered 422 naming that Condition.
func TestBill_PatientAppCannotBlockAnotherPatient(t *testing.T) {
	srv, as := twoPatientsBilled(t)
	admin := as("biller", "system/*.*", "")
	p2 := as("app", "launch/patient patient/*.cruds", "p2")
	cond := `{"resourceType":"Condition","subject":{"reference":"Patient/p2"},"encounter":{"reference":"Encounter/e1"},
	  "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"B20"}]}}`
	res := srv.Do("POST", "/Condition", []byte(cond), append(p2, "Content-Type", "application/fhir+json")...)
	if res.Status != 201 {
		t.Fatalf("p2's app POST Condition: %d %s, want 201", res.Status, res.Body)
	}
	var created struct{ ID string }
	decode(t, res.Body, &created)

	for _, op := range []string{"bill", "claim"} {
		res := srv.Do("POST", "/Encounter/e1/$"+op, nil, admin...)
		if res.Status != 200 {
			t.Fatalf("$%s e1: %d %s, want 200", op, res.Status, res.Body)
		}
		if op == "bill" && !bytes.Contains(res.Body, []byte("Condition/"+created.ID+" is another patient's")) {
			t.Errorf("$bill e1 does not name Condition/%s as left out: %s", created.ID, res.Body)
		}
	}
	for _, path := range []string{"/Invoice/e1-patient", "/Claim/e1-claim-cov1"} {
		res := srv.Do("GET", path, nil, admin...)
		var got map[string]any
		decode(t, res.Body, &got)
		if v := field(got, "meta", "versionId"); v != "1" {
			t.Errorf("%s version %v, want 1 (nothing new stored)", path, v)
		}
		if bytes.Contains(res.Body, []byte("B20")) {
			t.Errorf("%s holds p2's diagnosis: %s", path, res.Body)
		}
	}
}
