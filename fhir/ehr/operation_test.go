package ehr_test

import (
	"context"
	"encoding/json"
	"net/http"
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
