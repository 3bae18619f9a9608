package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
)

// checkTooLarge fails the test unless err is the 413 of a record too large
// to store.
func checkTooLarge(t *testing.T, err error) {
	t.Helper()
	var re *resource.Error
	if !errors.As(err, &re) || re.Status != http.StatusRequestEntityTooLarge ||
		len(re.Issues) != 1 || re.Issues[0].Code != resource.IssueTooCostly {
		t.Errorf("got %v, want a 413 too-costly resource.Error", err)
	}
}

func TestStore_TooLarge(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)

	// A body that compresses well, with search values over 16 MB.
	value := strings.Repeat("x", 1<<20)
	idx := search.Index{"text": {Keys: make([]string, 17)}}
	for i := range idx["text"].Keys {
		idx["text"].Keys[i] = value
	}
	big := func(id string, v int64) *store.Record {
		return rec("DocumentReference", id, v, idx)
	}

	t.Run("Create", func(t *testing.T) {
		checkTooLarge(t, s.Put(ctx, store.Write{Record: big("d1", 1)}))
		if _, err := s.Read(ctx, "DocumentReference", "d1"); !errors.Is(err, resource.ErrNotFound) {
			t.Errorf("Read: got %v, want ErrNotFound", err)
		}
		checkHistory(t, s, "DocumentReference", "d1", 0)
	})

	t.Run("Update", func(t *testing.T) {
		mustPut(t, s, rec("DocumentReference", "d2", 1, nil), 0)
		checkTooLarge(t, s.Put(ctx, store.Write{Record: big("d2", 2), Prev: 1}))
		if got, err := s.Read(ctx, "DocumentReference", "d2"); err != nil || got.Version != 1 {
			t.Errorf("Read: got %v, %v, want version 1", got, err)
		}
		checkHistory(t, s, "DocumentReference", "d2", 1)
		mustPut(t, s, rec("DocumentReference", "d2", 2, nil), 1)
	})

	t.Run("Group", func(t *testing.T) {
		err := s.PutAll(ctx, []store.Write{
			{Record: rec("DocumentReference", "d3", 1, nil)},
			{Record: big("d4", 1)},
		})
		checkTooLarge(t, err)
		for _, id := range []string{"d3", "d4"} {
			if _, err := s.Read(ctx, "DocumentReference", id); !errors.Is(err, resource.ErrNotFound) {
				t.Errorf("Read %s: got %v, want ErrNotFound", id, err)
			}
			checkHistory(t, s, "DocumentReference", id, 0)
		}
		checkJournals(t, s, 0, 0)
	})
}

func TestIsTooLarge(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "Driver", err: fmt.Errorf("insert: %w", driver.ErrDocumentTooLarge), want: true},
		{name: "BSONObjectTooLarge", err: mongo.WriteException{
			WriteErrors: []mongo.WriteError{{Code: 10334, Message: "object too large"}},
		}, want: true},
		{name: "UpdateTooLarge", err: mongo.WriteException{
			WriteErrors: []mongo.WriteError{{Code: 17419, Message: "document after update is larger"}},
		}, want: true},
		{name: "InsertBadValue", err: mongo.WriteException{
			WriteErrors: []mongo.WriteError{{Code: 2, Message: "object to insert too large"}},
		}, want: true},
		{name: "OtherBadValue", err: mongo.WriteException{
			WriteErrors: []mongo.WriteError{{Code: 2, Message: "bad value"}},
		}},
		{name: "Nil"},
		{name: "Other", err: errors.New("connection reset")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.IsTooLarge(tt.err); got != tt.want {
				t.Errorf("IsTooLarge(%v): got %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
