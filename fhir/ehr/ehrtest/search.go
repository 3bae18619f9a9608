package ehrtest

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// refParams are the reference search parameters, by type: parameter →
// element holding the reference.
var refParams = map[string]map[string]string{
	"Encounter": {"patient": "subject", "subject": "subject"},
	"Condition": {"patient": "subject", "subject": "subject", "encounter": "encounter"},
	"Procedure": {"patient": "subject", "subject": "subject", "encounter": "encounter"},
	"Coverage":  {"patient": "beneficiary", "beneficiary": "beneficiary"},
}

// maxCount bounds _count.
const maxCount = 500

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
		"fhirVersion": "4.0.1", "format": []string{"json"},
		"date": "2026-01-01",
	})
}

func (s *Server) handleRead(w http.ResponseWriter, r *http.Request) int {
	s.mu.Lock()
	res := s.data[r.PathValue("type")][r.PathValue("id")]
	var body map[string]any
	if res != nil {
		body = res.body
	}
	s.mu.Unlock()
	if body == nil {
		writeOutcome(w, http.StatusNotFound, "not-found", "no such resource")
		return http.StatusNotFound
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	writeJSON(w, http.StatusOK, body)
	return http.StatusOK
}

// handleSearch serves GET [base]/[type]?params, sorted by _lastUpdated
// then id, paged by _count with _offset in the next link. Parameters:
// _id, _lastUpdated (eq, gt, ge, lt, le; repeatable), status, the
// reference parameters of refParams (comma for OR, Type/id or id),
// _count, _sort (_lastUpdated only). Others are refused with a 400.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) int {
	typ := r.PathValue("type")
	q := r.URL.Query()
	match, count, offset, err := s.compile(typ, q)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "not-supported", err.Error())
		return http.StatusBadRequest
	}

	s.mu.Lock()
	var hits []*stored
	for _, res := range s.data[typ] {
		if match(res) {
			hits = append(hits, res)
		}
	}
	base := s.url + "/fhir"
	s.mu.Unlock()
	sort.Slice(hits, func(i, j int) bool {
		if !hits[i].updated.Equal(hits[j].updated) {
			return hits[i].updated.Before(hits[j].updated)
		}
		return hits[i].id < hits[j].id
	})

	total := len(hits)
	page := hits[min(offset, total):min(offset+count, total)]
	self := base + "/" + typ + "?" + r.URL.RawQuery
	links := []any{map[string]any{"relation": "self", "url": self}}
	if offset+count < total {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("_offset", strconv.Itoa(offset+count))
		nq.Set("_count", strconv.Itoa(count))
		links = append(links, map[string]any{"relation": "next", "url": base + "/" + typ + "?" + nq.Encode()})
	}
	entries := make([]any, 0, len(page))
	s.mu.Lock()
	for _, res := range page {
		entries = append(entries, map[string]any{
			"fullUrl":  base + "/" + res.typ + "/" + res.id,
			"resource": res.body,
			"search":   map[string]any{"mode": "match"},
		})
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/fhir+json")
	writeJSON(w, http.StatusOK, map[string]any{
		"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": entries,
	})
	return http.StatusOK
}

// compile turns the query into a filter.
func (s *Server) compile(typ string, q url.Values) (func(*stored) bool, int, int, error) {
	var tests []func(*stored) bool
	count, offset := 50, 0
	for k, vals := range q {
		for _, v := range vals {
			switch k {
			case "_count":
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					return nil, 0, 0, fmt.Errorf("_count must be a positive integer")
				}
				count = min(n, maxCount)
			case "_offset":
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return nil, 0, 0, fmt.Errorf("_offset must be a non-negative integer")
				}
				offset = n
			case "_sort":
				if v != "_lastUpdated" {
					return nil, 0, 0, fmt.Errorf("only _sort=_lastUpdated is supported")
				}
			case "_id":
				set := setOf(strings.Split(v, ","))
				tests = append(tests, func(r *stored) bool { return set[r.id] })
			case "status":
				set := setOf(strings.Split(v, ","))
				tests = append(tests, func(r *stored) bool { st, _ := r.body["status"].(string); return set[st] })
			case "_lastUpdated":
				t, err := lastUpdated(v)
				if err != nil {
					return nil, 0, 0, err
				}
				tests = append(tests, t)
			default:
				elem, ok := refParams[typ][k]
				if !ok {
					return nil, 0, 0, fmt.Errorf("search parameter %q is not supported", k)
				}
				set := map[string]bool{}
				for _, x := range strings.Split(v, ",") {
					set[x[strings.LastIndex(x, "/")+1:]] = true
				}
				tests = append(tests, func(r *stored) bool {
					ref, _ := r.body[elem].(map[string]any)
					s, _ := ref["reference"].(string)
					return s != "" && set[s[strings.LastIndex(s, "/")+1:]]
				})
			}
		}
	}
	return func(r *stored) bool {
		for _, t := range tests {
			if !t(r) {
				return false
			}
		}
		return true
	}, count, offset, nil
}

// lastUpdated compiles one _lastUpdated value: a prefix and an instant.
func lastUpdated(v string) (func(*stored) bool, error) {
	prefix := "eq"
	if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
		prefix, v = v[:2], v[2:]
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, fmt.Errorf("_lastUpdated needs an instant such as 2026-01-02T03:04:05.678Z")
	}
	switch prefix {
	case "eq":
		return func(r *stored) bool { return r.updated.Equal(t) }, nil
	case "gt":
		return func(r *stored) bool { return r.updated.After(t) }, nil
	case "ge":
		return func(r *stored) bool { return !r.updated.Before(t) }, nil
	case "lt":
		return func(r *stored) bool { return r.updated.Before(t) }, nil
	case "le":
		return func(r *stored) bool { return !r.updated.After(t) }, nil
	}
	return nil, fmt.Errorf("_lastUpdated prefix %q is not supported", prefix)
}

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
