package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
)

// t0 is the last-updated time of the first writes in these tests.
var t0 = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)

// body returns a small canonical-looking body for one version.
func body(typ, id string, v int64) []byte {
	return fmt.Appendf(nil, `{"resourceType":%q,"id":%q,"meta":{"versionId":"%d"}}`, typ, id, v)
}

// rec returns version v of a resource, updated v minutes after t0.
func rec(typ, id string, v int64, idx search.Index) *store.Record {
	return &store.Record{
		Type: typ, ID: id, Version: v,
		Updated: t0.Add(time.Duration(v) * time.Minute),
		Body:    body(typ, id, v), Index: idx,
	}
}

// deletion returns version v of a resource as a delete.
func deletion(typ, id string, v int64) *store.Record {
	return &store.Record{
		Type: typ, ID: id, Version: v,
		Updated: t0.Add(time.Duration(v) * time.Minute), Deleted: true,
	}
}

// mustPut stores a record over version prev or fails the test.
func mustPut(t *testing.T, s *store.Store, r *store.Record, prev int64) {
	t.Helper()
	if err := s.Put(context.Background(), store.Write{Record: r, Prev: prev}); err != nil {
		t.Fatalf("Put %s/%s v%d: %v", r.Type, r.ID, r.Version, err)
	}
}

// versions lists "id/v" of records, marking deletes with "-".
func versions(recs []*store.Record) []string {
	out := []string{}
	for _, r := range recs {
		s := fmt.Sprintf("%s/%d", r.ID, r.Version)
		if r.Deleted {
			s += "-"
		}
		out = append(out, s)
	}
	return out
}

func TestStore_CreateReadUpdateDelete(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)

	if _, err := s.Read(ctx, "Claim", "c1"); !errors.Is(err, resource.ErrNotFound) {
		t.Fatalf("Read before create: got %v, want ErrNotFound", err)
	}

	mustPut(t, s, rec("Claim", "c1", 1, nil), 0)
	got, err := s.Read(ctx, "Claim", "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := rec("Claim", "c1", 1, nil)
	if got.Type != want.Type || got.ID != want.ID || got.Version != 1 || !got.Updated.Equal(want.Updated) ||
		got.Deleted || string(got.Body) != string(want.Body) {
		t.Errorf("Read after create: got %+v, want %+v", got, want)
	}
	if got.Updated.Location() != time.UTC {
		t.Errorf("Updated location: got %v, want UTC", got.Updated.Location())
	}

	mustPut(t, s, rec("Claim", "c1", 2, nil), 1)
	if got, err := s.Read(ctx, "Claim", "c1"); err != nil || got.Version != 2 ||
		string(got.Body) != string(body("Claim", "c1", 2)) {
		t.Errorf("Read after update: got %v, %v, want version 2", got, err)
	}

	mustPut(t, s, deletion("Claim", "c1", 3), 2)
	got, err = s.Read(ctx, "Claim", "c1")
	if !errors.Is(err, resource.ErrDeleted) {
		t.Fatalf("Read after delete: got error %v, want ErrDeleted", err)
	}
	if got == nil || !got.Deleted || got.Version != 3 || got.Body != nil {
		t.Errorf("Read after delete: got %+v, want deleted version 3 without body", got)
	}

	// A deleted resource is brought back by naming its delete version.
	mustPut(t, s, rec("Claim", "c1", 4, nil), 3)
	if got, err := s.Read(ctx, "Claim", "c1"); err != nil || got.Version != 4 {
		t.Errorf("Read after re-create: got %v, %v, want version 4", got, err)
	}

	// Other types do not see it.
	if _, err := s.Read(ctx, "Invoice", "c1"); !errors.Is(err, resource.ErrNotFound) {
		t.Errorf("Read other type: got %v, want ErrNotFound", err)
	}
}

func TestStore_ReadVersion(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	mustPut(t, s, rec("Claim", "c1", 1, nil), 0)
	mustPut(t, s, rec("Claim", "c1", 2, nil), 1)
	mustPut(t, s, deletion("Claim", "c1", 3), 2)

	tests := []struct {
		name    string
		version int64
		wantErr error
	}{
		{name: "First", version: 1},
		{name: "Second", version: 2},
		{name: "Deleted", version: 3, wantErr: resource.ErrDeleted},
		{name: "Absent", version: 4, wantErr: resource.ErrNotFound},
		{name: "Zero", version: 0, wantErr: resource.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ReadVersion(ctx, "Claim", "c1", tt.version)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReadVersion: got error %v, want %v", err, tt.wantErr)
			}
			if errors.Is(tt.wantErr, resource.ErrNotFound) {
				return
			}
			if got.Version != tt.version || got.ID != "c1" {
				t.Errorf("ReadVersion: got %s/%d, want c1/%d", got.ID, got.Version, tt.version)
			}
			if got.Deleted != (tt.wantErr != nil) {
				t.Errorf("ReadVersion: got Deleted %v", got.Deleted)
			}
			if !got.Deleted && string(got.Body) != string(body("Claim", "c1", tt.version)) {
				t.Errorf("ReadVersion: got body %s", got.Body)
			}
		})
	}
}

func TestStore_History(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	// a: versions at t0+1m, +2m, +3m (delete); b: +1m, +2m; c in Invoice.
	mustPut(t, s, rec("Claim", "a", 1, nil), 0)
	mustPut(t, s, rec("Claim", "b", 1, nil), 0)
	mustPut(t, s, rec("Claim", "a", 2, nil), 1)
	mustPut(t, s, rec("Claim", "b", 2, nil), 1)
	mustPut(t, s, deletion("Claim", "a", 3), 2)
	mustPut(t, s, rec("Invoice", "c", 1, nil), 0)

	tests := []struct {
		name      string
		id        string
		page      store.Page
		want      []string
		wantTotal int
	}{
		{name: "Instance", id: "a", page: store.Page{Count: 10}, want: []string{"a/3-", "a/2", "a/1"}, wantTotal: 3},
		{name: "InstancePage", id: "a", page: store.Page{Count: 1, Offset: 1},
			want: []string{"a/2"}, wantTotal: 3},
		{name: "Type", page: store.Page{Count: 10}, want: []string{"a/3-", "a/2", "b/2", "a/1", "b/1"}, wantTotal: 5},
		{name: "TypePage", page: store.Page{Count: 2, Offset: 2}, want: []string{"b/2", "a/1"}, wantTotal: 5},
		{name: "TypePastEnd", page: store.Page{Count: 2, Offset: 5}, want: []string{}, wantTotal: 5},
		{name: "Since", page: store.Page{Count: 10, Since: t0.Add(2 * time.Minute)},
			want: []string{"a/3-", "a/2", "b/2"}, wantTotal: 3},
		{name: "InstanceSince", id: "b", page: store.Page{Count: 10, Since: t0.Add(2 * time.Minute)},
			want: []string{"b/2"}, wantTotal: 1},
		{name: "Unknown", id: "zz", page: store.Page{Count: 10}, want: []string{}, wantTotal: 0},
		// _count=0 asks for the total only.
		{name: "CountZero", want: []string{}, wantTotal: 5},
		{name: "InstanceCountZero", id: "a", page: store.Page{Offset: 1}, want: []string{}, wantTotal: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.History(ctx, "Claim", tt.id, tt.page)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(versions(got), tt.want) || total != tt.wantTotal {
				t.Errorf("History: got %v (total %d), want %v (total %d)",
					versions(got), total, tt.want, tt.wantTotal)
			}
			for _, r := range got {
				if !r.Deleted && string(r.Body) != string(body("Claim", r.ID, r.Version)) {
					t.Errorf("History %s/%d: got body %s", r.ID, r.Version, r.Body)
				}
			}
		})
	}
}

func TestStore_Conflicts(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	mustPut(t, s, rec("Claim", "c1", 1, nil), 0)
	mustPut(t, s, rec("Claim", "c1", 2, nil), 1)
	mustPut(t, s, rec("Claim", "gone", 1, nil), 0)
	mustPut(t, s, deletion("Claim", "gone", 2), 1)

	tests := []struct {
		name string
		w    store.Write
	}{
		{name: "CreateExisting", w: store.Write{Record: rec("Claim", "c1", 1, nil)}},
		{name: "CreateOverDeleted", w: store.Write{Record: rec("Claim", "gone", 1, nil)}},
		{name: "StalePrev", w: store.Write{Record: rec("Claim", "c1", 2, nil), Prev: 1}},
		{name: "FuturePrev", w: store.Write{Record: rec("Claim", "c1", 6, nil), Prev: 5}},
		{name: "UpdateAbsent", w: store.Write{Record: rec("Claim", "none", 2, nil), Prev: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Put(ctx, tt.w); !errors.Is(err, resource.ErrConflict) {
				t.Errorf("Put: got %v, want ErrConflict", err)
			}
		})
	}

	// None of them left a trace: the next real versions go through.
	mustPut(t, s, rec("Claim", "c1", 3, nil), 2)
	mustPut(t, s, rec("Claim", "gone", 3, nil), 2)
	got, total, err := s.History(ctx, "Claim", "c1", store.Page{Count: 10})
	if err != nil || total != 3 || !slices.Equal(versions(got), []string{"c1/3", "c1/2", "c1/1"}) {
		t.Errorf("History: got %v (total %d, %v), want c1/3 c1/2 c1/1", versions(got), total, err)
	}
	if _, err := s.ReadVersion(ctx, "Claim", "c1", 6); !errors.Is(err, resource.ErrNotFound) {
		t.Errorf("ReadVersion of refused version: got %v, want ErrNotFound", err)
	}

	// A malformed write is refused without being a conflict.
	bad := store.Write{Record: rec("Claim", "c1", 9, nil), Prev: 3}
	if err := s.Put(ctx, bad); err == nil || errors.Is(err, resource.ErrConflict) {
		t.Errorf("Put with a version gap: got %v, want a non-conflict error", err)
	}
}

func TestStore_Restart(t *testing.T) {
	ctx := context.Background()
	cfg := storetest.Config(t)
	s := storetest.Open(t, cfg)
	mustPut(t, s, rec("Claim", "c1", 1, nil), 0)
	mustPut(t, s, rec("Claim", "c1", 2, nil), 1)
	mustPut(t, s, rec("Invoice", "i1", 1, nil), 0)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	s = storetest.Open(t, cfg)
	if got, err := s.Read(ctx, "Claim", "c1"); err != nil || got.Version != 2 {
		t.Errorf("Read after restart: got %v, %v, want version 2", got, err)
	}
	if got, err := s.ReadVersion(ctx, "Claim", "c1", 1); err != nil || got.Version != 1 {
		t.Errorf("ReadVersion after restart: got %v, %v, want version 1", got, err)
	}
	if _, err := s.Read(ctx, "Invoice", "i1"); err != nil {
		t.Errorf("Read after restart: %v", err)
	}
	mustPut(t, s, rec("Claim", "c1", 3, nil), 2)

	if s.Embedded() {
		plan, err := s.ExplainReadByID(ctx, "Invoice")
		if err != nil || !strings.Contains(plan, "USING INDEX") {
			t.Errorf("plan after restart: got %q (%v), want an index search", plan, err)
		}
	}
}

func TestStore_IDIndexPlan(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if !s.Embedded() {
		t.Skip("the _id index workaround concerns the embedded FerretDB only")
	}
	if err := s.PutAll(ctx, []store.Write{{Record: rec("Claim", "c1", 1, nil)}}); err != nil {
		t.Fatal(err)
	}
	for _, coll := range []string{"Claim", "Claim_history", "fhirbill_journal"} {
		plan, err := s.ExplainReadByID(ctx, coll)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", coll, plan)
		if !strings.Contains(plan, "SEARCH") || !strings.Contains(plan, "_fhirbill_id") {
			t.Errorf("%s: got plan %q, want SEARCH ... USING INDEX ..._fhirbill_id", coll, plan)
		}
	}
}

func TestStore_EnsureIndexes(t *testing.T) {
	ctx := context.Background()
	params := []*search.Param{
		{Code: "_id", Resource: "Claim", Type: search.TypeToken},
		{Code: "_lastUpdated", Resource: "Claim", Type: search.TypeDate},
		{Code: "patient", Resource: "Claim", Type: search.TypeReference},
		{Code: "patient", Resource: "Claim", Type: search.TypeReference},
		{Code: "status", Resource: "Claim", Type: search.TypeToken},
		{Code: "created", Resource: "Claim", Type: search.TypeDate},
		{Code: "name", Resource: "Patient", Type: search.TypeString},
		{Code: "url", Resource: "ConceptMap", Type: search.TypeURI},
	}
	// Arrays, for MongoDB, have an index behind every parameter; packed
	// keys, for FerretDB, which would only maintain them, none.
	want := map[bool]map[string][]string{
		false: {
			"Claim":      {"_id_", "s_created_r", "s_patient_k", "s_status_k", "ts"},
			"Patient":    {"_id_", "s_name_k", "s_name_x", "ts"},
			"ConceptMap": {"_id_", "s_url_k", "ts"},
		},
		true: {"Claim": {"_id_", "ts"}, "Patient": {"_id_", "ts"}, "ConceptMap": {"_id_", "ts"}},
	}
	forLayouts(t, func(t *testing.T, s *store.Store) {
		for i := range 2 {
			if err := s.EnsureIndexes(ctx, params); err != nil {
				t.Fatalf("EnsureIndexes call %d: %v", i+1, err)
			}
		}
		for coll, names := range want[s.Packed()] {
			got, err := s.IndexNames(ctx, coll)
			if err != nil || !slices.Equal(got, names) {
				t.Errorf("indexes of %s: got %v, %v, want %v", coll, got, err, names)
			}
			got, err = s.IndexNames(ctx, coll+"_history")
			if want := []string{"_id_", "id_v", "ts"}; err != nil || !slices.Equal(got, want) {
				t.Errorf("indexes of %s_history: got %v, %v, want %v", coll, got, err, want)
			}
		}
		mustPut(t, s, rec("Claim", "c1", 1, nil), 0)
		if s.Embedded() {
			plan, err := s.ExplainReadByID(ctx, "Patient_history")
			if err != nil || !strings.Contains(plan, "_fhirbill_id") {
				t.Errorf("plan: got %q (%v), want the _id index", plan, err)
			}
		}
	})
}

func TestDatabaseName(t *testing.T) {
	names := map[string]bool{}
	for _, n := range []string{
		"TestA", "TestA/Sub", "TestA/Sub#01", "TestA_Sub",
		strings.Repeat("TestVeryLongName/", 10) + "End",
		strings.Repeat("TestVeryLongName/", 10) + "Other",
	} {
		got := store.DatabaseName(n)
		const allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
		if len(got) >= 64 || strings.Trim(got, allowed) != "" {
			t.Errorf("DatabaseName(%q) = %q: want letters, digits and _, under 64 bytes", n, got)
		}
		if names[got] {
			t.Errorf("DatabaseName(%q) = %q: not unique", n, got)
		}
		names[got] = true
	}
}

// TestStore_DataDirLocked opens the embedded store of one data directory
// twice: the second open is refused, naming the directory, until the
// first store is closed.
func TestStore_DataDirLocked(t *testing.T) {
	cfg := storetest.Config(t)
	if cfg.URI != "" {
		t.Skip("the data directory lock concerns the embedded store only")
	}
	ctx := context.Background()
	first := storetest.Open(t, cfg)

	second, err := store.Open(ctx, cfg)
	if err == nil {
		_ = second.Close(ctx)
		t.Fatal("second Open of a data directory in use: got nil error, want a DataDirInUseError")
	}
	var inUse *store.DataDirInUseError
	if !errors.As(err, &inUse) || !strings.Contains(err.Error(), cfg.DataDir) ||
		!strings.Contains(err.Error(), "in use by another fhirbill process") {
		t.Errorf("second Open: got %v, want a DataDirInUseError naming %s", err, cfg.DataDir)
	}

	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	third := storetest.Open(t, cfg)
	if err := third.Ping(ctx); err != nil {
		t.Errorf("Open after Close: %v", err)
	}
}
