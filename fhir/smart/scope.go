package smart

import (
	"net/url"
	"regexp"
	"strings"
)

// perm is a set of SMART v2 permissions: create, read, update, delete,
// search (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).
type perm uint8

const (
	permC perm = 1 << iota
	permR
	permU
	permD
	permS
)

// v2Order is the order v2 permissions must be written in.
const v2Order = "cruds"

// Scope is one SMART clinical scope: patient/Invoice.rs?status=issued.
type Scope struct {
	// Level is patient, user or system.
	Level string
	// Type is a resource type, or "*" for every type.
	Type string
	// perms are the permissions granted; SMART v1 read is rs, write cud,
	// * cruds.
	perms perm
	// Query restricts a v2 scope to the resources matching it; nil for
	// none.
	Query url.Values
	// Raw is the scope as written.
	Raw string
}

// scopeSyntax is a clinical scope: level/type.permissions[?query].
var scopeSyntax = regexp.MustCompile(`^(patient|user|system)/(\*|[A-Z][A-Za-z]{0,63})\.([a-z*]{1,5})(\?.+)?$`)

// ParseScope reads one clinical scope. It reports false for any other
// scope (openid, launch/patient, offline_access, ...) and for malformed
// ones: v2 permissions out of order or repeated, a query on a v1 scope.
func ParseScope(raw string) (Scope, bool) {
	m := scopeSyntax.FindStringSubmatch(raw)
	if m == nil {
		return Scope{}, false
	}
	sc := Scope{Level: m[1], Type: m[2], Raw: raw}
	v1 := true
	switch m[3] {
	case "read":
		sc.perms = permR | permS
	case "write":
		sc.perms = permC | permU | permD
	case "*":
		sc.perms = permC | permR | permU | permD | permS
	default:
		v1 = false
		last := -1
		for _, ch := range m[3] {
			i := strings.IndexRune(v2Order, ch)
			if i <= last {
				return Scope{}, false
			}
			last = i
			sc.perms |= 1 << i
		}
	}
	if m[4] != "" {
		if v1 {
			return Scope{}, false
		}
		q, err := url.ParseQuery(m[4][1:])
		if err != nil || len(q) == 0 {
			return Scope{}, false
		}
		sc.Query = q
	}
	return sc, true
}

// ParseScopes reads the clinical scopes of a space-separated scope string
// and leaves the others out.
func ParseScopes(s string) []Scope {
	var out []Scope
	for _, f := range strings.Fields(s) {
		if sc, ok := ParseScope(f); ok {
			out = append(out, sc)
		}
	}
	return out
}

// covers reports whether sc grants at least what want asks: the same
// level, its type or every type, its permissions, and no narrower query.
func (sc Scope) covers(want Scope) bool {
	if sc.Level != want.Level || (sc.Type != "*" && sc.Type != want.Type) {
		return false
	}
	if want.perms&^sc.perms != 0 {
		return false
	}
	return sc.Query == nil || sc.Query.Encode() == want.Query.Encode()
}
