package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
)

// marked returns version v of a resource whose body carries mark, the
// name of the write that made it.
func marked(typ, id string, v int64, mark string) *store.Record {
	r := rec(typ, id, v, nil)
	r.Body = fmt.Appendf(nil, `{"resourceType":%q,"id":%q,"mark":%q}`, typ, id, mark)
	return r
}

// markOf returns the mark in a body.
func markOf(t *testing.T, body []byte) string {
	t.Helper()
	var b struct {
		Mark string `json:"mark"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Errorf("body %s: %v", body, err)
	}
	return b.Mark
}

// nextWrite returns the write of the version after the current one of a
// resource, as a client that just read it would make it.
func nextWrite(ctx context.Context, s *store.Store, typ, id, mark string) (store.Write, error) {
	cur, err := s.Read(ctx, typ, id)
	if err != nil {
		return store.Write{}, err
	}
	return store.Write{Record: marked(typ, id, cur.Version+1, mark), Prev: cur.Version}, nil
}

// attempt is one write or group tried, and how it ended.
type attempt struct {
	mark   string
	writes []store.Write
	err    error
}

// TestStore_GroupIsolation runs groups over overlapping resources, some
// failing on purpose on their last write, while plain writers update the
// same resources and readers read and search them. Every group must end
// fully stored or not at all, every history without gaps, and no journal
// left; every version read must be one its write claimed (a pending one
// may be rolled back later: reads are not isolated).
func TestStore_GroupIsolation(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	for _, id := range []string{"a", "b", "c"} {
		mustPut(t, s, marked("Account", id, 1, "init"), 0)
	}

	const (
		groupers  = 4
		groupsOf  = 5 // per grouper
		retries   = 20
		putters   = 3
		putsOf    = 10 // per putter
		maxBackof = 3 * time.Millisecond
	)
	var (
		mu       sync.Mutex
		attempts []attempt
	)
	record := func(a attempt) {
		mu.Lock()
		attempts = append(attempts, a)
		mu.Unlock()
	}
	backoff := func() { time.Sleep(rand.N(maxBackof)) }

	// Readers note "Type/id/version mark" of every record they get.
	var (
		readMu sync.Mutex
		reads  = map[string]bool{}
		done   = make(chan struct{})
		rg     sync.WaitGroup
	)
	note := func(recs ...*store.Record) {
		readMu.Lock()
		defer readMu.Unlock()
		for _, r := range recs {
			reads[fmt.Sprintf("%s/%s/%d %s", r.Type, r.ID, r.Version, markOf(t, r.Body))] = true
		}
	}
	for range 2 {
		rg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for _, id := range []string{"a", "b", "c"} {
					r, err := s.Read(ctx, "Account", id)
					if err != nil {
						t.Errorf("Read Account/%s: %v", id, err)
						return
					}
					note(r)
				}
				recs, _, err := s.Search(ctx, &search.Query{Type: "Account", Count: 10})
				if err != nil {
					t.Errorf("Search Account: %v", err)
					return
				}
				note(recs...)
			}
		})
	}

	var wg sync.WaitGroup
	for g := range groupers {
		wg.Go(func() {
			for k := range groupsOf {
				// Every third group fails on purpose: its last write, on c,
				// names a stale version. The others retry conflicts, as a
				// client would.
				fail := k%3 == 2
				for r := range retries {
					mark := fmt.Sprintf("g%d-%d-%d", g, k, r)
					order := []string{"a", "b"}
					if (g+k+r)%2 == 1 {
						order = []string{"b", "a"}
					}
					var ws []store.Write
					for _, id := range order {
						w, err := nextWrite(ctx, s, "Account", id, mark)
						if err != nil {
							t.Error(err)
							return
						}
						ws = append(ws, w)
						if len(ws) == 1 {
							ws = append(ws, store.Write{Record: marked("Patient", mark, 1, mark)})
						}
					}
					if fail {
						w, err := nextWrite(ctx, s, "Account", "c", mark)
						if err != nil {
							t.Error(err)
							return
						}
						w.Prev--
						w.Record.Version--
						ws = append(ws, w)
					}

					err := s.PutAll(ctx, ws)
					record(attempt{mark: mark, writes: ws, err: err})
					if err != nil && !errors.Is(err, resource.ErrConflict) {
						t.Errorf("group %s: got %v, want nil or ErrConflict", mark, err)
					}
					if fail && err == nil {
						t.Errorf("group %s with a stale version: stored", mark)
					}
					if fail || err == nil {
						break
					}
					backoff()
				}
			}
		})
	}
	for p := range putters {
		wg.Go(func() {
			for k := range putsOf {
				id := []string{"a", "b", "c"}[(p+k)%3]
				for r := range retries {
					mark := fmt.Sprintf("p%d-%d-%d", p, k, r)
					w, err := nextWrite(ctx, s, "Account", id, mark)
					if err != nil {
						t.Error(err)
						return
					}
					err = s.Put(ctx, w)
					record(attempt{mark: mark, writes: []store.Write{w}, err: err})
					if err != nil && !errors.Is(err, resource.ErrConflict) {
						t.Errorf("put %s: got %v, want nil or ErrConflict", mark, err)
					}
					if err == nil {
						break
					}
					backoff()
				}
			}
		})
	}
	wg.Wait()
	close(done)
	rg.Wait()

	// Where each mark ended up: "Type/id/version" of every stored version.
	stored := map[string][]string{}
	for _, id := range []string{"a", "b", "c"} {
		cur, err := s.Read(ctx, "Account", id)
		if err != nil {
			t.Fatal(err)
		}
		checkHistory(t, s, "Account", id, cur.Version)
		hist, _, err := s.History(ctx, "Account", id, store.Page{Count: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) > 0 && string(hist[0].Body) != string(cur.Body) {
			t.Errorf("Account/%s: current body %s, history says %s", id, cur.Body, hist[0].Body)
		}
		for _, r := range hist {
			m := markOf(t, r.Body)
			stored[m] = append(stored[m], fmt.Sprintf("Account/%s/%d", id, r.Version))
		}
	}
	patients, _, err := s.History(ctx, "Patient", "", store.Page{Count: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range patients {
		m := markOf(t, r.Body)
		stored[m] = append(stored[m], fmt.Sprintf("Patient/%s/%d", r.ID, r.Version))
	}

	claimed := map[string]bool{}
	for _, id := range []string{"a", "b", "c"} {
		claimed["Account/"+id+"/1 init"] = true
	}
	for _, a := range attempts {
		for _, w := range a.writes {
			r := w.Record
			claimed[fmt.Sprintf("%s/%s/%d %s", r.Type, r.ID, r.Version, a.mark)] = true
		}
	}
	for r := range reads {
		if !claimed[r] {
			t.Errorf("read %s: no write claimed that version", r)
		}
	}

	var groups, committed, puts int
	for _, a := range attempts {
		if len(a.writes) > 1 {
			groups++
		} else {
			puts++
		}
		var want []string
		if a.err == nil {
			if len(a.writes) > 1 {
				committed++
			}
			for _, w := range a.writes {
				want = append(want, fmt.Sprintf("%s/%s/%d", w.Record.Type, w.Record.ID, w.Record.Version))
			}
		}
		if got := stored[a.mark]; !sameSet(got, want) {
			t.Errorf("%s (err %v): stored as %v, want %v", a.mark, a.err, got, want)
		}
		delete(stored, a.mark)
	}
	delete(stored, "init")
	if len(stored) > 0 {
		t.Errorf("versions stored by no write: %v", stored)
	}
	checkJournals(t, s, 0, 0)
	t.Logf("%d groups tried, %d committed; %d puts tried; %d versions read",
		groups, committed, puts, len(reads))
	if committed == 0 {
		t.Error("no group committed: the test proves nothing")
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
