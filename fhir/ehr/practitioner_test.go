package ehr_test

import (
	"encoding/json"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/ehr"
)

// TestSync_PullsPractitioners: the Practitioners that pulled Encounters
// (participant.individual) and Procedures (performer.actor) name are
// pulled with them, under local ids that do not depend on the EHR's
// address, keeping their NPI; the references to them become local. One
// the EHR does not have is reported, and the reference to it stays an
// absolute URL at the EHR. Pulling a new visit of the same doctor later
// stores no new version of the doctor.
func TestSync_PullsPractitioners(t *testing.T) {
	srv, conn := newEHR(t, "pract")
	addVisits(t, srv, "p1", 2)
	put := func(body string) {
		t.Helper()
		if err := srv.Put([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	put(`{"resourceType":"Practitioner","id":"dr-2","name":[{"family":"Two"}]}`)
	put(`{"resourceType":"Procedure","id":"p1-enc-000-ecg","status":"completed",
		"subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/p1-enc-000"},
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"29303009"}]},
		"performer":[{"actor":{"reference":"Practitioner/dr-2"}}]}`)
	put(`{"resourceType":"Encounter","id":"p1-enc-gone","status":"finished",
		"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
		"subject":{"reference":"Patient/p1"},"period":{"start":"2025-04-01T09:00:00Z"},
		"participant":[{"individual":{"reference":"Practitioner/dr-gone"}}]}`)
	l := newLocal(t, nil, nil)
	s := newSyncer(t, l, conn, nil, nil)

	sum, err := s.Sync(t.Context(), "pract", nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Pulled["Practitioner"] != 2 || len(sum.Skipped) != 1 ||
		sum.Skipped[0] != (ehr.Skip{Ref: "Practitioner/dr-gone", Reason: "not returned by the EHR"}) {
		t.Errorf("pulled %v, skipped %v; want dr-1 and dr-2, and dr-gone reported", sum.Pulled, sum.Skipped)
	}

	dr1 := ehr.LocalID("pract", "Practitioner", "dr-1")
	if got := encounterRefs(t, l, "pract", "p1-enc-001").individual; got != "Practitioner/"+dr1 {
		t.Errorf("Encounter.participant[0].individual %q, want Practitioner/%s", got, dr1)
	}
	if got, want := encounterRefs(t, l, "pract", "p1-enc-gone").individual,
		srv.Base()+"/Practitioner/dr-gone"; got != want {
		t.Errorf("the reference to a Practitioner the EHR lacks is %q, want %s", got, want)
	}
	var proc struct {
		Performer []struct{ Actor struct{ Reference string } }
	}
	readJSON(t, l, "Procedure", ehr.LocalID("pract", "Procedure", "p1-enc-000-ecg"), &proc)
	if want := "Practitioner/" + ehr.LocalID("pract", "Practitioner", "dr-2"); len(proc.Performer) != 1 ||
		proc.Performer[0].Actor.Reference != want {
		t.Errorf("Procedure.performer %v, want %s", proc.Performer, want)
	}

	var dr struct {
		Identifier []struct{ System, Value string }
		Meta       struct{ Source string }
	}
	readJSON(t, l, "Practitioner", dr1, &dr)
	ids := map[string]string{}
	for _, id := range dr.Identifier {
		ids[id.System] = id.Value
	}
	if ids["http://hl7.org/fhir/sid/us-npi"] != "1497758544" || ids["urn:fhirbill:ehr:pract"] != "dr-1" ||
		dr.Meta.Source != "urn:fhirbill:ehr:pract" {
		t.Errorf("Practitioner/%s: identifiers %v, meta.source %q; want its NPI and the EHR's id", dr1, ids,
			dr.Meta.Source)
	}

	// A new visit of dr-1: the doctor is pulled again, and unchanged.
	addVisits(t, srv, "p2", 1)
	sum, err = s.Sync(t.Context(), "pract", nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Pulled["Practitioner"] != 1 || sum.Updated != 0 || len(sum.Skipped) != 0 {
		t.Errorf("second sync: pulled %v, updated %d, skipped %v; want dr-1 again, unchanged",
			sum.Pulled, sum.Updated, sum.Skipped)
	}
	if _, v, err := l.API.ReadResource(t.Context(), "Practitioner", dr1); err != nil || v != 1 {
		t.Errorf("Practitioner/%s: version %d, %v; want 1", dr1, v, err)
	}
}

// readJSON reads typ/id from the local server into v.
func readJSON(t *testing.T, l *local, typ, id string, v any) {
	t.Helper()
	r, _, err := l.API.ReadResource(t.Context(), typ, id)
	if err != nil {
		t.Fatalf("read %s/%s: %v", typ, id, err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
