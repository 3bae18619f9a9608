package billing

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	cmpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/concept_map_go_proto"
)

// Translation is one target a ConceptMap maps a code to.
type Translation struct {
	System      string
	Code        string
	Display     string
	Equivalence string // the ConceptMap equivalence code, e.g. "equivalent"
	// ConceptMap is the map's canonical URL (with "|version" when it has
	// one), or "ConceptMap/<id>" when it has no URL.
	ConceptMap string
}

// equivalenceRank orders the equivalences that translate, best first. The
// others (unmatched, disjoint) say the codes do not match and never
// translate.
var equivalenceRank = map[cpb.ConceptMapEquivalenceCode_Value]int{
	cpb.ConceptMapEquivalenceCode_EQUAL:       0,
	cpb.ConceptMapEquivalenceCode_EQUIVALENT:  1,
	cpb.ConceptMapEquivalenceCode_WIDER:       2,
	cpb.ConceptMapEquivalenceCode_SUBSUMES:    3,
	cpb.ConceptMapEquivalenceCode_NARROWER:    4,
	cpb.ConceptMapEquivalenceCode_SPECIALIZES: 5,
	cpb.ConceptMapEquivalenceCode_INEXACT:     6,
	cpb.ConceptMapEquivalenceCode_RELATEDTO:   7,
}

// Translate translates system|code to targetSystem (any system when
// empty) through the ConceptMap resources stored in Records, as
// ConceptMap/$translate does. It returns every translation, best first:
//
//  1. by equivalence: equal, equivalent, wider, subsumes, narrower,
//     specializes, inexact, relatedto (unmatched and disjoint never
//     translate);
//  2. then by ConceptMap: URL, version, id;
//  3. then in the order the map lists groups, elements and targets.
//
// Billing uses the first. Retired ConceptMaps are ignored; draft and
// active ones are used. A group matches when its source is system and its
// target is targetSystem; groups without a source or target are ignored.
// Unmapped-concept rules (group.unmapped) are not applied.
func (b *Biller) Translate(ctx context.Context, system, code, targetSystem string) ([]Translation, error) {
	switch {
	case system == "":
		return nil, badRequest("system", "translating a code needs its system")
	case code == "":
		return nil, badRequest("code", "translating a code needs the code")
	}
	var targets []string
	if targetSystem != "" {
		targets = []string{targetSystem}
	}
	return newTranslator(b.records).translate(ctx, system, code, targets)
}

// translator translates codes for one billing run, remembering answers.
type translator struct {
	records Records
	cache   map[string]answer
}

// answer is what the ConceptMaps say of one code: its translations, best
// first, and why a map lists it without one.
type answer struct {
	translations []Translation
	// unmatched is the first ConceptMap element that maps the code to
	// nothing (equivalence unmatched or disjoint): "<map> lists it as
	// <equivalence>: <comment>"; "" when none does.
	unmatched string
}

func newTranslator(r Records) *translator {
	return &translator{records: r, cache: map[string]answer{}}
}

// candidate is a translation with its sort keys.
type candidate struct {
	Translation
	rank      int
	target    int // index of the target system in the caller's list
	mapKey    string
	mapID     string
	positions [3]int
}

// translate returns the translations of system|code into any of targets
// (any system when targets is empty), ordered as Translate explains, and
// for several targets the earlier target system first at equal
// equivalence.
func (t *translator) translate(ctx context.Context, system, code string, targets []string) ([]Translation, error) {
	a, err := t.lookup(ctx, system, code, targets)
	return a.translations, err
}

// lookup answers translate, and also says why a map that lists the code
// translates it to nothing.
func (t *translator) lookup(ctx context.Context, system, code string, targets []string) (answer, error) {
	key := system + "|" + code + "|" + strings.Join(targets, ",")
	if a, ok := t.cache[key]; ok {
		return a, nil
	}

	q := url.Values{"source-code": {escapeSearch(code)}, "source-system": {escapeSearch(system)}}
	if len(targets) > 0 {
		esc := make([]string, len(targets))
		for i, s := range targets {
			esc[i] = escapeSearch(s)
		}
		q.Set("target-system", strings.Join(esc, ","))
	}
	rs, err := t.records.Search(ctx, "ConceptMap", q)
	if err != nil {
		return answer{}, fmt.Errorf("search concept maps: %w", err)
	}

	var cands []candidate
	var a answer
	for _, r := range rs {
		cm := r.Proto().(*cmpb.ConceptMap)
		if cm.GetStatus().GetValue() == cpb.PublicationStatusCode_RETIRED {
			continue
		}
		cands = appendMatches(cands, cm, system, code, targets)
		if a.unmatched == "" {
			a.unmatched = unmatchedIn(cm, system, code, targets)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		switch {
		case a.rank != b.rank:
			return a.rank < b.rank
		case a.target != b.target:
			return a.target < b.target
		case a.mapKey != b.mapKey:
			return a.mapKey < b.mapKey
		case a.mapID != b.mapID:
			return a.mapID < b.mapID
		}
		return slices.Compare(a.positions[:], b.positions[:]) < 0
	})

	a.translations = make([]Translation, 0, len(cands))
	seen := map[string]bool{}
	for _, c := range cands {
		k := c.System + "|" + c.Code
		if !seen[k] {
			seen[k] = true
			a.translations = append(a.translations, c.Translation)
		}
	}
	t.cache[key] = a
	return a, nil
}

// mapName names cm in translations and reasons: its canonical URL (with
// "|version"), else ConceptMap/<id>.
func mapName(cm *cmpb.ConceptMap) string {
	name := cm.GetUrl().GetValue()
	if name != "" && cm.GetVersion().GetValue() != "" {
		name += "|" + cm.GetVersion().GetValue()
	}
	if name == "" {
		name = "ConceptMap/" + cm.GetId().GetValue()
	}
	return name
}

// unmatchedIn returns how cm lists system|code as mapping to nothing in
// targets (any system when empty), in a group matching as for
// translations: "<map> lists it as unmatched: <comment>"; "" when it does
// not.
func unmatchedIn(cm *cmpb.ConceptMap, system, code string, targets []string) string {
	for _, g := range cm.GetGroup() {
		if g.GetSource().GetValue() != system || g.GetTarget().GetValue() == "" ||
			len(targets) > 0 && !slices.Contains(targets, g.GetTarget().GetValue()) {
			continue
		}
		for _, e := range g.GetElement() {
			if e.GetCode().GetValue() != code {
				continue
			}
			for _, tg := range e.GetTarget() {
				eq := tg.GetEquivalence().GetValue()
				if eq != cpb.ConceptMapEquivalenceCode_UNMATCHED && eq != cpb.ConceptMapEquivalenceCode_DISJOINT {
					continue
				}
				out := mapName(cm) + " lists it as " + codeString(eq.String())
				if c := tg.GetComment().GetValue(); c != "" {
					out += ": " + c
				}
				return out
			}
		}
	}
	return ""
}

// appendMatches appends the targets cm maps system|code to.
func appendMatches(out []candidate, cm *cmpb.ConceptMap, system, code string, targets []string) []candidate {
	name := mapName(cm)
	for gi, g := range cm.GetGroup() {
		if g.GetSource().GetValue() != system || g.GetTarget().GetValue() == "" {
			continue
		}
		ti := 0
		if len(targets) > 0 {
			if ti = slices.Index(targets, g.GetTarget().GetValue()); ti < 0 {
				continue
			}
		}
		for ei, e := range g.GetElement() {
			if e.GetCode().GetValue() != code {
				continue
			}
			for tj, tg := range e.GetTarget() {
				// TODO(#7): target.dependsOn is not evaluated: a map cannot choose by age or payer (preventive visits).
				rank, ok := equivalenceRank[tg.GetEquivalence().GetValue()]
				if !ok || tg.GetCode().GetValue() == "" {
					continue
				}
				out = append(out, candidate{
					Translation: Translation{
						System:      g.GetTarget().GetValue(),
						Code:        tg.GetCode().GetValue(),
						Display:     tg.GetDisplay().GetValue(),
						Equivalence: codeString(tg.GetEquivalence().GetValue().String()),
						ConceptMap:  name,
					},
					rank: rank, target: ti, mapKey: name, mapID: cm.GetId().GetValue(),
					positions: [3]int{gi, ei, tj},
				})
			}
		}
	}
	return out
}

// escapeSearch escapes the characters FHIR search gives a meaning in a
// value (https://hl7.org/fhir/R4/search.html#escaping).
func escapeSearch(s string) string {
	if !strings.ContainsAny(s, `\,|$`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`\,|$`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// codeString turns a proto enum name such as "ENTERED_IN_ERROR" into the
// FHIR code "entered-in-error".
func codeString(enum string) string {
	return strings.ToLower(strings.ReplaceAll(enum, "_", "-"))
}
