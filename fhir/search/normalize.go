package search

import (
	"strings"
)

// add normalizes one selected value n of parameter p into f, following the
// rules of https://hl7.org/fhir/R4/search.html for each parameter type.
// t is the term that selected n, for its reference target filter.
func (f *Field) add(p *Param, t term, n node, base string) error {
	switch p.Type {
	case TypeToken:
		f.addToken(n.v)
	case TypeReference:
		f.addReference(n.v, t.target, base)
	case TypeDate:
		return f.addDate(n)
	case TypeString:
		f.addString(n.v)
	case TypeURI:
		if s, ok := n.v.(string); ok && s != "" {
			f.Keys = appendUnique(f.Keys, s)
		}
	}
	return nil
}

// addToken indexes a code, string, id, uri or boolean primitive as its
// value, and a CodeableConcept, Coding or Identifier as its codings
// (https://hl7.org/fhir/R4/search.html#token). Other types add nothing.
func (f *Field) addToken(v any) {
	switch v := v.(type) {
	case string:
		if v != "" {
			f.Keys = appendUnique(f.Keys, v)
		}
	case bool:
		if v {
			f.Keys = appendUnique(f.Keys, "true")
		} else {
			f.Keys = appendUnique(f.Keys, "false")
		}
	case map[string]any:
		if codings, ok := v["coding"].([]any); ok {
			for _, c := range codings {
				if c, ok := c.(map[string]any); ok {
					system, _ := c["system"].(string)
					code, _ := c["code"].(string)
					f.addCoding(system, code)
				}
			}
			return
		}

		// A Coding has a code; an Identifier has a value instead.
		system, _ := v["system"].(string)
		code, ok := v["code"].(string)
		if !ok {
			code, _ = v["value"].(string)
		}
		f.addCoding(system, code)
	}
}

// addCoding adds the keys "code", "system|code" and "system|" of a coding
// with a system, and "code" and "|code" of one without.
func (f *Field) addCoding(system, code string) {
	if code != "" {
		f.Keys = appendUnique(f.Keys, code)
		f.Keys = appendUnique(f.Keys, system+"|"+code)
	}
	if system != "" {
		f.Keys = appendUnique(f.Keys, system+"|")
	}
}

// addReference indexes a Reference, or a uri or canonical used as one
// (https://hl7.org/fhir/R4/search.html#reference). Contained ("#id") and
// identifier-only references add nothing. With a target, only references
// known to point at that type are kept.
func (f *Field) addReference(v any, target, base string) {
	var ref, typ string
	switch v := v.(type) {
	case string:
		ref = v
	case map[string]any:
		ref, _ = v["reference"].(string)
		typ, _ = v["type"].(string)
	}
	if ref == "" || ref[0] == '#' {
		return
	}

	r := splitReference(ref, base)
	if target != "" {
		if r.typ != "" {
			typ = r.typ
		}
		if typ != target {
			return
		}
	}
	if r.id == "" {
		f.Keys = appendUnique(f.Keys, r.key)
		return
	}
	f.Keys = appendUnique(f.Keys, r.key)
	f.Keys = appendUnique(f.Keys, r.id)
}

// reference is a parsed reference: key is what a search matches ("Type/id"
// for a local reference, the URL as written for others); typ and id are
// set for local references, typ also for absolute RESTful URLs.
type reference struct {
	key, typ, id string
}

// splitReference parses ref. An absolute URL under base + "/" is local.
// A version ("/_history/n") is dropped from local references.
func splitReference(ref, base string) reference {
	if base != "" {
		if local, ok := strings.CutPrefix(ref, strings.TrimSuffix(base, "/")+"/"); ok {
			ref = local
		}
	}

	if isAbsolute(ref) {
		r := reference{key: ref}
		path := ref
		if i := strings.Index(path, "/_history/"); i >= 0 {
			path = path[:i]
		}
		parts := strings.Split(path, "/")
		if n := len(parts); n >= 3 && isTypeName(parts[n-2]) {
			r.typ = parts[n-2]
		}
		return r
	}

	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	typ, id, ok := strings.Cut(ref, "/")
	if !ok || !isTypeName(typ) || id == "" || strings.Contains(id, "/") {
		return reference{key: ref}
	}
	return reference{key: ref, typ: typ, id: id}
}

// isAbsolute reports whether ref has a URI scheme ("http:", "urn:").
func isAbsolute(ref string) bool {
	i := strings.IndexByte(ref, ':')
	j := strings.IndexByte(ref, '/')
	return i > 0 && (j < 0 || i < j)
}

// addDate indexes a date, dateTime, instant, Period or Timing as ranges
// (https://hl7.org/fhir/R4/search.html#date). Other types add nothing.
func (f *Field) addDate(n node) error {
	switch n.typ {
	case "", "Date", "DateTime", "Instant", "Period", "Timing":
	default:
		return nil
	}

	switch v := n.v.(type) {
	case string:
		r, err := parseDate(v)
		if err != nil {
			return err
		}
		f.Ranges = appendRange(f.Ranges, r)
	case map[string]any:
		start, hasStart := v["start"].(string)
		end, hasEnd := v["end"].(string)
		if hasStart || hasEnd {
			r := Range{Lo: MinTime, Hi: MaxTime}
			if hasStart {
				s, err := parseDate(start)
				if err != nil {
					return err
				}
				r.Lo = s.Lo
			}
			if hasEnd {
				e, err := parseDate(end)
				if err != nil {
					return err
				}
				r.Hi = e.Hi
			}
			f.Ranges = appendRange(f.Ranges, r)
			return nil
		}
		events, _ := v["event"].([]any)
		for _, e := range events {
			if e, ok := e.(string); ok {
				r, err := parseDate(e)
				if err != nil {
					return err
				}
				f.Ranges = appendRange(f.Ranges, r)
			}
		}
	}
	return nil
}

// nameParts are the string elements of HumanName and Address that a string
// parameter on a name or an address indexes.
var nameParts = []string{
	"family", "given", "prefix", "suffix", "text",
	"line", "city", "district", "state", "postalCode", "country",
}

// addString indexes a string primitive, a HumanName or an Address
// (https://hl7.org/fhir/R4/search.html#string): Keys folded, Exact as
// written.
func (f *Field) addString(v any) {
	switch v := v.(type) {
	case string:
		f.addText(v)
	case map[string]any:
		for _, k := range nameParts {
			switch e := v[k].(type) {
			case string:
				f.addText(e)
			case []any:
				for _, s := range e {
					if s, ok := s.(string); ok {
						f.addText(s)
					}
				}
			}
		}
	}
}

func (f *Field) addText(s string) {
	if s == "" {
		return
	}
	f.Keys = appendUnique(f.Keys, fold(s))
	f.Exact = appendUnique(f.Exact, s)
}

// appendUnique appends s unless list holds it. Fields are short, so a scan
// beats a map.
// Bounds on what one resource puts in the index of one parameter, so that
// the index of a large resource stays small next to its body and the work
// of building it linear. A value is cut to maxKeyLen bytes (a prefix, which
// string search still finds; an exact or token match on a longer value does
// not); values past maxKeys are left out of the index.
const (
	maxKeyLen = 256
	maxKeys   = 512
)

// appendUnique adds s to list unless it is there, within the bounds above.
func appendUnique(list []string, s string) []string {
	if len(s) > maxKeyLen {
		s = strings.ToValidUTF8(s[:maxKeyLen], "")
	}
	if len(list) >= maxKeys {
		return list
	}
	for _, e := range list {
		if e == s {
			return list
		}
	}
	return append(list, s)
}

func appendRange(list []Range, r Range) []Range {
	if len(list) >= maxKeys {
		return list
	}
	for _, e := range list {
		if e.Lo.Equal(r.Lo) && e.Hi.Equal(r.Hi) {
			return list
		}
	}
	return append(list, r)
}
