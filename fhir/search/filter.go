package search

import "strings"

// Filter narrows a query to the resources that match at least one of its
// alternatives, each an AND of clauses. The server adds filters for access
// rules (a patient's compartment, a SMART scope's query, an insurer's
// claims); clients never write them. A Filter without alternatives
// matches nothing.
//
// Filters hold token, reference, uri and string clauses, and _id: the
// clauses [Filter.Match] can decide from a resource's search values alone.
type Filter [][]Clause

// Match reports whether the resource id with search values idx matches f,
// as a search carrying f would find it.
func (f Filter) Match(id string, idx Index) bool {
	for _, alt := range f {
		if matchAll(alt, id, idx) {
			return true
		}
	}
	return false
}

func matchAll(clauses []Clause, id string, idx Index) bool {
	for _, c := range clauses {
		if !matchClause(c, id, idx) {
			return false
		}
	}
	return true
}

// matchClause decides one clause the way the store's query does. A clause
// it cannot decide (a date) does not match, so a filter never widens.
func matchClause(c Clause, id string, idx Index) bool {
	if c.Param == nil {
		return false
	}
	keys := idx[c.Param.Code].Keys
	if c.Param.Code == "_id" {
		keys = []string{id}
	}
	if c.Modifier == ModifierMissing {
		return (len(keys) == 0) == c.Missing
	}
	switch c.Param.Type {
	case TypeToken, TypeReference, TypeURI:
		found := false
		for _, v := range c.Values {
			if contains(keys, v.Key) {
				found = true
				break
			}
		}
		switch c.Modifier {
		case ModifierNone:
			return found
		case ModifierNot:
			return !found
		}
	case TypeString:
		for _, v := range c.Values {
			switch c.Modifier {
			case ModifierNone:
				if anyKey(keys, func(k string) bool { return strings.HasPrefix(k, v.Key) }) {
					return true
				}
			case ModifierContains:
				if anyKey(keys, func(k string) bool { return strings.Contains(k, v.Key) }) {
					return true
				}
			case ModifierExact:
				if contains(idx[c.Param.Code].Exact, v.Key) {
					return true
				}
			}
		}
	}
	return false
}

func contains(keys []string, key string) bool {
	for _, k := range keys {
		if k == key {
			return true
		}
	}
	return false
}

func anyKey(keys []string, f func(string) bool) bool {
	for _, k := range keys {
		if f(k) {
			return true
		}
	}
	return false
}
