package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
)

// waitUntil polls cond until it holds or a minute has passed. It waits
// for work done in the background; it measures nothing.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after a minute", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStore_RollbackRetried: a group fails part way and its rollback fails
// too (F4: a 40,000-write transaction ran out of its minute at write
// 15,125, and its rollback out of its 30 s, leaving 10,772 Patients
// readable until a restart). The process that ran the group retries the
// rollback in the background, and nothing of the group remains, without
// a restart.
func TestStore_RollbackRetried(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	ws := groupFixture(t, s)
	// The last write names a version that is not current: it fails with
	// a conflict after the others are made.
	ws = append(ws, store.Write{Record: rec("Claim", "c1", 9, nil), Prev: 8})

	s.FailRollbacks(2) // the request's own attempt and the first retry
	err := s.PutAll(ctx, ws)
	if !errors.Is(err, resource.ErrConflict) {
		t.Fatalf("PutAll: got %v, want ErrConflict", err)
	}
	waitUntil(t, "the group's journal is gone", func() bool {
		n, err := s.Journals(ctx)
		return err == nil && n == 0
	})
	checkUntouched(t, s)
	mustPut(t, s, rec("Claim", "c1", 3, nil), 2)
}

// TestStore_SweepsAbandonedGroups: a group whose process stopped mid-way
// is rolled back by the store's sweep once its journal is older than
// store.SweepAge, though no writer meets its versions and the store is
// not restarted.
func TestStore_SweepsAbandonedGroups(t *testing.T) {
	defer store.SetSweepInterval(100 * time.Millisecond)()
	ctx := context.Background()
	s := storetest.New(t)
	ws := groupFixture(t, s)

	// The writes come first and the journal, dated as old as the sweep
	// wants, after them, so that the sweep cannot end the group while
	// the test is still writing it.
	const id = "abandoned"
	for _, w := range ws[:3] {
		if err := s.PutInGroup(ctx, w, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertJournal(ctx, id, ws, time.Now().Add(-store.SweepAge-time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A group as young as a running one is left alone.
	young := []store.Write{{Record: rec("Claim", "young", 1, nil)}}
	yid, err := s.WriteJournal(ctx, young, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutInGroup(ctx, young[0], yid); err != nil {
		t.Fatal(err)
	}

	waitUntil(t, "the abandoned group's journal is gone", func() bool {
		n, err := s.Journals(ctx)
		return err == nil && n == 1
	})
	if got, err := s.Read(ctx, "Claim", "young"); err != nil || got.Version != 1 {
		t.Errorf("Read the running group's write: got %v, %v, want version 1", got, err)
	}
	if err := s.DeleteJournal(ctx, yid); err != nil { // it commits
		t.Fatal(err)
	}
	checkUntouched(t, s)
}
