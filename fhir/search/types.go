package search

import "time"

// ParamType is a search parameter type as defined in
// https://hl7.org/fhir/R4/valueset-search-param-type.html.
type ParamType string

// The parameter types fhirbill indexes.
const (
	TypeToken     ParamType = "token"
	TypeReference ParamType = "reference"
	TypeDate      ParamType = "date"
	TypeString    ParamType = "string"
	TypeURI       ParamType = "uri"
)

// Param is one search parameter of one resource type, as defined by a
// SearchParameter resource in profiles/.
type Param struct {
	// Code is the name used in the query string ("patient").
	Code string
	// Resource is the resource type this definition applies to.
	Resource string
	// Type is the parameter type.
	Type ParamType
	// Expression is the FHIRPath expression the values come from, restricted
	// to the subset documented in extract.go.
	Expression string
	// Targets lists the resource types a reference parameter may point at.
	Targets []string
	// URL is the canonical URL of the SearchParameter definition.
	URL string
	// Description is the human-readable description, for the
	// CapabilityStatement.
	Description string
}

// Range is a half-open interval of instants [Lo, Hi): the span a FHIR date,
// dateTime, instant or Period covers at its precision. A Period with no end
// has Hi set to [MaxTime]; with no start, Lo set to [MinTime].
type Range struct {
	Lo time.Time
	Hi time.Time
}

// MinTime and MaxTime bound open-ended ranges. They fit in a BSON datetime.
var (
	MinTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
)

// Field holds the normalized values of one search parameter in one resource.
type Field struct {
	// Keys holds, for token parameters, "code", "system|code" and "system|"
	// for every coding ("|code" when the coding has no system); for reference
	// parameters "Type/id" and "id" for local references and the URL as
	// written for others; for uri parameters the URI; for string parameters
	// the value folded for case and accents.
	Keys []string `bson:"k,omitempty"`
	// Exact holds string parameter values as written, for :exact.
	Exact []string `bson:"x,omitempty"`
	// Ranges holds date parameter values.
	Ranges []Range `bson:"r,omitempty"`
}

// Index maps a parameter code to the values extracted from one resource.
// A parameter with no value in the resource is absent.
type Index map[string]Field

// Prefix is a comparison prefix of a date search value
// (https://hl7.org/fhir/R4/search.html#prefix).
type Prefix string

// The supported prefixes.
const (
	PrefixEq Prefix = "eq"
	PrefixNe Prefix = "ne"
	PrefixGt Prefix = "gt"
	PrefixLt Prefix = "lt"
	PrefixGe Prefix = "ge"
	PrefixLe Prefix = "le"
	PrefixSa Prefix = "sa"
	PrefixEb Prefix = "eb"
)

// Value is one value of a search clause; the values of a clause are ORed.
type Value struct {
	// Prefix applies to dates; it is PrefixEq when absent.
	Prefix Prefix
	// Key is the normalized key matched against [Field.Keys] (tokens,
	// references, uris; for strings the folded text, or as written under
	// :exact).
	Key string
	// Range is the span of a date value.
	Range Range
}

// Modifier is a search parameter modifier
// (https://hl7.org/fhir/R4/search.html#modifiers). Empty means none.
type Modifier string

// The supported modifiers.
const (
	ModifierNone     Modifier = ""
	ModifierMissing  Modifier = "missing"
	ModifierExact    Modifier = "exact"
	ModifierContains Modifier = "contains"
	ModifierNot      Modifier = "not"
)

// Clause is one parameter of a query: a resource matches when any of
// Values matches. The clauses of a query are ANDed.
type Clause struct {
	Param    *Param
	Modifier Modifier
	// Missing is the wanted answer of :missing (true: the parameter has no
	// value in the resource).
	Missing bool
	Values  []Value
}

// Total says how the total number of matches is reported
// (https://hl7.org/fhir/R4/search.html#total).
type Total string

// The _total modes. TotalAuto reports the total when it is known without an
// extra count (the results fit in one page) or when _summary=count asks.
const (
	TotalAuto     Total = ""
	TotalNone     Total = "none"
	TotalEstimate Total = "estimate"
	TotalAccurate Total = "accurate"
)

// Query is a parsed search of one resource type.
type Query struct {
	Type    string
	Clauses []Clause
	// Count is the page size: default 50, at most 1000. Zero only with
	// _summary=count.
	Count  int
	Offset int
	Total  Total
	// SummaryCount is _summary=count: only the total is wanted.
	SummaryCount bool
	// Ignored lists the parameters that were not understood and were
	// ignored (lenient handling), for the OperationOutcome of the result.
	Ignored []string
	// Filters are ANDed with the clauses: access rules the server adds
	// (see [Filter]). They count for totals and paging like any clause.
	Filters []Filter
}
