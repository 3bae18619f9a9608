package ehrtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// stored is one resource the EHR holds.
type stored struct {
	typ, id string
	version int
	updated time.Time
	body    map[string]any
}

// stamp returns the next lastUpdated: now at millisecond precision, never
// before the last one given, so that _lastUpdated orders what was added.
// Several resources may share one: real EHRs do that too. s.mu is held.
func (s *Server) stamp() time.Time {
	t := s.now().UTC().Truncate(time.Millisecond)
	if t.Before(s.lastStamp) {
		t = s.lastStamp
	}
	s.lastStamp = t
	return t
}

// Put adds or replaces a resource (JSON with resourceType and id) and
// stamps its meta.lastUpdated.
func (s *Server) Put(body []byte) error {
	m, err := decode(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(m)
}

func (s *Server) put(m map[string]any) error {
	typ, _ := m["resourceType"].(string)
	id, _ := m["id"].(string)
	if typ == "" || id == "" {
		return errors.New("ehrtest: a resource needs resourceType and id")
	}
	t := s.stamp()
	meta, _ := m["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	version := 1
	if old := s.data[typ][id]; old != nil {
		version = old.version + 1
	}
	meta["versionId"] = json.Number(fmt.Sprint(version))
	meta["lastUpdated"] = t.Format("2006-01-02T15:04:05.000Z07:00")
	m["meta"] = meta
	if s.data[typ] == nil {
		s.data[typ] = map[string]*stored{}
	}
	s.data[typ][id] = &stored{typ: typ, id: id, version: version, updated: t, body: m}
	return nil
}

// LoadBundle adds the resources of a transaction or collection Bundle,
// as Synthea writes them: ids from the resources, or from urn:uuid
// fullUrls, and every reference to a fullUrl rewritten to Type/id. In a
// transaction, a conditional reference (Type?identifier=system|value) is
// resolved as a FHIR server processing the transaction resolves it
// (https://hl7.org/fhir/R4/http.html#trules): to the one resource of that
// type, held by the EHR or in the Bundle, with that identifier. One that
// matches none or several, searches by anything but identifier, or sits
// in a Bundle other than a transaction refuses the whole Bundle: nothing
// of it is added. A Bundle with ExplanationOfBenefits and no Coverage
// (Synthea's) also gets the Coverages its claims imply, payer and period
// by date of service (see deriveCoverages). It returns how many resources
// it added.
func (s *Server) LoadBundle(data []byte) (int, error) {
	b, err := decode(data)
	if err != nil {
		return 0, err
	}
	entries, _ := b["entry"].([]any)
	refs := map[string]string{}
	var res []map[string]any
	for _, e := range entries {
		em, _ := e.(map[string]any)
		r, _ := em["resource"].(map[string]any)
		if r == nil {
			continue
		}
		typ, _ := r["resourceType"].(string)
		id, _ := r["id"].(string)
		full, _ := em["fullUrl"].(string)
		if id == "" {
			id = strings.TrimPrefix(full, "urn:uuid:")
			r["id"] = id
		}
		if typ == "" || id == "" {
			return 0, errors.New("ehrtest: a resource needs resourceType and id")
		}
		if full != "" {
			refs[full] = typ + "/" + id
		}
		res = append(res, r)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	br := &bundleRefs{fullURLs: refs, transaction: b["type"] == "transaction", held: s.data,
		bundle: res, resolved: map[string]string{}}
	if s.url != "" {
		br.base = s.url + "/fhir/"
	}
	hasCoverage := false
	for _, r := range res {
		typ := r["resourceType"].(string)
		if err := br.rewrite(r, typ); err != nil {
			return 0, fmt.Errorf("ehrtest: %s/%s: %w", typ, r["id"], err)
		}
		hasCoverage = hasCoverage || typ == "Coverage"
	}
	if !hasCoverage {
		res = append(res, deriveCoverages(res)...)
	}
	for _, r := range res {
		if err := s.put(r); err != nil {
			return 0, err
		}
	}
	return len(res), nil
}

// LoadDir loads every *.json Bundle in dir, in name order.
func (s *Server) LoadDir(dir string) (files, resources int, err error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return 0, 0, err
	}
	sort.Strings(names)
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return files, resources, err
		}
		k, err := s.LoadBundle(data)
		if err != nil {
			return files, resources, fmt.Errorf("%s: %w", filepath.Base(n), err)
		}
		files++
		resources += k
	}
	return files, resources, nil
}

// Count returns how many resources of typ the EHR holds.
func (s *Server) Count(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.data[typ])
}

// IDs returns the ids of the resources of typ, sorted.
func (s *Server) IDs(typ string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.data[typ] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Resource returns a copy of typ/id as JSON, or nil.
func (s *Server) Resource(typ, id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.data[typ][id]
	if r == nil {
		return nil
	}
	b, _ := json.Marshal(r.body)
	return b
}

func decode(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("ehrtest: not a JSON object: %w", err)
	}
	return m, nil
}
