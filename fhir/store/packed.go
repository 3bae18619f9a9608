package store

// The packed form of search values, for FerretDB v1. It scans the
// collection for every query other than {_id: value}, decoding each
// document into values one by one (its sjson keeps a schema entry per
// array element), so the time of a search grows with the number of
// values a document holds more than with its bytes. On a loaded 2-core
// machine, a search scanned 10,000 current documents of Claims with 11
// keys and a date in 1.05 s with the keys as s: {<code>: [keys]} arrays,
// in 0.48 s with them in one string.
//
// So every key of a document goes into one string k, each entry closed
// by US (\x1f) and the string opened by one:
//
//	\x1f<code>\x1e<key>\x1f<code>\x1e<key>\x1f...
//
// with RS (\x1e) after the code for the keys of token, reference, uri
// and string parameters (folded), and GS (\x1d) for string values as
// written (:exact). A clause is then one regular expression on k, which
// FerretDB runs in Go; codes and keys are quoted, and the three
// separators, which FHIR forbids in strings, are replaced by FS (\x1c)
// in both. Dates stay comparable: lo_<code> and hi_<code> list the
// starts and the ends of the ranges of one date parameter, in the same
// order.
//
// MongoDB cannot serve such a regular expression from an index, so it
// keeps the arrays (see doc.go).

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/fhirbill/fhirbill/fhir/search"
)

// The separators of k, as bytes and as regular-expression escapes.
const (
	entryEnd  = "\x1f"
	keySep    = "\x1e"
	exactSep  = "\x1d"
	reEnd     = `\x1f`
	reKey     = `\x1e`
	reExact   = `\x1d`
	reInEntry = `[^\x1f]*`
)

// The field name prefixes of the starts and ends of date ranges.
const (
	loPrefix = "lo_"
	hiPrefix = "hi_"
)

// separators replaces the separators of k where they would be taken for
// one.
var separators = strings.NewReplacer(entryEnd, "\x1c", keySep, "\x1c", exactSep, "\x1c")

// packKeys returns k for the keys of idx, "" when there are none.
func packKeys(idx search.Index) string {
	var b strings.Builder
	for _, code := range sortedCodes(idx) {
		f := idx[code]
		c := separators.Replace(code)
		for _, k := range f.Keys {
			b.WriteString(c + keySep + separators.Replace(k) + entryEnd)
		}
		for _, x := range f.Exact {
			b.WriteString(c + exactSep + separators.Replace(x) + entryEnd)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return entryEnd + b.String()
}

// packDates returns lo_<code> and hi_<code> for the date ranges of idx,
// nil when there are none.
func packDates(idx search.Index) map[string][]time.Time {
	var m map[string][]time.Time
	for code, f := range idx {
		if len(f.Ranges) == 0 {
			continue
		}
		if m == nil {
			m = map[string][]time.Time{}
		}
		lo, hi := make([]time.Time, len(f.Ranges)), make([]time.Time, len(f.Ranges))
		for i, r := range f.Ranges {
			lo[i], hi[i] = r.Lo.UTC(), r.Hi.UTC()
		}
		m[loPrefix+code], m[hiPrefix+code] = lo, hi
	}
	return m
}

// sortedCodes returns the codes of idx in order, so that k does not
// depend on map order.
func sortedCodes(idx search.Index) []string {
	codes := make([]string, 0, len(idx))
	for c := range idx {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

// packedCond matches entries of k: those of code after sep whose text,
// quoted, matches one of the alternatives (nil: any entry of code).
// prefix and suffix surround the alternatives.
func packedCond(code, sep, prefix string, alts []string, suffix string) bson.D {
	var b strings.Builder
	b.WriteString(reEnd + regexp.QuoteMeta(separators.Replace(code)) + sep + prefix)
	// FerretDB compiles the expression again for every document: one
	// value goes without a group.
	if len(alts) > 1 {
		b.WriteString("(?:")
	}
	for i, a := range alts {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(regexp.QuoteMeta(separators.Replace(a)))
	}
	if len(alts) > 1 {
		b.WriteString(")")
	}
	b.WriteString(suffix)
	return bson.D{{Key: "k", Value: bson.Regex{Pattern: b.String()}}}
}

// not negates a condition on k; like $nin, it also matches a document
// without k.
func not(cond bson.D) bson.D {
	return bson.D{{Key: "k", Value: bson.D{{Key: "$not", Value: cond[0].Value}}}}
}

// valueKeys returns the keys of the values of a clause.
func valueKeys(c search.Clause) []string {
	keys := make([]string, len(c.Values))
	for i, v := range c.Values {
		keys[i] = v.Key
	}
	return keys
}
