package ehr_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/ehr"
)

func TestPush_TransactionStoredAndBilled(t *testing.T) {
	bills := &biller{}
	l := newLocal(t, nil, ehr.BillPushed(bills.Bill, nil))
	body, err := os.ReadFile("../../testdata/ehr/push-transaction.json")
	if err != nil {
		t.Fatal(err)
	}

	resp, err := http.Post(l.Base, "application/fhir+json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ResourceType, Type string
		Entry              []struct {
			Response struct{ Status, Location string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || out.Type != "transaction-response" || len(out.Entry) != 5 {
		t.Fatalf("status %d, %s with %d entries", resp.StatusCode, out.Type, len(out.Entry))
	}
	ids := map[string]string{} // type → id, from the Locations
	for _, e := range out.Entry {
		if !strings.HasPrefix(e.Response.Status, "201") {
			t.Fatalf("entry answered %s", e.Response.Status)
		}
		parts := strings.Split(strings.TrimPrefix(e.Response.Location, l.Base+"/"), "/")
		ids[parts[0]] = parts[1]
	}

	// Every urn:uuid reference now names the stored resource.
	refs := map[string][]string{
		"Coverage":  {"beneficiary", "Patient"},
		"Encounter": {"subject", "Patient"},
		"Condition": {"encounter", "Encounter"},
		"Procedure": {"encounter", "Encounter"},
	}
	for typ, r := range refs {
		res, _, err := l.API.ReadResource(t.Context(), typ, ids[typ])
		if err != nil {
			t.Fatal(err)
		}
		b, _ := res.Marshal()
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		got, _ := m[r[0]].(map[string]any)["reference"].(string)
		if want := r[1] + "/" + ids[r[1]]; got != want {
			t.Errorf("%s.%s = %q, want %q", typ, r[0], got, want)
		}
	}

	// The finished Encounter was billed once, before the answer came.
	if got := bills.billed(); len(got) != 1 || got[0] != ids["Encounter"] {
		t.Errorf("billed %v, want [%s]", got, ids["Encounter"])
	}

	// An Encounter still in progress is not billed.
	inProgress := `{"resourceType":"Encounter","status":"in-progress",
		"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
		"subject":{"reference":"Patient/` + ids["Patient"] + `"}}`
	resp2, err := http.Post(l.Base+"/Encounter", "application/fhir+json", strings.NewReader(inProgress))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusCreated || len(bills.billed()) != 1 {
		t.Errorf("in-progress Encounter: status %d, billed %v", resp2.StatusCode, bills.billed())
	}
}
