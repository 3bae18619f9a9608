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

	name := &search.Param{Code: "name", Resource: "Claim", Type: search.TypeString}
	tokens := func(m search.Modifier, keys ...string) search.Clause {
		c := search.Clause{Param: status, Modifier: m}
		for _, k := range keys {
			c.Values = append(c.Values, search.Value{Key: k})
		}
		return c
	}
	strs := func(m search.Modifier, keys ...string) search.Clause {
		c := tokens(m, keys...)
		c.Param = name
		return c
	}
	regex := func(pattern string) string {
		return `{"k":{"$regularExpression":{"pattern":"` + pattern + `","options":""}}}`
	}

	tests := []struct {
		name      string
		ferret    bool
		packed    bool
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
			want: `{"s.created.r.lo":{"$gte":` + jan + `},` +
				`"s.created.r.hi":{"$lte":` + feb + `}}`,
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
			want:   `{"ts":{"$gte":` + jan + `},"$and":[{"ts":{"$lte":` + feb1ms + `}}]}`,
		},
		{
			name: "TokenNot",
			clause: search.Clause{Param: status, Modifier: search.ModifierNot,
				Values: []search.Value{{Key: "a"}, {Key: "b"}}},
			want: `{"s.status.k":{"$nin":["a","b"]}}`,
		},
		{
			name:   "PackedToken",
			ferret: true, packed: true,
			clause: tokens("", "a", "http://x.org|a.b"),
			want:   regex(`\\x1fstatus\\x1e(?:a|http://x\\.org\\|a\\.b)\\x1f`),
		},
		{
			name:   "PackedTokenNot",
			ferret: true, packed: true,
			clause: tokens(search.ModifierNot, "a"),
			want: `{"k":{"$not":{"$regularExpression":` +
				`{"pattern":"\\x1fstatus\\x1ea\\x1f","options":""}}}}`,
		},
		{
			name:   "PackedTokenMissing",
			ferret: true, packed: true,
			clause: search.Clause{Param: status, Modifier: search.ModifierMissing, Missing: false},
			want:   regex(`\\x1fstatus\\x1e`),
		},
		{
			name:   "PackedStringPrefix",
			ferret: true, packed: true,
			clause: strs("", "smi", "jo"),
			want:   regex(`\\x1fname\\x1e(?:smi|jo)`),
		},
		{
			name:   "PackedStringContains",
			ferret: true, packed: true,
			clause: strs(search.ModifierContains, "mit"),
			want:   regex(`\\x1fname\\x1e[^\\x1f]*mit`),
		},
		{
			name:   "PackedStringExact",
			ferret: true, packed: true,
			clause: strs(search.ModifierExact, "Smith"),
			want:   regex(`\\x1fname\\x1dSmith\\x1f`),
		},
		{
			name:   "PackedEq",
			ferret: true, packed: true,
			clause:    date(created, search.PrefixEq),
			want:      `{"lo_created":{"$gte":` + jan + `},"hi_created":{"$lte":` + feb + `}}`,
			wantExact: true,
		},
		{
			name:   "PackedGt",
			ferret: true, packed: true,
			clause: date(created, search.PrefixGt),
			want:   `{"hi_created":{"$gt":` + feb + `}}`,
		},
		{
			name:      "PackedOnMongoDBEq",
			packed:    true,
			clause:    date(created, search.PrefixEq),
			want:      `{"lo_created":{"$gte":` + jan + `},"hi_created":{"$lte":` + feb + `}}`,
			wantExact: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{ferret: tt.ferret, packed: tt.packed}
			f, err := s.translate(&search.Query{Type: "Claim", Clauses: []search.Clause{tt.clause}})
			if err != nil {
				t.Fatal(err)
			}
			// The clause goes to the top level, after del.
			if len(f.db) < 2 || f.db[0].Key != "del" {
				t.Fatalf("filter %v: want del and the clause", f.db)
			}
			cond := f.db[1:]
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

func TestTranslate_AllOf(t *testing.T) {
	// Clauses go next to del, unless their field is there already: FerretDB
	// pays per document for every nested operator.
	status := &search.Param{Code: "status", Resource: "Claim", Type: search.TypeToken}
	patient := &search.Param{Code: "patient", Resource: "Claim", Type: search.TypeReference}
	clause := func(p *search.Param, key string) search.Clause {
		return search.Clause{Param: p, Values: []search.Value{{Key: key}}}
	}
	lo := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	created := &search.Param{Code: "created", Resource: "Claim", Type: search.TypeDate}
	eq := search.Clause{Param: created,
		Values: []search.Value{{Range: search.Range{Lo: lo, Hi: lo.AddDate(0, 0, 1)}}}}
	const (
		jan1 = `{"$date":{"$numberLong":"1704067200000"}}`
		jan2 = `{"$date":{"$numberLong":"1704153600000"}}`
	)
	regex := func(pattern string) string {
		return `{"$regularExpression":{"pattern":"` + pattern + `","options":""}}`
	}
	tests := []struct {
		name    string
		packed  bool
		clauses []search.Clause
		want    string
	}{
		{
			name:    "Arrays",
			clauses: []search.Clause{clause(status, "a"), clause(patient, "p1")},
			want:    `{"del":false,"s.status.k":"a","s.patient.k":"p1"}`,
		},
		{
			name:    "Packed",
			packed:  true,
			clauses: []search.Clause{clause(status, "a"), clause(patient, "p1")},
			want: `{"del":false,"k":` + regex(`\\x1fstatus\\x1ea\\x1f`) +
				`,"$and":[{"k":` + regex(`\\x1fpatient\\x1ep1\\x1f`) + `}]}`,
		},
		{
			// The $and of a date eq is taken apart: one $and in all.
			name:    "PackedDateEq",
			packed:  true,
			clauses: []search.Clause{clause(status, "a"), eq, clause(patient, "p1")},
			want: `{"del":false,"k":` + regex(`\\x1fstatus\\x1ea\\x1f`) +
				`,"lo_created":{"$gte":` + jan1 + `},"hi_created":{"$lte":` + jan2 + `}` +
				`,"$and":[{"k":` + regex(`\\x1fpatient\\x1ep1\\x1f`) + `}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{ferret: tt.packed, packed: tt.packed}
			f, err := s.translate(&search.Query{Type: "Claim", Clauses: tt.clauses})
			if err != nil {
				t.Fatal(err)
			}
			got, err := bson.MarshalExtJSON(f.db, true, false)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("filter:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
