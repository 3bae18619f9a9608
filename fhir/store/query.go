package store

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/search"
)

// filter is a search query translated for the database.
type filter struct {
	// db selects current, non-deleted documents.
	db bson.D
	// exact lists the date clauses db only approximates (a superset), to
	// check again on each document: date eq on FerretDB, which cannot
	// match two conditions on one array element ($elemMatch), or on
	// packed ranges, which have no elements.
	exact []search.Clause
}

// translate turns a query into a filter. The clauses are ANDed; the
// values of a clause are ORed.
func (s *Store) translate(q *search.Query) (*filter, error) {
	f := &filter{}
	var and bson.A
	for _, c := range q.Clauses {
		cond, approx, err := s.clause(c)
		if err != nil {
			return nil, err
		}
		if approx {
			f.exact = append(f.exact, c)
		}
		and = append(and, cond)
	}
	for _, flt := range q.Filters {
		cond, err := s.filterCond(flt, "_id")
		if err != nil {
			return nil, err
		}
		and = append(and, cond)
	}
	f.db = allOf(bson.D{{Key: "del", Value: false}}, and)
	return f, nil
}

// allOf ANDs conditions with base, each at the top level where its field
// is not there yet, the others under one $and; the conditions of a $and
// among them are taken one by one. FerretDB evaluates a nested operator
// per document it scans at a cost of its own (it tracks each iterator it
// opens over the filter, with a stack trace), and the server at hand
// scans a collection for every search.
func allOf(base bson.D, conds bson.A) bson.D {
	var and bson.A
	for len(conds) > 0 {
		cond := conds[0].(bson.D)
		conds = conds[1:]
		switch {
		case len(cond) == 1 && cond[0].Key == "$and":
			conds = append(cond[0].Value.(bson.A), conds...)
		case len(cond) != 1 || slices.ContainsFunc(base, sameKey(cond[0])):
			and = append(and, cond)
		default:
			base = append(base, cond[0])
		}
	}
	if len(and) > 0 {
		base = append(base, bson.E{Key: "$and", Value: and})
	}
	return base
}

// sameKey returns a test for elements with the key of e.
func sameKey(e bson.E) func(bson.E) bool {
	return func(o bson.E) bool { return o.Key == e.Key }
}

// filterCond translates an access filter: an OR of ANDs of clauses. Its
// clauses must be exact (no FerretDB date approximation), as
// [search.Filter] promises; an empty filter matches nothing. idField is
// the field holding the resource id: "_id", or "id" in a history.
func (s *Store) filterCond(flt search.Filter, idField string) (bson.D, error) {
	if len(flt) == 0 {
		return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{}}}}}, nil
	}
	or := make(bson.A, 0, len(flt))
	for _, alt := range flt {
		all := bson.A{}
		for _, c := range alt {
			cond, approx, err := s.clause(c)
			if c.Param != nil && c.Param.Code == "_id" && c.Modifier == search.ModifierNone {
				cond, approx, err = keyCond(idField, c)
			}
			if err != nil {
				return nil, err
			}
			if approx {
				return nil, fmt.Errorf("search: filter clause %s is not exact", c.Param.Code)
			}
			all = append(all, cond)
		}
		if len(all) == 0 {
			return bson.D{}, nil // an empty alternative matches everything
		}
		or = append(or, allOf(nil, all))
	}
	return anyOf(or), nil
}

// clause translates one clause. It reports whether the condition is only
// a superset of the clause.
func (s *Store) clause(c search.Clause) (bson.D, bool, error) {
	p := c.Param
	if p == nil {
		return nil, false, fmt.Errorf("search: clause without parameter")
	}

	if c.Modifier == search.ModifierMissing {
		return s.missingCond(p, c.Missing), false, nil
	}
	if len(c.Values) == 0 {
		return nil, false, unsupported(p.Code, "a search parameter needs a value")
	}

	switch {
	case p.Code == "_id":
		return keyCond("_id", c)
	case p.Code == "_lastUpdated":
		if c.Modifier != search.ModifierNone {
			return nil, false, badModifier(c)
		}
		return dateCond(dateField{lo: "ts", point: true}, c.Values, false), false, nil
	}

	field := "s." + p.Code
	switch p.Type {
	case search.TypeToken, search.TypeReference, search.TypeURI:
		if s.packed {
			return packedKeyCond(c)
		}
		return keyCond(field+".k", c)
	case search.TypeString:
		if s.packed {
			return packedStringCond(c)
		}
		return stringCond(field, c)
	case search.TypeDate:
		if c.Modifier != search.ModifierNone {
			return nil, false, badModifier(c)
		}
		df := dateField{elem: field + ".r", lo: field + ".r.lo", hi: field + ".r.hi"}
		if s.packed {
			df = dateField{lo: loPrefix + p.Code, hi: hiPrefix + p.Code}
		}
		// Packed ranges have no elements to match two conditions on.
		approx := (s.ferret || s.packed) && hasEq(c.Values)
		return dateCond(df, c.Values, approx), approx, nil
	}
	return nil, false, unsupported(p.Code, "parameter type "+string(p.Type)+" is not supported")
}

// missingCond matches the resources without a value of p (missing), or
// with one.
func (s *Store) missingCond(p *search.Param, missing bool) bson.D {
	field := "s." + p.Code
	switch {
	case p.Code == "_id" || p.Code == "_lastUpdated":
		field = "_id" // always there
	case s.packed && p.Type == search.TypeDate:
		field = loPrefix + p.Code
	case s.packed:
		if missing {
			return not(packedCond(p.Code, reKey, "", nil, ""))
		}
		return packedCond(p.Code, reKey, "", nil, "")
	}
	return bson.D{{Key: field, Value: bson.D{{Key: "$exists", Value: !missing}}}}
}

// keyCond matches keys exactly (token, reference, uri, _id).
func keyCond(field string, c search.Clause) (bson.D, bool, error) {
	keys := make(bson.A, len(c.Values))
	for i, v := range c.Values {
		keys[i] = v.Key
	}
	switch c.Modifier {
	case search.ModifierNone:
		return in(field, keys), false, nil
	case search.ModifierNot:
		// $nin also matches documents without the field, as :not should.
		return bson.D{{Key: field, Value: bson.D{{Key: "$nin", Value: keys}}}}, false, nil
	}
	return nil, false, badModifier(c)
}

// packedKeyCond is keyCond on packed keys.
func packedKeyCond(c search.Clause) (bson.D, bool, error) {
	cond := packedCond(c.Param.Code, reKey, "", valueKeys(c), reEnd)
	switch c.Modifier {
	case search.ModifierNone:
		return cond, false, nil
	case search.ModifierNot:
		return not(cond), false, nil
	}
	return nil, false, badModifier(c)
}

// stringCond matches folded keys by prefix (default) or anywhere
// (:contains), or the values as written (:exact).
func stringCond(field string, c search.Clause) (bson.D, bool, error) {
	var or bson.A
	for _, v := range c.Values {
		switch c.Modifier {
		case search.ModifierNone:
			or = append(or, regexCond(field+".k", "^"+regexp.QuoteMeta(v.Key)))
		case search.ModifierContains:
			or = append(or, regexCond(field+".k", regexp.QuoteMeta(v.Key)))
		case search.ModifierExact:
			or = append(or, bson.D{{Key: field + ".x", Value: v.Key}})
		default:
			return nil, false, badModifier(c)
		}
	}
	return anyOf(or), false, nil
}

// packedStringCond is stringCond on packed keys: one regular expression
// for all the values.
func packedStringCond(c search.Clause) (bson.D, bool, error) {
	code, alts := c.Param.Code, valueKeys(c)
	switch c.Modifier {
	case search.ModifierNone:
		return packedCond(code, reKey, "", alts, ""), false, nil
	case search.ModifierContains:
		return packedCond(code, reKey, reInEntry, alts, ""), false, nil
	case search.ModifierExact:
		return packedCond(code, reExact, "", alts, reEnd), false, nil
	}
	return nil, false, badModifier(c)
}

// regexCond matches a regular expression.
func regexCond(field, pattern string) bson.D {
	return bson.D{{Key: field, Value: bson.Regex{Pattern: pattern}}}
}

// in matches one of keys.
func in(field string, keys bson.A) bson.D {
	if len(keys) == 1 {
		return bson.D{{Key: field, Value: keys[0]}}
	}
	return bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: keys}}}}
}

// anyOf ORs conditions.
func anyOf(conds bson.A) bson.D {
	if len(conds) == 1 {
		return conds[0].(bson.D)
	}
	return bson.D{{Key: "$or", Value: conds}}
}

// badModifier is the client error for a modifier a clause cannot take.
func badModifier(c search.Clause) error {
	return unsupported(c.Param.Code, "modifier :"+string(c.Modifier)+" is not supported here")
}

// unsupported is the client error for a clause the store cannot serve.
func unsupported(code, detail string) error {
	return resource.Errorf(http.StatusBadRequest, resource.IssueNotSupported, "",
		"search parameter %s: %s", code, detail)
}

// dateField names the stored ranges of a date parameter: the array of
// {lo, hi} elements (elem; none when packed), their starts and their
// ends, or, for _lastUpdated (point), the instant ts whose range is
// [ts, ts+1ms).
type dateField struct {
	elem, lo, hi string
	point        bool
}

// dateCond translates date values, per the prefixes of
// https://hl7.org/fhir/R4/search.html#prefix, with [plo, phi) the range of
// the value and [lo, hi) a stored range: a resource matches when one of
// its ranges does (any element of the array). Only eq needs two
// conditions on one element; approx (FerretDB) replaces that
// $elemMatch, which FerretDB v1 cannot run, by two conditions on any
// elements, a superset that the caller checks again.
func dateCond(f dateField, values []search.Value, approx bool) bson.D {
	or := make(bson.A, 0, len(values))
	for _, v := range values {
		plo, phi := v.Range.Lo.UTC(), v.Range.Hi.UTC()
		var c bson.D
		switch v.Prefix {
		case search.PrefixNe: // the value does not contain the range
			c = anyOf(bson.A{f.loCmp("$lt", plo), f.hiCmp("$gt", phi)})
		case search.PrefixGt:
			c = f.hiCmp("$gt", phi)
		case search.PrefixLt:
			c = f.loCmp("$lt", plo)
		case search.PrefixGe:
			c = anyOf(bson.A{f.loCmp("$gte", plo), f.hiCmp("$gt", phi)})
		case search.PrefixLe:
			c = anyOf(bson.A{f.hiCmp("$lte", phi), f.loCmp("$lt", plo)})
		case search.PrefixSa:
			c = f.loCmp("$gte", phi)
		case search.PrefixEb:
			c = f.hiCmp("$lte", plo)
		default: // eq: the value contains the range
			if f.point || approx {
				c = bson.D{{Key: "$and", Value: bson.A{f.loCmp("$gte", plo), f.hiCmp("$lte", phi)}}}
			} else {
				c = bson.D{{Key: f.elem, Value: bson.D{{Key: "$elemMatch", Value: bson.D{
					{Key: "lo", Value: bson.D{{Key: "$gte", Value: plo}}},
					{Key: "hi", Value: bson.D{{Key: "$lte", Value: phi}}},
				}}}}}
			}
		}
		or = append(or, c)
	}
	return anyOf(or)
}

// loCmp compares the start of a stored range with t.
func (f dateField) loCmp(op string, t time.Time) bson.D {
	return bson.D{{Key: f.lo, Value: bson.D{{Key: op, Value: t}}}}
}

// hiCmp compares the end of a stored range with t; for a point ts,
// ts+1ms op t is ts op t-1ms.
func (f dateField) hiCmp(op string, t time.Time) bson.D {
	if f.point {
		return bson.D{{Key: f.lo, Value: bson.D{{Key: op, Value: t.Add(-time.Millisecond)}}}}
	}
	return bson.D{{Key: f.hi, Value: bson.D{{Key: op, Value: t}}}}
}

// hasEq reports whether a value has the eq prefix.
func hasEq(values []search.Value) bool {
	for _, v := range values {
		if v.Prefix == search.PrefixEq || v.Prefix == "" {
			return true
		}
	}
	return false
}

// match reports whether the search values of a current document satisfy
// every exact clause.
func (f *filter) match(d *doc) bool {
	for _, c := range f.exact {
		if !matchDates(c.Values, d.ranges(c.Param.Code)) {
			return false
		}
	}
	return true
}

// exactFields projects a current document onto what a search reads of
// it and the ranges that match checks.
func (s *Store) exactFields(f *filter) bson.D {
	fields := slices.Clone(currentFields)
	seen := map[string]bool{}
	for _, c := range f.exact {
		if seen[c.Param.Code] {
			continue
		}
		seen[c.Param.Code] = true
		if s.packed {
			fields = append(fields, bson.E{Key: loPrefix + c.Param.Code, Value: 1},
				bson.E{Key: hiPrefix + c.Param.Code, Value: 1})
		} else {
			fields = append(fields, bson.E{Key: "s." + c.Param.Code + ".r", Value: 1})
		}
	}
	return fields
}

// matchDates reports whether one of ranges matches one of values, as
// dateCond's filter does.
func matchDates(values []search.Value, ranges []search.Range) bool {
	for _, v := range values {
		plo, phi := v.Range.Lo.Truncate(time.Millisecond), v.Range.Hi.Truncate(time.Millisecond)
		for _, r := range ranges {
			if matchRange(v.Prefix, plo, phi, r.Lo, r.Hi) {
				return true
			}
		}
	}
	return false
}

// matchRange applies a prefix to the value [plo, phi) and the stored
// range [lo, hi).
func matchRange(p search.Prefix, plo, phi, lo, hi time.Time) bool {
	switch p {
	case search.PrefixNe:
		return lo.Before(plo) || hi.After(phi)
	case search.PrefixGt:
		return hi.After(phi)
	case search.PrefixLt:
		return lo.Before(plo)
	case search.PrefixGe:
		return !lo.Before(plo) || hi.After(phi)
	case search.PrefixLe:
		return !hi.After(phi) || lo.Before(plo)
	case search.PrefixSa:
		return !lo.Before(phi)
	case search.PrefixEb:
		return !hi.After(plo)
	}
	return !lo.Before(plo) && !hi.After(phi)
}
