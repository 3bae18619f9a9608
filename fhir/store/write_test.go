package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
)

// checkHistory fails the test unless the history of id is exactly
// versions want..1, newest first, each read back by version too.
func checkHistory(t *testing.T, s *store.Store, typ, id string, want int64) {
	t.Helper()
	ctx := context.Background()
	got, total, err := s.History(ctx, typ, id, store.Page{Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var wantV []string
	for v := want; v >= 1; v-- {
		wantV = append(wantV, fmt.Sprintf("%s/%d", id, v))
		if _, err := s.ReadVersion(ctx, typ, id, v); err != nil && !errors.Is(err, resource.ErrDeleted) {
			t.Errorf("ReadVersion %s/%d: %v", id, v, err)
		}
	}
	gotV := []string{}
	for _, r := range got {
		gotV = append(gotV, fmt.Sprintf("%s/%d", r.ID, r.Version))
	}
	if !slices.Equal(gotV, wantV) || total != int(want) {
		t.Errorf("history of %s: got %v (total %d), want %v", id, gotV, total, wantV)
	}
	if _, err := s.ReadVersion(ctx, typ, id, want+1); !errors.Is(err, resource.ErrNotFound) {
		t.Errorf("ReadVersion %s/%d: got %v, want ErrNotFound", id, want+1, err)
	}
}

func TestStore_Race(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	mustPut(t, s, rec("Claim", "c1", 1, nil), 0)

	for _, prev := range []int64{0, 1} {
		t.Run(fmt.Sprintf("Prev%d", prev), func(t *testing.T) {
			id := "c1"
			if prev == 0 {
				id = "new"
			}
			const writers = 50
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					r := rec("Claim", id, prev+1, nil)
					r.Body = fmt.Appendf(nil, `{"writer":%d}`, i)
					errs[i] = s.Put(ctx, store.Write{Record: r, Prev: prev})
				})
			}
			wg.Wait()

			won := -1
			for i, err := range errs {
				switch {
				case err == nil && won >= 0:
					t.Errorf("writers %d and %d both succeeded", won, i)
				case err == nil:
					won = i
				case !errors.Is(err, resource.ErrConflict):
					t.Errorf("writer %d: got %v, want ErrConflict", i, err)
				}
			}
			if won < 0 {
				t.Fatal("no writer succeeded")
			}
			got, err := s.Read(ctx, "Claim", id)
			if err != nil || string(got.Body) != fmt.Sprintf(`{"writer":%d}`, won) {
				t.Errorf("Read: got %v, %v, want the body of writer %d", got, err, won)
			}
			checkHistory(t, s, "Claim", id, prev+1)
		})
	}
}

func TestStore_RollForward(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	mustPut(t, s, rec("Claim", "c1", 1, nil), 0)

	// A writer of version 2 stopped after step 1: the current document is
	// still version 1.
	crashed := rec("Claim", "c1", 2, nil)
	crashed.Body = []byte(`{"crashed":true}`)
	if err := s.WriteHistory(ctx, store.Write{Record: crashed, Prev: 1}, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Read(ctx, "Claim", "c1"); err != nil || got.Version != 1 {
		t.Fatalf("Read before roll-forward: got %v, %v, want version 1", got, err)
	}

	// The next writer of version 2 loses, and rolls the crashed one forward.
	err := s.Put(ctx, store.Write{Record: rec("Claim", "c1", 2, nil), Prev: 1})
	if !errors.Is(err, resource.ErrConflict) {
		t.Fatalf("Put over a half-written version: got %v, want ErrConflict", err)
	}
	got, err := s.Read(ctx, "Claim", "c1")
	if err != nil || got.Version != 2 || string(got.Body) != `{"crashed":true}` {
		t.Fatalf("Read after roll-forward: got %v, %v, want the crashed version 2", got, err)
	}

	// Writing on top of it then works, without gaps.
	mustPut(t, s, rec("Claim", "c1", 3, nil), 2)
	checkHistory(t, s, "Claim", "c1", 3)

	// The same for a create.
	if err := s.WriteHistory(ctx, store.Write{Record: rec("Claim", "c2", 1, nil)}, ""); err != nil {
		t.Fatal(err)
	}
	err = s.Put(ctx, store.Write{Record: rec("Claim", "c2", 1, nil)})
	if !errors.Is(err, resource.ErrConflict) {
		t.Fatalf("create over a half-written create: got %v, want ErrConflict", err)
	}
	if got, err := s.Read(ctx, "Claim", "c2"); err != nil || got.Version != 1 {
		t.Errorf("Read after roll-forward of a create: got %v, %v, want version 1", got, err)
	}
}

func TestStore_ReadTakenVersion(t *testing.T) {
	// A read finds the current version, then reads it from the history.
	// In between, the rollback of the group that wrote that version may
	// take it away (restoring the previous one, then deleting the history
	// document), and another writer may claim the version number again.
	// Such a read tries again; frozen in that moment, it must fail rather
	// than give the other write, or nothing, as the version it found.
	ctx := context.Background()
	s := storetest.New(t)
	active := search.Index{"status": tokens("active")}
	mustPut(t, s, rec("Claim", "c1", 1, active), 0)
	w := store.Write{Record: rec("Claim", "c1", 2, active), Prev: 1}
	g, err := s.WriteJournal(ctx, []store.Write{w}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutInGroup(ctx, w, g); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVersion(ctx, "Claim", "c1", 2); err != nil {
		t.Fatal(err)
	}
	check := func(moment string) {
		t.Helper()
		got, err := s.Read(ctx, "Claim", "c1")
		if err == nil || errors.Is(err, resource.ErrNotFound) {
			t.Errorf("Read, %s: got %v, %v, want an error other than ErrNotFound", moment, got, err)
		}
		if got, _, err := s.Search(ctx, q(keys(pStatus, "", "active"))); err == nil {
			t.Errorf("Search, %s: got %v, want an error", moment, ids(got))
		}
	}
	check("version gone")

	other := rec("Claim", "c1", 2, active)
	other.Body = []byte(`{"other":true}`)
	if err := s.WriteOrphan(ctx, store.Write{Record: other, Prev: 1}, "", ""); err != nil {
		t.Fatal(err)
	}
	check("version claimed again")
}

// groupFixture stores Claim c1 (versions 1, 2) and Claim c2 (version 1, then
// a delete), and returns the group the tests try: update c1, create c3,
// update c2 (from its delete), create c4.
func groupFixture(t *testing.T, s *store.Store) []store.Write {
	t.Helper()
	mustPut(t, s, rec("Claim", "c1", 1, nil), 0)
	mustPut(t, s, rec("Claim", "c1", 2, nil), 1)
	mustPut(t, s, rec("Claim", "c2", 1, nil), 0)
	mustPut(t, s, deletion("Claim", "c2", 2), 1)
	return []store.Write{
		{Record: rec("Claim", "c1", 3, nil), Prev: 2},
		{Record: rec("Invoice", "c3", 1, nil)},
		{Record: rec("Claim", "c2", 3, nil), Prev: 2},
		{Record: rec("Claim", "c4", 1, nil)},
	}
}

// checkUntouched fails the test unless the store holds exactly what
// groupFixture stored.
func checkUntouched(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	if got, err := s.Read(ctx, "Claim", "c1"); err != nil || got.Version != 2 ||
		string(got.Body) != string(body("Claim", "c1", 2)) {
		t.Errorf("Read c1: got %v, %v, want version 2", got, err)
	}
	if got, err := s.Read(ctx, "Claim", "c2"); !errors.Is(err, resource.ErrDeleted) || got.Version != 2 {
		t.Errorf("Read c2: got %v, %v, want deleted version 2", got, err)
	}
	for _, r := range []struct{ typ, id string }{{"Invoice", "c3"}, {"Claim", "c4"}} {
		if _, err := s.Read(ctx, r.typ, r.id); !errors.Is(err, resource.ErrNotFound) {
			t.Errorf("Read %s/%s: got %v, want ErrNotFound", r.typ, r.id, err)
		}
	}
	checkHistory(t, s, "Claim", "c1", 2)
	checkHistory(t, s, "Claim", "c2", 2)
	checkHistory(t, s, "Invoice", "c3", 0)
	checkHistory(t, s, "Claim", "c4", 0)
	if n, err := s.Journals(ctx); err != nil || n != 0 {
		t.Errorf("journals: got %d, %v, want 0", n, err)
	}
}

func TestStore_PutAll(t *testing.T) {
	ctx := context.Background()

	t.Run("Commit", func(t *testing.T) {
		s := storetest.New(t)
		ws := groupFixture(t, s)
		if err := s.PutAll(ctx, ws); err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			got, err := s.Read(ctx, w.Record.Type, w.Record.ID)
			if err != nil || got.Version != w.Record.Version {
				t.Errorf("Read %s/%s: got %v, %v, want version %d",
					w.Record.Type, w.Record.ID, got, err, w.Record.Version)
			}
		}
		if n, err := s.Journals(ctx); err != nil || n != 0 {
			t.Errorf("journals: got %d, %v, want 0", n, err)
		}
	})

	t.Run("ThirdConflicts", func(t *testing.T) {
		s := storetest.New(t)
		ws := groupFixture(t, s)
		ws[2].Prev, ws[2].Record = 1, rec("Claim", "c2", 2, nil) // stale
		err := s.PutAll(ctx, ws)
		if !errors.Is(err, resource.ErrConflict) {
			t.Fatalf("PutAll: got %v, want ErrConflict", err)
		}
		checkUntouched(t, s)
	})

	t.Run("SameResourceTwice", func(t *testing.T) {
		s := storetest.New(t)
		ws := groupFixture(t, s)
		ws = append(ws[:1:1], store.Write{Record: rec("Claim", "c1", 4, nil), Prev: 3},
			store.Write{Record: rec("Claim", "c4", 1, nil)},
			store.Write{Record: rec("Claim", "c4", 1, nil)}) // conflicts with the one before
		if err := s.PutAll(ctx, ws); !errors.Is(err, resource.ErrConflict) {
			t.Fatalf("PutAll: got %v, want ErrConflict", err)
		}
		checkUntouched(t, s)
	})
}

func TestStore_Recover(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	ws := groupFixture(t, s)

	// A process wrote the journal, the first two writes, step 1 of the
	// third, and stopped.
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
	// A young journal is left alone: its group may still be running.
	young, err := s.WriteJournal(ctx, ws[3:], time.Now())
	if err != nil {
		t.Fatal(err)
	}

	n, err := s.Recover(ctx, time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("Recover: got %d, %v, want 1 group", n, err)
	}
	if n, err := s.Journals(ctx); err != nil || n != 1 {
		t.Fatalf("journals after Recover: got %d, %v, want the young one", n, err)
	}
	if n, err := s.Recover(ctx, 0); err != nil || n != 1 {
		t.Fatalf("Recover(0) of %s: got %d, %v, want 1 group", young, n, err)
	}
	checkUntouched(t, s)

	// Version 3 of c2 was withdrawn: writing it now works.
	mustPut(t, s, rec("Claim", "c2", 3, nil), 2)
	checkHistory(t, s, "Claim", "c2", 3)
}

func TestStore_RecoverKeepsWrittenOver(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	ws := groupFixture(t, s)
	id, err := s.WriteJournal(ctx, ws[:1], time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutInGroup(ctx, ws[0], id); err != nil {
		t.Fatal(err)
	}
	// The group committed, and version 4 was written on top of its version 3.
	if err := s.DeleteJournal(ctx, id); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, rec("Claim", "c1", 4, nil), 3)

	// Its journal turns up again (a damaged or restored database): undoing
	// version 3 would lose version 4, so it stays, and the journal is set
	// aside rather than retried.
	if err := s.InsertJournal(ctx, id, ws[:1], time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Recover(ctx, 0); err != nil || n != 1 {
		t.Fatalf("Recover: got %d, %v, want 1 group", n, err)
	}
	if got, err := s.Read(ctx, "Claim", "c1"); err != nil || got.Version != 4 {
		t.Errorf("Read: got %v, %v, want version 4", got, err)
	}
	checkHistory(t, s, "Claim", "c1", 4)
	checkJournals(t, s, 0, 1)
}

// checkJournals fails the test unless there are that many journals in
// progress and set aside.
func checkJournals(t *testing.T, s *store.Store, pending, failed int64) {
	t.Helper()
	ctx := context.Background()
	if n, err := s.Journals(ctx); err != nil || n != pending {
		t.Errorf("journals: got %d, %v, want %d", n, err, pending)
	}
	if n, err := s.FailedJournals(ctx); err != nil || n != failed {
		t.Errorf("journals set aside: got %d, %v, want %d", n, err, failed)
	}
}
