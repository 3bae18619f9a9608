package ehrtest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
)

const (
	npiA = `{"system":"http://hl7.org/fhir/sid/us-npi","value":"1497758544"}`
	npiB = `{"system":"http://hl7.org/fhir/sid/us-npi","value":"1245319599"}`
	// byNPI is a conditional reference to the Practitioner with npiA.
	byNPI = "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1497758544"
)

// bundleOf is a Bundle of type typ holding the entries (JSON objects).
func bundleOf(typ string, entries ...string) []byte {
	return []byte(`{"resourceType":"Bundle","type":"` + typ + `","entry":[` +
		strings.Join(entries, ",") + `]}`)
}

// encounterEntry is an Encounter entry whose subject and participant are
// the references given.
func encounterEntry(full, id, subject, individual string) string {
	return `{"fullUrl":"` + full + `","resource":{"resourceType":"Encounter"` + id +
		`,"status":"finished","subject":{"reference":"` + subject + `"},` +
		`"participant":[{"individual":{"reference":"` + individual + `"}}]}}`
}

// refsOf reads the subject and first participant of typ/id at the EHR.
func refsOf(t *testing.T, srv *ehrtest.Server, id string) (subject, individual string) {
	t.Helper()
	var e struct {
		Subject     struct{ Reference string }
		Participant []struct{ Individual struct{ Reference string } }
	}
	body := srv.Resource("Encounter", id)
	if err := json.Unmarshal(body, &e); err != nil || len(e.Participant) == 0 {
		t.Fatalf("Encounter/%s: %v %s", id, err, body)
	}
	return e.Subject.Reference, e.Participant[0].Individual.Reference
}

// TestLoadBundle_References: urn:uuid fullUrls become Type/id (the
// resource's id, or the uuid for a resource without one), and in a
// transaction a conditional reference becomes the one resource it
// matches, among those the EHR holds or those of the Bundle, as a FHIR
// server resolves it; none, several, another search or a Bundle that is
// not a transaction refuse the load, and nothing of the Bundle is added.
func TestLoadBundle_References(t *testing.T) {
	const (
		patURN = "urn:uuid:6b0c8d0e-6a53-4c39-9a43-2f1f3f9c0001"
		drURN  = "urn:uuid:6b0c8d0e-6a53-4c39-9a43-2f1f3f9c0002"
		encURN = "urn:uuid:6b0c8d0e-6a53-4c39-9a43-2f1f3f9c0003"
	)
	patient := `{"fullUrl":"` + patURN + `","resource":{"resourceType":"Patient","id":"pat-1"}}`
	practitioner := func(id, npi string) string {
		return `{"resourceType":"Practitioner","id":"` + id + `","identifier":[` + npi + `]}`
	}
	heldDr := practitioner("dr-held", npiA)

	t.Run("FullURLs", func(t *testing.T) {
		srv := ehrtest.New(nil)
		dr := `{"fullUrl":"` + drURN +
			`","resource":{"resourceType":"Practitioner","identifier":[` + npiA + `]}}`
		enc := encounterEntry(encURN, `,"id":"enc-1"`, patURN, drURN)
		n, err := srv.LoadBundle(bundleOf("transaction", patient, dr, enc))
		if err != nil || n != 3 {
			t.Fatalf("LoadBundle: %d, %v; want 3 resources", n, err)
		}
		subject, individual := refsOf(t, srv, "enc-1")
		wantDr := "Practitioner/" + strings.TrimPrefix(drURN, "urn:uuid:")
		if subject != "Patient/pat-1" || individual != wantDr {
			t.Errorf("subject %q, participant %q; want Patient/pat-1, %s", subject, individual, wantDr)
		}
	})

	for _, c := range []struct {
		name    string
		held    []string // resources the EHR holds before the load
		entries []string // besides the Patient and the Encounter
		typ     string   // of the Bundle
		ref     string   // the Encounter's participant
		want    string   // what it becomes; "" when the load is refused
		wantErr string
	}{
		{name: "ConditionalToHeld", held: []string{heldDr}, typ: "transaction", ref: byNPI,
			want: "Practitioner/dr-held"},
		{name: "ConditionalUnderBase", held: []string{heldDr}, typ: "transaction",
			ref: "{base}/" + byNPI, want: "Practitioner/dr-held"},
		{name: "ConditionalToEntry", typ: "transaction", ref: byNPI, want: "Practitioner/dr-new",
			entries: []string{`{"resource":` + practitioner("dr-new", npiA) + `}`}},
		{name: "ConditionalAnySystem", held: []string{heldDr}, typ: "transaction",
			ref: "Practitioner?identifier=1497758544", want: "Practitioner/dr-held"},
		{name: "EntryReplacesHeld", held: []string{heldDr}, typ: "transaction", ref: byNPI,
			entries: []string{`{"resource":` + practitioner("dr-held", npiB) + `}`},
			wantErr: "the conditional reference matches no Practitioner"},
		{name: "MatchesNone", held: []string{heldDr}, typ: "transaction",
			ref: "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1245319599",
			wantErr: "Encounter/enc-1: Encounter.participant[0].individual: " +
				"the conditional reference matches no Practitioner"},
		{name: "MatchesSeveral", typ: "transaction", ref: byNPI,
			held:    []string{heldDr, practitioner("dr-twin", npiA)},
			wantErr: "matches 2 resources of type Practitioner, not one"},
		{name: "OtherSearch", held: []string{heldDr}, typ: "transaction",
			ref:     "Practitioner?name=Exemplar",
			wantErr: `search parameter "name" is not supported`},
		{name: "NotATransaction", held: []string{heldDr}, typ: "collection", ref: byNPI,
			wantErr: "a conditional reference is resolved only in a transaction Bundle"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := ehrtest.New(nil)
			ehrtest.Start(t, srv)
			for _, h := range c.held {
				if err := srv.Put([]byte(h)); err != nil {
					t.Fatal(err)
				}
			}
			ref := strings.ReplaceAll(c.ref, "{base}", srv.Base())
			enc := encounterEntry(encURN, `,"id":"enc-1"`, patURN, ref)
			entries := append([]string{patient, enc}, c.entries...)
			before := srv.Count("Practitioner")
			_, err := srv.LoadBundle(bundleOf(c.typ, entries...))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("LoadBundle: %v, want an error with %q", err, c.wantErr)
				}
				if msg := err.Error(); strings.Contains(msg, "1497758544") || strings.Contains(msg, "1245319599") {
					t.Errorf("the error %q names an identifier value", err)
				}
				encs, pats, drs := srv.Count("Encounter"), srv.Count("Patient"), srv.Count("Practitioner")
				if encs != 0 || pats != 0 || drs != before {
					t.Errorf("a refused Bundle added resources: %d Encounters, %d Patients, "+
						"%d Practitioners (%d before)", encs, pats, drs, before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, individual := refsOf(t, srv, "enc-1"); individual != c.want {
				t.Errorf("participant %q, want %q", individual, c.want)
			}
		})
	}
}
