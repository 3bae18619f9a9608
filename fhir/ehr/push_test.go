package ehr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
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

// TestBillPushed_OutlivesTheClient: the write of a finished Encounter
// stands once stored, so its billing must not stop when the client hangs
// up. The hook is given the context of a request already cancelled; the
// biller sees a live context that still carries the request's values
// (the client's access, which billing on arrival is held to).
func TestBillPushed_OutlivesTheClient(t *testing.T) {
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(t.Context(), key{}, "client"))
	cancel()
	var got []string
	hook := ehr.BillPushed(func(ctx context.Context, id string) error {
		if err := ctx.Err(); err != nil {
			got = append(got, id+": "+err.Error())
			return err
		}
		got = append(got, id+": "+fmt.Sprint(ctx.Value(key{})))
		return nil
	}, nil)

	hook(ctx, []*store.Record{{Type: "Encounter", ID: "e1", Version: 1, Body: []byte(`{"status":"finished"}`)}})
	if want := []string{"e1: client"}; !slices.Equal(got, want) {
		t.Errorf("billed %q, want %q", got, want)
	}
}

// TestBillPushed_FailureLoggedWithElement: a pushed Encounter billing
// refuses is stored all the same (201), and the log names the Encounter,
// the status and the element to fix, as the 422 of $bill does, without
// the error hiding in free text.
func TestBillPushed_FailureLoggedWithElement(t *testing.T) {
	var logs logBuffer
	refuse := func(context.Context, string) error {
		return resource.Errorf(422, "business-rule", "Coverage.costToBeneficiary[1].valueMoney",
			"Coverage/cov1: a copaypct is a percentage (valueQuantity), not an amount")
	}
	l := newLocal(t, nil, ehr.BillPushed(refuse, logs.logger()))
	enc := `{"resourceType":"Encounter","id":"e1","status":"finished",
		"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}}`
	req, _ := http.NewRequest("PUT", l.Base+"/Encounter/e1", strings.NewReader(enc))
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT Encounter/e1: got %d, want 201: the write stands", resp.StatusCode)
	}

	var line map[string]any
	for _, s := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) == nil && m["msg"] == "pushed encounter not billed" {
			line = m
		}
	}
	want := map[string]any{"level": "WARN", "encounter_id": "e1", "status": float64(422),
		"expression": "Coverage.costToBeneficiary[1].valueMoney"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
}
