package search

import (
	"net/http"
	"slices"
	"strings"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// parseClauses parses the values of one parameter name ("code" or
// "code:modifier"): one Clause per repetition, one Value per
// comma-separated part.
func parseClauses(
	p *Param,
	modifier string,
	hasModifier bool,
	values []string,
	base string,
) ([]Clause, error) {
	mod, typeModifier, err := checkModifier(p, modifier, hasModifier)
	if err != nil {
		return nil, err
	}

	clauses := make([]Clause, 0, len(values))
	for _, raw := range values {
		if raw == "" {
			return nil, badValue(p, "The %s parameter has an empty value.")
		}
		if strings.ContainsFunc(raw, isControl) {
			return nil, badValue(p, "The %s parameter has a control character in its value.")
		}
		c := Clause{Param: p, Modifier: mod}

		if mod == ModifierMissing {
			switch raw {
			case "true":
				c.Missing = true
			case "false":
			default:
				return nil, badValue(p, "The :missing modifier of %s takes true or false.")
			}
			clauses = append(clauses, c)
			continue
		}

		parts := splitEscaped(raw, ',')
		if len(parts) > MaxValues {
			return nil, resource.Errorf(http.StatusBadRequest, resource.IssueTooCostly, p.Code,
				"The %s parameter lists more than %d values.", p.Code, MaxValues)
		}
		for _, part := range parts {
			if part == "" {
				return nil, badValue(p, "The %s parameter has an empty value in its list.")
			}
			v, err := parseValue(p, mod, typeModifier, part, base)
			if err != nil {
				return nil, err
			}
			c.Values = append(c.Values, v)
		}
		clauses = append(clauses, c)
	}
	return clauses, nil
}

// checkModifier validates a modifier against the parameter type
// (https://hl7.org/fhir/R4/search.html#modifiers). A resource type
// modifier of a reference parameter is returned as typeModifier.
func checkModifier(p *Param, modifier string, hasModifier bool) (Modifier, string, error) {
	if !hasModifier {
		return ModifierNone, "", nil
	}

	switch m := Modifier(modifier); {
	case m == ModifierMissing:
		return m, "", nil
	case (m == ModifierExact || m == ModifierContains) && p.Type == TypeString:
		return m, "", nil
	case m == ModifierNot && p.Type == TypeToken:
		return m, "", nil
	case p.Type == TypeReference && isTypeName(modifier) &&
		(len(p.Targets) == 0 || slices.Contains(p.Targets, modifier)):
		return ModifierNone, modifier, nil
	}
	return "", "", notSupported(p.Code, "The modifier %s is not supported on the %s parameter.",
		quoteName(":"+modifier), p.Code)
}

// parseValue parses one value of a clause (still escaped).
func parseValue(p *Param, mod Modifier, typeModifier, part, base string) (Value, error) {
	v := Value{Prefix: PrefixEq}
	switch p.Type {
	case TypeToken:
		if p.Code == "_id" {
			v.Key = unescape(part)
			return v, nil
		}
		system, code, hasSystem := cutEscaped(part, '|')
		if !hasSystem {
			v.Key = unescape(part)
			return v, nil
		}
		if system == "" && code == "" {
			return v, badValue(p, "A value of the %s parameter needs a system or a code.")
		}
		v.Key = unescape(system) + "|" + unescape(code)

	case TypeReference:
		key, err := referenceKey(p, typeModifier, unescape(part), base)
		if err != nil {
			return v, err
		}
		v.Key = key

	case TypeDate:
		s := unescape(part)
		if len(s) >= 2 && isLower(s[0]) && isLower(s[1]) {
			switch pre := Prefix(s[:2]); pre {
			case PrefixEq, PrefixNe, PrefixGt, PrefixLt, PrefixGe, PrefixLe, PrefixSa, PrefixEb:
				v.Prefix, s = pre, s[2:]
			case "ap":
				return v, unsupportedValue(p, "The ap prefix is not supported on the %s parameter.")
			default:
				return v, badValue(p, "A value of the %s parameter has an unknown prefix.")
			}
		}
		r, err := parseDate(s)
		if err != nil {
			return v, badValue(p, "A value of the %s parameter is not a FHIR date or dateTime.")
		}
		v.Range = r

	case TypeString:
		if mod == ModifierExact {
			v.Key = unescape(part)
		} else {
			v.Key = fold(unescape(part))
		}

	case TypeURI:
		v.Key = unescape(part)
	}
	return v, nil
}

// referenceKey normalizes a reference value to the key extraction indexes
// (https://hl7.org/fhir/R4/search.html#reference): "Type/id" for a local
// reference, "Target/id" for a bare id of a single-target parameter, the
// bare id otherwise, and other absolute URLs as written.
func referenceKey(p *Param, typeModifier, s, base string) (string, error) {
	if typeModifier != "" && !strings.HasPrefix(s, typeModifier+"/") {
		if strings.Contains(s, "/") {
			return "", badValue(p, "With a resource type modifier, the %s parameter takes an id.")
		}
		s = typeModifier + "/" + s
	}

	key := splitReference(s, base).key
	if len(p.Targets) == 1 && !isAbsolute(key) && !strings.Contains(key, "/") {
		return p.Targets[0] + "/" + key, nil
	}
	return key, nil
}

// badValue returns an "invalid" error on p; format has one %s, the code.
func badValue(p *Param, format string) error { return invalid(p.Code, format, p.Code) }

// unsupportedValue returns a "not-supported" error on p; format has one %s,
// the code.
func unsupportedValue(p *Param, format string) error {
	return notSupported(p.Code, format, p.Code)
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

// isControl reports the characters no search value may hold: C0 controls
// (NUL cannot even be sent to MongoDB in a pattern) and DEL.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// MaxValues bounds the values of one parameter (comma-separated, ORed) and
// MaxClauses the parameters of one query, so that one request cannot ask
// for an unbounded amount of work.
const (
	MaxValues  = 500
	MaxClauses = 100
)

// splitEscaped splits s at each sep not escaped by a backslash
// (https://hl7.org/fhir/R4/search.html#escaping). The parts keep their
// escapes.
func splitEscaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// cutEscaped cuts s around the first sep not escaped by a backslash.
func cutEscaped(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// unescape removes the backslash of "\,", "\|", "\$" and "\\". Other
// backslashes are kept.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`,|$\`, s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
