package ehr_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/ehr"
)

func TestOperation_SyncOverHTTP(t *testing.T) {
	srv, conn := newEHR(t, "op")
	addVisits(t, srv, "p1", 4)
	l := newLocal(t, nil, nil)
	s := newSyncer(t, l, conn, nil, nil)
	l.API.RegisterOperation(s.Operation())

	resp, err := http.Post(l.Base+"/$ehr-sync?ehr=op", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ResourceType string
		Parameter    []struct {
			Name         string
			ValueInteger int
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, p := range out.Parameter {
		got[p.Name] = p.ValueInteger
	}
	if resp.StatusCode != http.StatusOK || out.ResourceType != "Parameters" || got["pulled"] != 4*3+4 || got["created"] != 16 {
		t.Errorf("$ehr-sync: %d %s %v", resp.StatusCode, out.ResourceType, got)
	}

	resp, err = http.Post(l.Base+"/$ehr-sync?ehr=nope", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("$ehr-sync of an unknown connection: %d, want 404", resp.StatusCode)
	}
}

// TestOperation_RefusesBadParameters: $ehr-sync takes one ehr parameter,
// in the URL or a Parameters body; any other parameter, ehr given twice,
// or ehr of another type is a 400 naming it, as $translate answers, and no
// sync runs.
func TestOperation_RefusesBadParameters(t *testing.T) {
	srv, conn := newEHR(t, "dead")
	addVisits(t, srv, "p1", 1)
	l := newLocal(t, nil, nil)
	s := newSyncer(t, l, conn, nil, nil)
	l.API.RegisterOperation(s.Operation())
	withEHR := func(value string) string {
		return `{"resourceType":"Parameters","parameter":[{"name":"ehr",` + value + `}]}`
	}

	for _, tc := range []struct {
		name, query, body, expr string
	}{
		{"DuplicateInURL", "?ehr=dead&ehr=dead", "", "ehr"},
		{"UnknownInURL", "?ehr=dead&bogus=1", "", "bogus"},
		{"InURLAndBody", "?ehr=dead", withEHR(`"valueString":"dead"`), "ehr"},
		{"DuplicateInBody", "", `{"resourceType":"Parameters","parameter":[{"name":"ehr","valueString":"dead"},{"name":"ehr","valueString":"dead"}]}`, "ehr"},
		{"UnknownInBody", "", `{"resourceType":"Parameters","parameter":[{"name":"ehr","valueString":"dead"},{"name":"bogus","valueString":"1"}]}`, "Parameters.parameter[1]"},
		{"WrongType", "", withEHR(`"valueInteger":1`), "Parameters.parameter[0]"},
		{"ResourceGiven", "", withEHR(`"resource":{"resourceType":"Patient"}`), "Parameters.parameter[0]"},
		{"Missing", "", "", "Parameters.parameter"},
		{"Empty", "?ehr=", "", "Parameters.parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			resp, err := http.Post(l.Base+"/$ehr-sync"+tc.query, "application/fhir+json", body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"OperationOutcome"`) {
				t.Errorf("got %d, want a 400 OperationOutcome: %s", resp.StatusCode, b)
			}
			if !strings.Contains(string(b), `"expression":["`+tc.expr+`"]`) {
				t.Errorf("the OperationOutcome does not name %s: %s", tc.expr, b)
			}
		})
	}
	if _, _, err := l.API.ReadResource(t.Context(), "Encounter", ehr.LocalID("dead", "Encounter", "p1-enc-000")); err == nil {
		t.Error("a refused $ehr-sync pulled the Encounter")
	}

	resp, err := http.Post(l.Base+"/$ehr-sync", "application/fhir+json", strings.NewReader(withEHR(`"valueString":"dead"`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("ehr in the body: got %d, want 200", resp.StatusCode)
	}
}

func TestRun_PullsOnItsInterval(t *testing.T) {
	srv, conn := newEHR(t, "sched")
	conn.Interval = 50 * time.Millisecond
	addVisits(t, srv, "p1", 1)
	l := newLocal(t, nil, nil)
	s := newSyncer(t, l, conn, nil, nil)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()

	// Nobody calls Sync: the scheduler pulls what the EHR holds.
	addVisits(t, srv, "p2", 1)
	id := ehr.LocalID("sched", "Encounter", "p2-enc-000")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := l.API.ReadResource(t.Context(), "Encounter", id); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scheduler did not pull the Encounter within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
