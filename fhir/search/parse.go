package search

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// The page sizes used when ParseOptions leaves them zero.
const (
	defaultCount = 50
	maxCount     = 1000
)

// ParseOptions tunes [Registry.Parse].
type ParseOptions struct {
	// Base is the server's public base URL; reference values under
	// Base + "/" are read as local references.
	Base string
	// Strict rejects unsupported parameters with a 400 instead of ignoring
	// them, as a client asks with "Prefer: handling=strict"
	// (https://hl7.org/fhir/R4/search.html#errors).
	Strict bool
	// DefaultCount is the page size without _count; 50 when zero.
	DefaultCount int
	// MaxCount caps _count; 1000 when zero.
	MaxCount int
}

// ignoredParams are the search result parameters fhirbill does not
// implement (https://hl7.org/fhir/R4/search.html#return): they are ignored,
// or rejected under Strict, like unknown parameters.
var ignoredParams = map[string]bool{
	"_sort": true, "_include": true, "_revinclude": true, // fhir/rest serves the last two
	"_elements": true, "_contained": true, "_containedType": true,
}

// Parse parses the query string of a search of resourceType into a Query.
//
// Repeated parameters are ANDed (one Clause each), comma-separated values
// are ORed (https://hl7.org/fhir/R4/search.html#combining). Result
// parameters set Count, Offset, Total and SummaryCount; _count=0 is
// _summary=count, and a _count above MaxCount is lowered to it. _format and
// _pretty are accepted and left to the caller. Unknown or unsupported
// parameters are listed in Query.Ignored, or rejected when opts.Strict.
//
// A client error is a *resource.Error with status 400, code "invalid" or
// "not-supported", and the parameter as expression. Unknown modifiers are
// always rejected, as the specification requires.
func (r *Registry) Parse(
	resourceType string,
	params url.Values,
	opts ParseOptions,
) (*Query, error) {
	if opts.DefaultCount <= 0 {
		opts.DefaultCount = defaultCount
	}
	if opts.MaxCount <= 0 {
		opts.MaxCount = maxCount
	}
	q := &Query{Type: resourceType, Count: min(opts.DefaultCount, opts.MaxCount)}

	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)

	for _, name := range names {
		values := params[name]
		code, modifier, hasModifier := strings.Cut(name, ":")

		switch {
		case code == "_count" || code == "_offset" || code == "_total" || code == "_summary":
			if hasModifier {
				return nil, invalid(code, "The %s parameter takes no modifier.", code)
			}
			if len(values) != 1 {
				return nil, invalid(code, "The %s parameter may be given only once.", code)
			}
			if err := q.setResultParam(code, values[0], opts); err != nil {
				return nil, err
			}
			continue
		case code == "_format" || code == "_pretty":
			continue
		case ignoredParams[code]:
			if err := q.ignore(name, opts.Strict); err != nil {
				return nil, err
			}
			continue
		}

		p := r.Lookup(resourceType, code)
		if p == nil {
			if err := q.ignore(name, opts.Strict); err != nil {
				return nil, err
			}
			continue
		}
		clauses, err := parseClauses(p, modifier, hasModifier, values, opts.Base)
		if err != nil {
			return nil, err
		}
		q.Clauses = append(q.Clauses, clauses...)
		if len(q.Clauses) > MaxClauses {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueTooCostly, "",
				"The query has more than %d search parameters.", MaxClauses)
		}
	}

	if q.SummaryCount {
		q.Count = 0
	}
	return q, nil
}

// setResultParam applies _count, _offset, _total or _summary.
func (q *Query) setResultParam(code, v string, opts ParseOptions) error {
	switch code {
	case "_count":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalid(code, "The _count parameter must be a whole number, 0 or more.")
		}
		// https://hl7.org/fhir/R4/search.html#count: _count=0 is treated
		// as _summary=count.
		if n == 0 {
			q.SummaryCount = true
		}
		q.Count = min(n, opts.MaxCount)
	case "_offset":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalid(code, "The _offset parameter must be a whole number, 0 or more.")
		}
		q.Offset = n
	case "_total":
		switch t := Total(v); t {
		case TotalNone, TotalEstimate, TotalAccurate:
			q.Total = t
		default:
			return invalid(code, "The _total parameter must be none, estimate or accurate.")
		}
	case "_summary":
		switch v {
		case "count":
			q.SummaryCount = true
		case "false":
		case "true", "text", "data":
			if opts.Strict {
				return notSupported(code, "Only _summary=count and _summary=false are supported.")
			}
			q.Ignored = append(q.Ignored, code)
		default:
			if opts.Strict {
				return invalid(code, "The _summary parameter must be count or false.")
			}
			q.Ignored = append(q.Ignored, code)
		}
	}
	return nil
}

// ignore records an unsupported parameter, or rejects it when strict.
// maxIgnored bounds how many ignored parameters a result reports.
const maxIgnored = 20

func (q *Query) ignore(name string, strict bool) error {
	if strict {
		return notSupported(shortName(name), "The parameter %s is not supported for %s.",
			quoteName(name), q.Type)
	}
	if len(q.Ignored) < maxIgnored {
		q.Ignored = append(q.Ignored, shortName(name))
	}
	return nil
}

// invalid returns a 400 error with issue code "invalid" on parameter param.
func invalid(param, format string, args ...any) error {
	return resource.Errorf(http.StatusBadRequest, resource.IssueInvalid, param, format, args...)
}

// notSupported returns a 400 error with issue code "not-supported".
func notSupported(param, format string, args ...any) error {
	return resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, param,
		format, args...)
}

// shortName shortens a name taken from the request so that a long one is
// not echoed whole.
func shortName(s string) string {
	const limit = 40
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + "..."
	}
	return s
}

// quoteName quotes a shortened name taken from the request for a
// diagnostic.
func quoteName(s string) string { return strconv.Quote(shortName(s)) }
