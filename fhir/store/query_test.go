package store

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/fhirbill/fhirbill/fhir/search"
)

// These tests pin the filters sent to each kind of server; the suite in
// store_test.go checks what they select on the server at hand.

func TestTranslate_Filters(t *testing.T) {
	created := &search.Param{Code: "created", Resource: "Claim", Type: search.TypeDate}
	updated := &search.Param{Code: "_lastUpdated", Resource: "Claim", Type: search.TypeDate}
	status := &search.Param{Code: "status", Resource: "Claim", Type: search.TypeToken}
	lo := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	r := search.Range{Lo: lo, Hi: lo.AddDate(0, 1, 0)}
	date := func(p *search.Param, prefix search.Prefix) search.Clause {
		return search.Clause{Param: p, Values: []search.Value{{Prefix: prefix, Range: r}}}
	}
	const (
		jan = `{"$date":{"$numberLong":"1704067200000"}}`
		feb = `{"$date":{"$numberLong":"1706745600000"}}`
		// feb1ms is February 1st less 1 ms: ts+1ms <= feb is ts <= feb1ms.
		feb1ms = `{"$date":{"$numberLong":"1706745599999"}}`
	)

	tests := []struct {
		name      string
		ferret    bool
		clause    search.Clause
		want      string
		wantExact bool
	}{
		{
			name:   "MongoEq",
			clause: date(created, search.PrefixEq),
			want:   `{"s.created.r":{"$elemMatch":{"lo":{"$gte":` + jan + `},"hi":{"$lte":` + feb + `}}}}`,
		},
		{
			name:   "FerretEq",
			ferret: true,
			clause: date(created, search.PrefixEq),
			want: `{"$and":[{"s.created.r.lo":{"$gte":` + jan + `}},` +
				`{"s.created.r.hi":{"$lte":` + feb + `}}]}`,
			wantExact: true,
		},
		{
			name:   "Ne",
			clause: date(created, search.PrefixNe),
			want:   `{"$or":[{"s.created.r.lo":{"$lt":` + jan + `}},{"s.created.r.hi":{"$gt":` + feb + `}}]}`,
		},
		{
			name:   "FerretGe",
			ferret: true,
			clause: date(created, search.PrefixGe),
			want:   `{"$or":[{"s.created.r.lo":{"$gte":` + jan + `}},{"s.created.r.hi":{"$gt":` + feb + `}}]}`,
		},
		{
			name:   "LastUpdatedEq",
			clause: date(updated, search.PrefixEq),
			want:   `{"$and":[{"ts":{"$gte":` + jan + `}},{"ts":{"$lte":` + feb1ms + `}}]}`,
		},
		{
			name: "TokenNot",
			clause: search.Clause{Param: status, Modifier: search.ModifierNot,
				Values: []search.Value{{Key: "a"}, {Key: "b"}}},
			want: `{"s.status.k":{"$nin":["a","b"]}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{ferret: tt.ferret}
			f, err := s.translate(&search.Query{Type: "Claim", Clauses: []search.Clause{tt.clause}})
			if err != nil {
				t.Fatal(err)
			}
			cond := f.db[1].Value.(bson.A)[0]
			got, err := bson.MarshalExtJSON(cond, true, false)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("filter:\n got %s\nwant %s", got, tt.want)
			}
			if (len(f.exact) > 0) != tt.wantExact {
				t.Errorf("exact check: got %v, want %v", len(f.exact) > 0, tt.wantExact)
			}
		})
	}
}
