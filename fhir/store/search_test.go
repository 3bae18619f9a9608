package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
)

// The search parameters of the fixture, all on Claim.
var (
	pID      = &search.Param{Code: "_id", Resource: "Claim", Type: search.TypeToken}
	pUpdated = &search.Param{Code: "_lastUpdated", Resource: "Claim", Type: search.TypeDate}
	pPatient = &search.Param{Code: "patient", Resource: "Claim", Type: search.TypeReference}
	pStatus  = &search.Param{Code: "status", Resource: "Claim", Type: search.TypeToken}
	pName    = &search.Param{Code: "name", Resource: "Claim", Type: search.TypeString}
	pCreated = &search.Param{Code: "created", Resource: "Claim", Type: search.TypeDate}
	pPeriod  = &search.Param{Code: "period", Resource: "Claim", Type: search.TypeDate}
	pURL     = &search.Param{Code: "url", Resource: "Claim", Type: search.TypeURI}

	fixtureParams = []*search.Param{pID, pUpdated, pPatient, pStatus, pName, pCreated, pPeriod, pURL}
)

// day returns the UTC range of one day, as the search package gives it.
func day(s string) search.Range {
	lo, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return search.Range{Lo: lo, Hi: lo.AddDate(0, 0, 1)}
}

// month returns the UTC range of a month given as YYYY-MM.
func month(s string) search.Range {
	lo, err := time.Parse("2006-01", s)
	if err != nil {
		panic(err)
	}
	return search.Range{Lo: lo, Hi: lo.AddDate(0, 1, 0)}
}

// span returns the range [lo, hi) of two days.
func span(lo, hi string) search.Range {
	return search.Range{Lo: day(lo).Lo, Hi: day(hi).Lo}
}

const fmStatus = "http://hl7.org/fhir/fm-status"

// tokens returns the keys of a coded status, as the search package
// extracts them.
func tokens(code string) search.Field {
	return search.Field{Keys: []string{code, fmStatus + "|" + code, fmStatus + "|"}}
}

// refs returns the keys of a local reference to a Patient.
func refs(id string) search.Field {
	return search.Field{Keys: []string{"Patient/" + id, id}}
}

// text returns the keys of a string value.
func text(folded, asWritten string) search.Field {
	return search.Field{Keys: []string{folded}, Exact: []string{asWritten}}
}

// dates returns the field of date ranges.
func dates(rs ...search.Range) search.Field {
	return search.Field{Ranges: rs}
}

// forLayouts runs fn on a fresh store in the layout of the server at
// hand (subtest OwnLayout), then on one in the layout of the other kind
// of server (OtherLayout, see [store.Store.SwapLayout]).
func forLayouts(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	for _, name := range []string{"OwnLayout", "OtherLayout"} {
		t.Run(name, func(t *testing.T) {
			s := storetest.New(t)
			if name == "OtherLayout" {
				s.SwapLayout()
			}
			fn(t, s)
		})
	}
}

// loadFixture stores c1 to c4, and c5 deleted, last updated:
// c1 2024-03-01T10:00, c2 2024-03-01T11:00, c3 2024-03-02T10:00,
// c4 2024-03-03T00:00.
func loadFixture(t *testing.T, s *store.Store) {
	t.Helper()
	if err := s.EnsureIndexes(context.Background(), fixtureParams); err != nil {
		t.Fatal(err)
	}
	put := func(id, updated string, idx search.Index) {
		r := rec("Claim", id, 1, idx)
		var err error
		if r.Updated, err = time.Parse(time.RFC3339, updated); err != nil {
			t.Fatal(err)
		}
		mustPut(t, s, r, 0)
	}
	put("c1", "2024-03-01T10:00:00Z", search.Index{
		"patient": refs("p1"), "status": tokens("active"), "name": text("smith", "Smith"),
		"created": dates(day("2024-01-10")),
		"period":  dates(month("2023-01"), month("2024-06")),
		"url":     {Keys: []string{"http://example.org/a"}},
	})
	put("c2", "2024-03-01T11:00:00Z", search.Index{
		"patient": refs("p1"), "status": tokens("cancelled"), "name": text("smithson", "Smithson"),
		"created": dates(day("2024-01-15")),
		"period":  dates(month("2023-03")),
	})
	put("c3", "2024-03-02T10:00:00Z", search.Index{
		"patient": refs("p2"), "status": tokens("active"), "name": text("jones", "Jones"),
		"created": dates(day("2024-02-01")),
	})
	put("c4", "2024-03-03T00:00:00Z", search.Index{
		"patient": refs("p2"),
	})
	put("c5", "2024-03-01T09:00:00Z", search.Index{
		"patient": refs("p1"), "status": tokens("active"), "name": text("smith", "Smith"),
		"created": dates(day("2024-01-10")),
	})
	mustPut(t, s, deletion("Claim", "c5", 2), 1)
}

// q builds a query of clauses on Claim, with a large page.
func q(clauses ...search.Clause) *search.Query {
	return &search.Query{Type: "Claim", Clauses: clauses, Count: 100}
}

// keys is a clause with plain keys.
func keys(p *search.Param, m search.Modifier, ks ...string) search.Clause {
	c := search.Clause{Param: p, Modifier: m}
	for _, k := range ks {
		c.Values = append(c.Values, search.Value{Key: k})
	}
	return c
}

// date is a clause with one date value per prefix and range pair.
func date(p *search.Param, prefix search.Prefix, r search.Range) search.Clause {
	return search.Clause{Param: p, Values: []search.Value{{Prefix: prefix, Range: r}}}
}

// missing is a :missing clause.
func missing(p *search.Param, v bool) search.Clause {
	return search.Clause{Param: p, Modifier: search.ModifierMissing, Missing: v}
}

// ids lists the ids of records.
func ids(recs []*store.Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

func TestSearch_Clauses(t *testing.T) {
	seconds := search.Range{Lo: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}
	seconds.Hi = seconds.Lo.Add(time.Second)

	tests := []struct {
		name  string
		query *search.Query
		want  []string
	}{
		{"All", q(), []string{"c1", "c2", "c3", "c4"}},
		{"ID", q(keys(pID, "", "c3", "c1")), []string{"c1", "c3"}},
		{"IDDeleted", q(keys(pID, "", "c5")), []string{}},
		{"IDUnknown", q(keys(pID, "", "zz")), []string{}},
		{"IDNot", q(keys(pID, search.ModifierNot, "c1")), []string{"c2", "c3", "c4"}},
		{"IDAndStatus", q(keys(pID, "", "c1", "c2"), keys(pStatus, "", "active")), []string{"c1"}},
		{"Token", q(keys(pStatus, "", "active")), []string{"c1", "c3"}},
		{"TokenSystem", q(keys(pStatus, "", fmStatus+"|cancelled")), []string{"c2"}},
		{"TokenAnySystem", q(keys(pStatus, "", fmStatus+"|")), []string{"c1", "c2", "c3"}},
		{"TokenOr", q(keys(pStatus, "", "active", "cancelled")), []string{"c1", "c2", "c3"}},
		{"TokenNot", q(keys(pStatus, search.ModifierNot, "active")), []string{"c2", "c4"}},
		{"TokenNotOr", q(keys(pStatus, search.ModifierNot, "active", "cancelled")), []string{"c4"}},
		{"TokenMissing", q(missing(pStatus, true)), []string{"c4"}},
		{"TokenPresent", q(missing(pStatus, false)), []string{"c1", "c2", "c3"}},
		{"Reference", q(keys(pPatient, "", "Patient/p1")), []string{"c1", "c2"}},
		{"ReferenceID", q(keys(pPatient, "", "p2")), []string{"c3", "c4"}},
		{"URI", q(keys(pURL, "", "http://example.org/a")), []string{"c1"}},
		{"URIMissing", q(missing(pURL, true)), []string{"c2", "c3", "c4"}},
		{"And", q(keys(pPatient, "", "p1"), keys(pStatus, "", "active")), []string{"c1"}},
		{"StringPrefix", q(keys(pName, "", "smi")), []string{"c1", "c2"}},
		{"StringWhole", q(keys(pName, "", "smithson")), []string{"c2"}},
		{"StringNotPrefix", q(keys(pName, "", "son")), []string{}},
		{"StringOr", q(keys(pName, "", "jo", "smiths")), []string{"c2", "c3"}},
		{"StringQuoted", q(keys(pName, "", "sm.th")), []string{}},
		{"StringContains", q(keys(pName, search.ModifierContains, "son")), []string{"c2"}},
		{"StringContainsQuoted", q(keys(pName, search.ModifierContains, "o.e")), []string{}},
		{"StringExact", q(keys(pName, search.ModifierExact, "Smith")), []string{"c1"}},
		{"StringExactCase", q(keys(pName, search.ModifierExact, "smith")), []string{}},
		{"StringMissing", q(missing(pName, true)), []string{"c4"}},
		{"DateMissing", q(missing(pCreated, true)), []string{"c4"}},
		{"IDMissing", q(missing(pID, true)), []string{}},
		{"UpdatedEqDay", q(date(pUpdated, search.PrefixEq, day("2024-03-01"))), []string{"c1", "c2"}},
		{"UpdatedEqSecond", q(date(pUpdated, search.PrefixEq, seconds)), []string{"c1"}},
		{"UpdatedNe", q(date(pUpdated, search.PrefixNe, day("2024-03-01"))), []string{"c3", "c4"}},
		{"UpdatedGt", q(date(pUpdated, search.PrefixGt, day("2024-03-01"))), []string{"c3", "c4"}},
		{"UpdatedGtSecond", q(date(pUpdated, search.PrefixGt, seconds)), []string{"c2", "c3", "c4"}},
		{"UpdatedLt", q(date(pUpdated, search.PrefixLt, day("2024-03-02"))), []string{"c1", "c2"}},
		{"UpdatedGe", q(date(pUpdated, search.PrefixGe, day("2024-03-02"))), []string{"c3", "c4"}},
		{"UpdatedLe", q(date(pUpdated, search.PrefixLe, day("2024-03-01"))), []string{"c1", "c2"}},
		{"UpdatedSa", q(date(pUpdated, search.PrefixSa, day("2024-03-01"))), []string{"c3", "c4"}},
		{"UpdatedEb", q(date(pUpdated, search.PrefixEb, day("2024-03-02"))), []string{"c1", "c2"}},
	}
	forLayouts(t, func(t *testing.T, s *store.Store) {
		loadFixture(t, s)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				checkSearch(t, s, tt.query, tt.want)
			})
		}
	})
}

// checkSearch runs a query and its count and compares them with want.
func checkSearch(t *testing.T, s *store.Store, query *search.Query, want []string) {
	t.Helper()
	ctx := context.Background()
	got, more, err := s.Search(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), want) || more {
		t.Errorf("Search: got %v (more %v), want %v", ids(got), more, want)
	}
	for _, r := range got {
		if r.Deleted || string(r.Body) != string(body("Claim", r.ID, r.Version)) {
			t.Errorf("Search: got %s with body %s", r.ID, r.Body)
		}
	}
	if n, err := s.Count(ctx, query); err != nil || n != len(want) {
		t.Errorf("Count: got %d, %v, want %d", n, err, len(want))
	}
}

func TestSearch_DatePrefixes(t *testing.T) {
	// created: c1 2024-01-10, c2 2024-01-15, c3 2024-02-01, c4 none.
	// period: c1 2023-01 and 2024-06, c2 2023-03, others none.
	tests := []struct {
		name   string
		clause search.Clause
		want   []string
	}{
		{"EqMonth", date(pCreated, search.PrefixEq, month("2024-01")), []string{"c1", "c2"}},
		{"EqDay", date(pCreated, search.PrefixEq, day("2024-01-10")), []string{"c1"}},
		{"EqDefault", date(pCreated, "", day("2024-01-10")), []string{"c1"}},
		{"EqWider", date(pCreated, search.PrefixEq, span("2024-01-10", "2024-02-02")),
			[]string{"c1", "c2", "c3"}},
		{"EqNarrower", date(pCreated, search.PrefixEq, span("2024-01-10", "2024-01-10")), []string{}},
		{"Ne", date(pCreated, search.PrefixNe, month("2024-01")), []string{"c3"}},
		{"Gt", date(pCreated, search.PrefixGt, day("2024-01-15")), []string{"c3"}},
		{"Lt", date(pCreated, search.PrefixLt, day("2024-01-15")), []string{"c1"}},
		{"Ge", date(pCreated, search.PrefixGe, day("2024-01-15")), []string{"c2", "c3"}},
		{"Le", date(pCreated, search.PrefixLe, day("2024-01-15")), []string{"c1", "c2"}},
		{"Sa", date(pCreated, search.PrefixSa, day("2024-01-15")), []string{"c3"}},
		{"Eb", date(pCreated, search.PrefixEb, day("2024-01-15")), []string{"c1"}},
		{"GeOverlap", date(pCreated, search.PrefixGe, span("2024-01-12", "2024-01-20")), []string{"c2", "c3"}},
		{"LeOverlap", date(pCreated, search.PrefixLe, span("2024-01-12", "2024-01-20")), []string{"c1", "c2"}},
		{"Or", search.Clause{Param: pCreated, Values: []search.Value{
			{Prefix: search.PrefixEq, Range: day("2024-01-10")},
			{Prefix: search.PrefixGt, Range: day("2024-01-31")},
		}}, []string{"c1", "c3"}},
		// Two ranges in c1: eq needs one range inside the value, not a
		// start from one range and an end from the other.
		{"MultiEqOne", date(pPeriod, search.PrefixEq, month("2024-06")), []string{"c1"}},
		{"MultiEqAcross", date(pPeriod, search.PrefixEq, span("2023-01-15", "2024-06-15")), []string{"c2"}},
		{"MultiEqBoth", date(pPeriod, search.PrefixEq, span("2023-01-01", "2024-07-01")), []string{"c1", "c2"}},
		{"MultiNe", date(pPeriod, search.PrefixNe, month("2023-01")), []string{"c1", "c2"}},
		{"MultiGt", date(pPeriod, search.PrefixGt, month("2024-01")), []string{"c1"}},
		{"MultiLt", date(pPeriod, search.PrefixLt, month("2023-02")), []string{"c1"}},
		{"MultiSa", date(pPeriod, search.PrefixSa, month("2023-02")), []string{"c1", "c2"}},
		{"MultiEb", date(pPeriod, search.PrefixEb, month("2023-03")), []string{"c1"}},
		{"MultiEqAnd", date(pPeriod, search.PrefixEq, month("2023-03")), []string{"c2"}},
	}
	forLayouts(t, func(t *testing.T, s *store.Store) {
		loadFixture(t, s)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				checkSearch(t, s, q(tt.clause), tt.want)
			})
		}

		t.Run("MultiEqWithOtherClause", func(t *testing.T) {
			period := date(pPeriod, search.PrefixEq, span("2023-01-15", "2024-06-15"))
			query := q(keys(pPatient, "", "p1"), period)
			checkSearch(t, s, query, []string{"c2"})
		})
	})
}

func TestSearch_Paging(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		clauses  []search.Clause
		count    int
		offset   int
		want     []string
		wantMore bool
	}{
		{"FirstPage", nil, 2, 0, []string{"c1", "c2"}, true},
		{"LastPage", nil, 2, 2, []string{"c3", "c4"}, false},
		{"PastEnd", nil, 2, 4, []string{}, false},
		{"Middle", nil, 1, 2, []string{"c3"}, true},
		{"CountZero", nil, 0, 0, []string{}, true},
		{"IDs", []search.Clause{keys(pID, "", "c4", "c2", "c1", "c5")}, 2, 1, []string{"c2", "c4"}, false},
		{"IDsMore", []search.Clause{keys(pID, "", "c4", "c2", "c1")}, 1, 1, []string{"c2"}, true},
		{"Exact", []search.Clause{date(pPeriod, search.PrefixEq, span("2023-01-01", "2024-07-01"))},
			1, 0, []string{"c1"}, true},
		{"ExactLast", []search.Clause{date(pPeriod, search.PrefixEq, span("2023-01-01", "2024-07-01"))},
			1, 1, []string{"c2"}, false},
	}
	forLayouts(t, func(t *testing.T, s *store.Store) {
		loadFixture(t, s)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				query := &search.Query{Type: "Claim", Clauses: tt.clauses,
					Count: tt.count, Offset: tt.offset}
				got, more, err := s.Search(ctx, query)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), tt.want) || more != tt.wantMore {
					t.Errorf("Search: got %v (more %v), want %v (more %v)",
						ids(got), more, tt.want, tt.wantMore)
				}
			})
		}

		n, err := s.Count(ctx, &search.Query{Type: "Claim", SummaryCount: true})
		if err != nil || n != 4 {
			t.Errorf("Count: got %d, %v, want 4", n, err)
		}
		got, more, err := s.Search(ctx, &search.Query{Type: "Nothing", Count: 10})
		if err != nil || len(got) != 0 || more {
			t.Errorf("Search of an empty type: got %v, %v, %v", ids(got), more, err)
		}
	})
}

func TestSearch_Unsupported(t *testing.T) {
	s := storetest.New(t)
	tests := []struct {
		name   string
		clause search.Clause
	}{
		{"TokenContains", keys(pStatus, search.ModifierContains, "act")},
		{"StringNot", keys(pName, search.ModifierNot, "smith")},
		{"DateExact", search.Clause{Param: pCreated, Modifier: search.ModifierExact,
			Values: []search.Value{{Range: day("2024-01-01")}}}},
		{"NoValue", search.Clause{Param: pStatus}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Search(context.Background(), q(tt.clause))
			var re *resource.Error
			if !errors.As(err, &re) || re.Status != 400 {
				t.Errorf("Search: got %v, want a *resource.Error with status 400", err)
			}
		})
	}
}

func TestSearch_Separators(t *testing.T) {
	// Packed keys close each entry with \x1f and follow the code with
	// \x1e (or \x1d for a string as written): values holding them must
	// not pass for other entries, and still be found.
	pNa := &search.Param{Code: "na", Resource: "Claim", Type: search.TypeString}
	const forged = "x\x1fstatus\x1eactive\x1f"
	tests := []struct {
		name   string
		clause search.Clause
		want   []string
	}{
		{"NoForgedToken", keys(pStatus, "", "active"), []string{"c2"}},
		{"NoForgedPresence", missing(pStatus, true), []string{"c1"}},
		{"StringPrefix", keys(pName, "", "x\x1fstatus"), []string{"c1"}},
		{"StringContains", keys(pName, search.ModifierContains, "status\x1eact"), []string{"c1"}},
		{"StringExact", keys(pName, search.ModifierExact, "X"+forged), []string{"c1"}},
		{"URI", keys(pURL, "", "http://example.org/\x1d"), []string{"c1"}},
		{"CodePrefixOfAnother", keys(pNa, "", "x"), []string{}},
		{"CodePrefixOfAnotherMissing", missing(pNa, true), []string{"c1", "c2"}},
	}
	forLayouts(t, func(t *testing.T, s *store.Store) {
		mustPut(t, s, rec("Claim", "c1", 1, search.Index{
			"name": text(forged, "X"+forged),
			"url":  {Keys: []string{"http://example.org/\x1d"}},
		}), 0)
		mustPut(t, s, rec("Claim", "c2", 1, search.Index{"status": tokens("active")}), 0)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				checkSearch(t, s, q(tt.clause), tt.want)
			})
		}
	})
}

func TestSearch_Filters(t *testing.T) {
	ctx := context.Background()
	// Patient p1 or status active: c1 and c2 (p1), c3 (active).
	p1OrActive := search.Filter{{keys(pPatient, "", "p1")}, {keys(pStatus, "", "active")}}
	forLayouts(t, func(t *testing.T, s *store.Store) {
		loadFixture(t, s)
		query := q()
		query.Filters = []search.Filter{p1OrActive}
		checkSearch(t, s, query, []string{"c1", "c2", "c3"})

		query = q(keys(pStatus, search.ModifierNot, "cancelled"))
		query.Filters = []search.Filter{p1OrActive}
		checkSearch(t, s, query, []string{"c1", "c3"})

		query.Filters = []search.Filter{{}}
		checkSearch(t, s, query, []string{})

		// c5 was deleted: its first version matches, its delete has no
		// search values.
		page := store.Page{Count: 10, Filters: []search.Filter{p1OrActive}}
		got, total, err := s.History(ctx, "Claim", "", page)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"c3/1", "c2/1", "c1/1", "c5/1"}
		if !slices.Equal(versions(got), want) || total != 4 {
			t.Errorf("History: got %v (total %d), want %v (total 4)", versions(got), total, want)
		}
	})
}
