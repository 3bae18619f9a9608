package search

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/profiles"
)

var testRegistry = sync.OnceValue(func() *Registry {
	r, err := Load(profiles.SearchParameters)
	if err != nil {
		panic(err)
	}
	return r
})

// cl builds the expected clause of param code of typ.
func cl(typ, code string, mod Modifier, values ...Value) Clause {
	return Clause{Param: testRegistry().Lookup(typ, code), Modifier: mod, Values: values}
}

// inv builds the expected clause of Invoice parameter code.
func inv(code string, mod Modifier, values ...Value) Clause {
	return cl("Invoice", code, mod, values...)
}

// missing builds the expected :missing clause of param code of typ.
func missing(typ, code string, want bool) Clause {
	return Clause{Param: testRegistry().Lookup(typ, code), Modifier: ModifierMissing, Missing: want}
}

func key(k string) Value { return Value{Prefix: PrefixEq, Key: k} }

func date(pre Prefix, lo, hi string) Value { return Value{Prefix: pre, Range: rng(lo, hi)} }

// query builds the expected Query: a search of typ with the default page.
func query(typ string, clauses ...Clause) *Query {
	return &Query{Type: typ, Count: 50, Clauses: clauses}
}

// invQ builds the expected Query of an Invoice search.
func invQ(clauses ...Clause) *Query { return query("Invoice", clauses...) }

// The issue codes of the expected errors.
const (
	invalidCode     = resource.IssueInvalid
	unsupportedCode = resource.IssueNotSupported
)

type parseCase struct {
	name  string
	typ   string // Invoice when empty
	query string
	opts  ParseOptions
	want  *Query
	// wantErr is the issue code of the expected error, wantExpr its
	// expression.
	wantErr  resource.IssueType
	wantExpr string
}

func runParse(t *testing.T, cases []parseCase) {
	t.Helper()
	r := testRegistry()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ := tc.typ
			if typ == "" {
				typ = "Invoice"
			}
			params, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatalf("bad test query: %v", err)
			}
			if tc.opts.Base == "" {
				tc.opts.Base = testBase
			}

			got, err := r.Parse(typ, params, tc.opts)
			if tc.wantErr != "" {
				checkParseError(t, err, tc.wantErr, tc.wantExpr)
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Query mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// checkParseError checks a 400 with one issue naming the parameter, whose
// diagnostics never echo a long value.
func checkParseError(t *testing.T, err error, code resource.IssueType, expr string) {
	t.Helper()
	var re *resource.Error
	if !errors.As(err, &re) {
		t.Fatalf("got error %v, want a *resource.Error", err)
	}
	if re.Status != 400 || len(re.Issues) != 1 {
		t.Fatalf("got status %d with %d issues, want 400 with 1", re.Status, len(re.Issues))
	}
	is := re.Issues[0]
	if is.Code != code {
		t.Errorf("got code %s, want %s", is.Code, code)
	}
	if len(is.Expression) != 1 || is.Expression[0] != expr {
		t.Errorf("got expression %q, want [%q]", is.Expression, expr)
	}
	if !strings.Contains(is.Diagnostics, strings.TrimSuffix(expr, "...")) {
		t.Errorf("got diagnostics %q, want it to name %s", is.Diagnostics, expr)
	}
	if strings.Contains(is.Diagnostics, strings.Repeat("9", 50)) || len(is.Diagnostics) > 120 {
		t.Errorf("got diagnostics %q, want no long value echoed", is.Diagnostics)
	}
}

func TestParse_ResultParams(t *testing.T) {
	summary := &Query{Type: "Invoice", SummaryCount: true}
	runParse(t, []parseCase{
		{name: "Defaults", query: "", want: query("Invoice")},
		{name: "Count", query: "_count=10", want: &Query{Type: "Invoice", Count: 10}},
		{name: "CountCapped", query: "_count=5000", want: &Query{Type: "Invoice", Count: 1000}},
		{name: "CountZeroIsSummaryCount", query: "_count=0", want: summary},
		{name: "CountNegative", query: "_count=-1", wantErr: invalidCode, wantExpr: "_count"},
		{name: "CountNotInteger", query: "_count=1.5", wantErr: invalidCode, wantExpr: "_count"},
		{name: "CountText", query: "_count=ten", wantErr: invalidCode, wantExpr: "_count"},
		{name: "CountEmpty", query: "_count=", wantErr: invalidCode, wantExpr: "_count"},
		{name: "CountTwice", query: "_count=1&_count=2", wantErr: invalidCode, wantExpr: "_count"},
		{
			name:     "CountModifier",
			query:    "_count:missing=1",
			wantErr:  invalidCode,
			wantExpr: "_count",
		},
		{
			name:  "OptionsDefaultAndMax",
			query: "",
			opts:  ParseOptions{DefaultCount: 20, MaxCount: 100},
			want:  &Query{Type: "Invoice", Count: 20},
		},
		{
			name:  "OptionsCap",
			query: "_count=500",
			opts:  ParseOptions{DefaultCount: 20, MaxCount: 100},
			want:  &Query{Type: "Invoice", Count: 100},
		},
		{name: "Offset", query: "_offset=30", want: &Query{Type: "Invoice", Count: 50, Offset: 30}},
		{name: "OffsetNegative", query: "_offset=-5", wantErr: invalidCode, wantExpr: "_offset"},
		{
			name:  "TotalAccurate",
			query: "_total=accurate",
			want:  &Query{Type: "Invoice", Count: 50, Total: TotalAccurate},
		},
		{
			name:  "TotalNone",
			query: "_total=none",
			want:  &Query{Type: "Invoice", Count: 50, Total: TotalNone},
		},
		{
			name:  "TotalEstimate",
			query: "_total=estimate",
			want:  &Query{Type: "Invoice", Count: 50, Total: TotalEstimate},
		},
		{name: "TotalBad", query: "_total=all", wantErr: invalidCode, wantExpr: "_total"},
		{name: "SummaryCount", query: "_summary=count&_count=10", want: summary},
		{name: "SummaryFalse", query: "_summary=false", want: query("Invoice")},
		{
			name:  "SummaryTrueLenient",
			query: "_summary=true",
			want:  &Query{Type: "Invoice", Count: 50, Ignored: []string{"_summary"}},
		},
		{
			name:     "SummaryTrueStrict",
			query:    "_summary=true",
			opts:     ParseOptions{Strict: true},
			wantErr:  unsupportedCode,
			wantExpr: "_summary",
		},
		{
			name:     "SummaryBogusStrict",
			query:    "_summary=bogus",
			opts:     ParseOptions{Strict: true},
			wantErr:  invalidCode,
			wantExpr: "_summary",
		},
		{
			name:  "FormatAndPrettyAccepted",
			query: "_format=json&_pretty=true",
			want:  query("Invoice"),
		},
	})
}

func TestParse_Ignored(t *testing.T) {
	long := strings.Repeat("9", 200)
	runParse(t, []parseCase{
		{
			name: "Lenient",
			query: "_sort=date&_include=Invoice:patient&_revinclude=x&_elements=id" +
				"&_contained=true&foo=bar&insurer:missing=true",
			want: &Query{Type: "Invoice", Count: 50, Ignored: []string{
				"_contained", "_elements", "_include", "_revinclude", "_sort",
				"foo", "insurer:missing",
			}},
		},
		{name: "StrictSort", query: "_sort=date", opts: ParseOptions{Strict: true},
			wantErr: unsupportedCode, wantExpr: "_sort"},
		{name: "StrictInclude", query: "_include=Invoice:patient", opts: ParseOptions{Strict: true},
			wantErr: unsupportedCode, wantExpr: "_include"},
		{name: "StrictUnknown", query: "foo=bar", opts: ParseOptions{Strict: true},
			wantErr: unsupportedCode, wantExpr: "foo"},
		{
			name:    "StrictParamOfOtherType",
			query:   "insurer=Organization/1",
			opts:    ParseOptions{Strict: true},
			wantErr: unsupportedCode, wantExpr: "insurer"},
		{name: "StrictLongNameShortened", query: long + "=1", opts: ParseOptions{Strict: true},
			wantErr: unsupportedCode, wantExpr: strings.Repeat("9", 40) + "..."},
	})
}

func TestParse_Token(t *testing.T) {
	runParse(t, []parseCase{
		{name: "Code", query: "status=draft", want: invQ(inv("status", "", key("draft")))},
		{
			name:  "OrList",
			query: "status=draft,issued",
			want:  invQ(inv("status", "", key("draft"), key("issued"))),
		},
		{
			name:  "RepeatedIsAnd",
			query: "status=draft&status=issued",
			want: invQ(
				inv("status", "", key("draft")), inv("status", "", key("issued"))),
		},
		{
			name:  "SystemAndCode",
			query: "identifier=urn:mrn|123",
			want:  invQ(inv("identifier", "", key("urn:mrn|123"))),
		},
		{
			name:  "NoSystem",
			query: "identifier=|123",
			want:  invQ(inv("identifier", "", key("|123"))),
		},
		{
			name:  "SystemOnly",
			query: "identifier=urn:mrn|",
			want:  invQ(inv("identifier", "", key("urn:mrn|"))),
		},
		{name: "PipeOnly", query: "identifier=|", wantErr: invalidCode, wantExpr: "identifier"},
		{
			name:  "EscapedComma",
			query: `identifier=a\,b,c`,
			want:  invQ(inv("identifier", "", key("a,b"), key("c"))),
		},
		{
			name:  "EscapedPipeInSystem",
			query: `identifier=urn:a\|b|1`,
			want:  invQ(inv("identifier", "", key("urn:a|b|1"))),
		},
		{
			name:  "EscapedBackslashThenComma",
			query: `identifier=a\\,b`,
			want:  invQ(inv("identifier", "", key(`a\`), key("b"))),
		},
		{
			name:  "EscapedDollar",
			query: `identifier=a\$b`,
			want:  invQ(inv("identifier", "", key("a$b"))),
		},
		{
			name:  "Not",
			query: "status:not=cancelled",
			want:  invQ(inv("status", ModifierNot, key("cancelled"))),
		},
		{
			name:     "ExactOnToken",
			query:    "status:exact=draft",
			wantErr:  unsupportedCode,
			wantExpr: "status",
		},
		{
			name:     "UnknownModifier",
			query:    "status:text=draft",
			wantErr:  unsupportedCode,
			wantExpr: "status",
		},
		{name: "Empty", query: "status=", wantErr: invalidCode, wantExpr: "status"},
		{name: "EmptyInList", query: "status=draft,", wantErr: invalidCode, wantExpr: "status"},
		{name: "ID", query: "_id=a1,b2", want: invQ(inv("_id", "", key("a1"), key("b2")))},
		{
			name:  "MissingTrue",
			query: "status:missing=true",
			want:  invQ(missing("Invoice", "status", true)),
		},
		{
			name:  "MissingFalse",
			query: "status:missing=false",
			want:  invQ(missing("Invoice", "status", false)),
		},
		{name: "MissingBad", query: "status:missing=yes", wantErr: invalidCode, wantExpr: "status"},
		{
			name:     "MissingList",
			query:    "status:missing=true,false",
			wantErr:  invalidCode,
			wantExpr: "status",
		},
	})
}

func TestParse_Reference(t *testing.T) {
	runParse(t, []parseCase{
		{
			name:  "IDSingleTarget",
			query: "patient=123",
			want:  invQ(inv("patient", "", key("Patient/123"))),
		},
		{name: "IDManyTargets", query: "subject=123", want: invQ(inv("subject", "", key("123")))},
		{
			name:  "TypeAndID",
			query: "subject=Patient/123",
			want:  invQ(inv("subject", "", key("Patient/123"))),
		},
		{
			name:  "TypeModifier",
			query: "subject:Patient=123",
			want:  invQ(inv("subject", "", key("Patient/123"))),
		},
		{
			name:  "TypeModifierWithSameType",
			query: "subject:Patient=Patient/123",
			want:  invQ(inv("subject", "", key("Patient/123"))),
		},
		{
			name:     "TypeModifierOtherType",
			query:    "subject:Patient=Group/1",
			wantErr:  invalidCode,
			wantExpr: "subject",
		},
		{
			name:     "TypeModifierNotATarget",
			query:    "subject:Organization=1",
			wantErr:  unsupportedCode,
			wantExpr: "subject",
		},
		{
			name:     "OtherModifier",
			query:    "subject:above=1",
			wantErr:  unsupportedCode,
			wantExpr: "subject",
		},
		{
			name:  "AbsoluteUnderBase",
			query: "patient=" + url.QueryEscape(testBase+"/Patient/123"),
			want:  invQ(inv("patient", "", key("Patient/123"))),
		},
		{
			name:  "ForeignAbsolute",
			query: "patient=" + url.QueryEscape("http://ehr.example.org/fhir/Patient/9"),
			want:  invQ(inv("patient", "", key("http://ehr.example.org/fhir/Patient/9"))),
		},
		{
			name:  "VersionDropped",
			query: "patient=Patient/123/_history/2",
			want:  invQ(inv("patient", "", key("Patient/123"))),
		},
		{
			name:  "URN",
			query: "patient=urn:uuid:4d3c1b7e-0000-4000-8000-000000000001",
			want:  invQ(inv("patient", "", key("urn:uuid:4d3c1b7e-0000-4000-8000-000000000001"))),
		},
		{
			name:  "CanonicalAsReference",
			typ:   "ConceptMap",
			query: "source-uri=" + url.QueryEscape("http://snomed.info/sct?fhir_vs"),
			want: query("ConceptMap",
				cl("ConceptMap", "source-uri", "", key("http://snomed.info/sct?fhir_vs"))),
		},
		{
			name:  "Missing",
			query: "patient:missing=true",
			want:  invQ(missing("Invoice", "patient", true)),
		},
	})
}

func TestParse_Date(t *testing.T) {
	runParse(t, []parseCase{
		{
			name:  "NoPrefixIsEq",
			query: "date=2024-01",
			want: invQ(inv("date", "",
				date(PrefixEq, "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"))),
		},
		{
			name:  "RangeAnd",
			query: "date=ge2024-01-01&date=lt2024-02-01",
			want: invQ(
				inv("date", "", date(PrefixGe, "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z")),
				inv("date", "", date(PrefixLt, "2024-02-01T00:00:00Z", "2024-02-02T00:00:00Z"))),
		},
		{
			name:  "AllPrefixes",
			query: "date=eq2024,ne2024,gt2024,lt2024,ge2024,le2024,sa2024,eb2024",
			want: invQ(inv("date", "",
				date(PrefixEq, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
				date(PrefixNe, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
				date(PrefixGt, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
				date(PrefixLt, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
				date(PrefixGe, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
				date(PrefixLe, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
				date(PrefixSa, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
				date(PrefixEb, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"))),
		},
		{
			name:  "ZoneToUTC",
			query: "date=" + url.QueryEscape("gt2024-03-01T23:30:00-05:00"),
			want: invQ(inv("date", "",
				date(PrefixGt, "2024-03-02T04:30:00Z", "2024-03-02T04:30:01Z"))),
		},
		{
			name:  "LastUpdated",
			query: "_lastUpdated=gt2024-01-01T00:00:00.000Z",
			want: invQ(
				inv("_lastUpdated", "",
					date(PrefixGt, "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.001Z"))),
		},
		{name: "Approximately", query: "date=ap2024", wantErr: unsupportedCode, wantExpr: "date"},
		{name: "UnknownPrefix", query: "date=xx2024", wantErr: invalidCode, wantExpr: "date"},
		{name: "February30", query: "date=2024-02-30", wantErr: invalidCode, wantExpr: "date"},
		{name: "Month13", query: "date=2024-13", wantErr: invalidCode, wantExpr: "date"},
		{
			name:     "BadZone",
			query:    "date=" + url.QueryEscape("2024-01-01T10:00:00+25:00"),
			wantErr:  invalidCode,
			wantExpr: "date",
		},
		{name: "PrefixOnly", query: "date=ge", wantErr: invalidCode, wantExpr: "date"},
		{
			name:     "LongValueNotEchoed",
			query:    "date=" + strings.Repeat("9", 200),
			wantErr:  invalidCode,
			wantExpr: "date",
		},
		{name: "NotOnDate", query: "date:not=2024", wantErr: unsupportedCode, wantExpr: "date"},
		{
			name:  "Missing",
			query: "date:missing=false",
			want:  invQ(missing("Invoice", "date", false)),
		},
	})
}

func TestParse_StringAndURI(t *testing.T) {
	runParse(t, []parseCase{
		{
			name:  "Folded",
			typ:   "Patient",
			query: "name=%C3%9Cnal",
			want:  query("Patient", cl("Patient", "name", "", key("unal"))),
		},
		{
			name:  "Exact",
			typ:   "Patient",
			query: "family:exact=%C3%9Cnal",
			want:  query("Patient", cl("Patient", "family", ModifierExact, key("Ünal"))),
		},
		{
			name:  "Contains",
			typ:   "Patient",
			query: "given:contains=ZO%C3%8B",
			want:  query("Patient", cl("Patient", "given", ModifierContains, key("zoe"))),
		},
		{
			name:  "EscapedComma",
			typ:   "Organization",
			query: `name=Smith\,%20Jones,Acme`,
			want: query("Organization",
				cl("Organization", "name", "", key("smith, jones"), key("acme"))),
		},
		{
			name:     "NotOnString",
			typ:      "Patient",
			query:    "family:not=x",
			wantErr:  unsupportedCode,
			wantExpr: "family",
		},
		{
			name:  "URI",
			typ:   "ChargeItemDefinition",
			query: "url=" + url.QueryEscape("http://example.org/cid/Office-Visit"),
			want: query("ChargeItemDefinition",
				cl("ChargeItemDefinition", "url", "", key("http://example.org/cid/Office-Visit"))),
		},
		{
			name:     "URIBelow",
			typ:      "ChargeItemDefinition",
			query:    "url:below=http://example.org",
			wantErr:  unsupportedCode,
			wantExpr: "url",
		},
	})
}

// TestParse_MatchesExtract checks that search values and extracted values
// meet: each query key is one of the keys extracted from the resource.
func TestParse_MatchesExtract(t *testing.T) {
	r := testRegistry()
	body := []byte(`{"resourceType":"Invoice","status":"issued","date":"2024-03-01T10:00:00+01:00",
		"identifier":[{"system":"urn:inv","value":"A,1"}],
		"subject":{"reference":"http://localhost:8080/fhir/Patient/p1"}}`)
	idx, err := r.Extract("Invoice", body, testBase)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}

	params, _ := url.ParseQuery(`status=issued&identifier=urn:inv|A\,1&patient=p1` +
		`&subject=Patient/p1` +
		`&date=2024-03-01T09:00:00Z`)
	q, err := r.Parse("Invoice", params, ParseOptions{Base: testBase})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for _, c := range q.Clauses {
		f := idx[c.Param.Code]
		v := c.Values[0]
		if c.Param.Type == TypeDate {
			if got := f.Ranges[0]; !got.Lo.Equal(v.Range.Lo) || !got.Hi.Equal(v.Range.Hi) {
				t.Errorf("%s: got extracted range %v, want %v", c.Param.Code, got, v.Range)
			}
			continue
		}
		if !slices.Contains(f.Keys, v.Key) {
			t.Errorf("%s: got keys %q, want them to hold %q", c.Param.Code, f.Keys, v.Key)
		}
	}
}
