package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
)

func TestStore_PendingGroup(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	ws := groupFixture(t, s)

	// A group in progress made all its writes but has not committed.
	id, err := s.WriteJournal(ctx, ws, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if err := s.PutInGroup(ctx, w, id); err != nil {
			t.Fatal(err)
		}
	}
	if j, err := s.CurrentJournal(ctx, "Claim", "c1"); err != nil || j != id {
		t.Fatalf("j of the current c1: got %q, %v, want %q", j, err, id)
	}

	// Nobody builds on its versions: neither a writer nor another group.
	tests := []struct {
		name string
		ws   []store.Write
	}{
		{name: "Update", ws: []store.Write{{Record: rec("Claim", "c1", 4, nil), Prev: 3}}},
		{name: "UpdateCreated", ws: []store.Write{{Record: rec("Invoice", "c3", 2, nil), Prev: 1}}},
		{name: "Delete", ws: []store.Write{{Record: deletion("Claim", "c4", 2), Prev: 1}}},
		{name: "Group", ws: []store.Write{
			{Record: rec("Claim", "c9", 1, nil)},
			{Record: rec("Claim", "c2", 4, nil), Prev: 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if len(tt.ws) == 1 {
				err = s.Put(ctx, tt.ws[0])
			} else {
				err = s.PutAll(ctx, tt.ws)
			}
			if !errors.Is(err, resource.ErrConflict) {
				t.Errorf("write over a pending version: got %v, want ErrConflict", err)
			}
		})
	}
	if _, err := s.Read(ctx, "Claim", "c9"); !errors.Is(err, resource.ErrNotFound) {
		t.Errorf("Read c9 of the refused group: got %v, want ErrNotFound", err)
	}

	// Readers see pending versions.
	if got, err := s.Read(ctx, "Claim", "c1"); err != nil || got.Version != 3 {
		t.Errorf("Read c1: got %v, %v, want pending version 3", got, err)
	}

	// Once the journal is gone, the versions are committed.
	if err := s.DeleteJournal(ctx, id); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, rec("Claim", "c1", 4, nil), 3)
	mustPut(t, s, deletion("Claim", "c4", 2), 1)
	checkHistory(t, s, "Claim", "c1", 4)
	checkHistory(t, s, "Claim", "c2", 3)
	checkJournals(t, s, 0, 0)
}

func TestStore_PendingHalfWritten(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	mustPut(t, s, rec("Claim", "c1", 1, nil), 0)

	// A group in progress is between the steps of its writes: the writers
	// that lose the versions to it do not roll them forward.
	ws := []store.Write{
		{Record: rec("Claim", "c1", 2, nil), Prev: 1},
		{Record: rec("Claim", "c2", 1, nil)},
	}
	id, err := s.WriteJournal(ctx, ws, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if err := s.WriteHistory(ctx, w, id); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, w); !errors.Is(err, resource.ErrConflict) {
			t.Errorf("Put %s over a half-written group version: got %v, want ErrConflict", w.Record.ID, err)
		}
	}
	if got, err := s.Read(ctx, "Claim", "c1"); err != nil || got.Version != 1 {
		t.Errorf("Read c1: got %v, %v, want version 1", got, err)
	}
	if _, err := s.Read(ctx, "Claim", "c2"); !errors.Is(err, resource.ErrNotFound) {
		t.Errorf("Read c2: got %v, want ErrNotFound", err)
	}

	// The group is rolled back; then the versions are free.
	if n, err := s.Recover(ctx, 0); err != nil || n != 1 {
		t.Fatalf("Recover: got %d, %v, want 1 group", n, err)
	}
	for _, w := range ws {
		mustPut(t, s, w.Record, w.Prev)
	}
	checkHistory(t, s, "Claim", "c1", 2)
	checkHistory(t, s, "Claim", "c2", 1)
	checkJournals(t, s, 0, 0)
}

func TestStore_AbandonedGroup(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	ws := groupFixture(t, s)

	// A process stopped in the middle of a group an hour ago, and has not
	// been restarted since.
	id, err := s.WriteJournal(ctx, ws, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws[:2] {
		if err := s.PutInGroup(ctx, w, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteHistory(ctx, ws[2], id); err != nil {
		t.Fatal(err)
	}

	// The first writer to meet one of its versions rolls it back, and is
	// told to try again.
	err = s.Put(ctx, store.Write{Record: rec("Claim", "c1", 4, nil), Prev: 3})
	if !errors.Is(err, resource.ErrConflict) {
		t.Fatalf("Put over an abandoned group: got %v, want ErrConflict", err)
	}
	checkUntouched(t, s)
	mustPut(t, s, rec("Claim", "c1", 3, nil), 2)
	mustPut(t, s, rec("Claim", "c2", 3, nil), 2)
}

func TestStore_DeadVersion(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	mustPut(t, s, rec("Claim", "c1", 1, nil), 0)
	mustPut(t, s, rec("Claim", "c1", 2, nil), 1)

	// A writer wrote version 3 over a version 2 that a group rolled back,
	// and stopped before withdrawing it. Version 3 can never follow the
	// current version 2, but must not block it.
	dead := rec("Claim", "c1", 3, nil)
	dead.Body = []byte(`{"dead":true}`)
	if err := s.WriteOrphan(ctx, store.Write{Record: dead, Prev: 2}, "", "gone"); err != nil {
		t.Fatal(err)
	}
	err := s.Put(ctx, store.Write{Record: rec("Claim", "c1", 3, nil), Prev: 2})
	if !errors.Is(err, resource.ErrConflict) {
		t.Fatalf("Put over a dead version: got %v, want ErrConflict", err)
	}
	if got, err := s.Read(ctx, "Claim", "c1"); err != nil || got.Version != 2 {
		t.Fatalf("Read: got %v, %v, want version 2, not rolled forward", got, err)
	}
	mustPut(t, s, rec("Claim", "c1", 3, nil), 2)
	if got, err := s.Read(ctx, "Claim", "c1"); err != nil || string(got.Body) != string(body("Claim", "c1", 3)) {
		t.Errorf("Read: got %v, %v, want the new version 3", got, err)
	}
	checkHistory(t, s, "Claim", "c1", 3)
}

func TestStore_RecoverDamaged(t *testing.T) {
	ctx := context.Background()
	cfg := storetest.Config(t)
	s := storetest.Open(t, cfg)
	ws := groupFixture(t, s)

	// A group stopped after its first write, and the version that write
	// replaced is gone from the history, so the write cannot be undone.
	id, err := s.WriteJournal(ctx, ws, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutInGroup(ctx, ws[0], id); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVersion(ctx, "Claim", "c1", 2); err != nil {
		t.Fatal(err)
	}
	// Another journal cannot be read at all.
	garbled := bson.D{
		{Key: "_id", Value: "garbled"},
		{Key: "created", Value: time.Now().Add(-time.Hour)},
		{Key: "writes", Value: "not a list"},
	}
	if err := s.InsertRawJournal(ctx, garbled); err != nil {
		t.Fatal(err)
	}
	// A third names versions that never were.
	never := []store.Write{{Record: rec("Claim", "never", 5, nil), Prev: 4}}
	if _, err := s.WriteJournal(ctx, never, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The store opens, and no group is left pending.
	s = storetest.Open(t, cfg)
	checkJournals(t, s, 0, 2)
	if got, err := s.Read(ctx, "Claim", "c1"); err != nil || got.Version != 3 {
		t.Errorf("Read c1: got %v, %v, want version 3, kept", got, err)
	}
	mustPut(t, s, rec("Claim", "c1", 4, nil), 3)
	mustPut(t, s, rec("Claim", "never", 1, nil), 0)

	// Opening again finds nothing to do.
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s = storetest.Open(t, cfg)
	checkJournals(t, s, 0, 2)
}
