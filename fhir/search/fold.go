package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// fold returns s in lower case without accents ("Ünal" → "unal"), the form
// string parameters are indexed and searched in
// (https://hl7.org/fhir/R4/search.html#string: "case- and
// accent-insensitive"). Accents are the nonspacing marks (Mn) left by
// canonical decomposition.
func fold(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}

	// A transform.Chain keeps state, so each call builds its own.
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
