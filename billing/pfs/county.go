package pfs

import (
	"io"
	"regexp"
	"strings"
)

// County is one row of the locality-county file (..LOCCO.csv): the counties
// that make up a payment locality, as CMS words them, with the wording
// parsed into [CountyArea] values.
type County struct {
	Locality        Locality
	State           string // state name as printed, upper case: "CALIFORNIA", "HAWAII/GUAM"
	FeeScheduleArea string // e.g. "MANHATTAN", "REST OF STATE"; footnote asterisks removed
	Text            string // the Counties cell as printed
	Areas           []CountyArea
}

// CountyArea is one part of a Counties cell: either named counties or "all
// (other) counties" of one state, possibly with exceptions.
//
// Most cells are one area in the row's own state. The DC row names counties
// in Virginia and Maryland ("...; ARLINGTON, FAIRFAX ... IN VIRGINIA; ..."),
// which become areas of those states.
type CountyArea struct {
	State  string   // state name the counties lie in; empty means the row's state
	All    bool     // "ALL COUNTIES", "ALL OTHER COUNTIES", "ALL COUNTY EQUIVALENTS"
	Names  []string // named counties, upper case as printed (typos fixed), when !All
	Except []string // with All: counties excluded ("... EXCEPT MONTGOMERY AND ...")
}

// ParseCounties reads the counties-in-localities file (..LOCCO.csv). A row
// whose first cell (the MAC) is numeric is a data row: MAC, locality number,
// state, fee schedule area, counties. The state is printed only on the first
// row of each state; the rows after it inherit it. Blank separator lines,
// the title, header and footnotes are skipped. Errors wrap [ErrFormat] and
// name the line.
func ParseCounties(r io.Reader) ([]County, error) {
	f := newCSVFile("locality county file", r)
	var rows []County
	state := ""
	for {
		rec, err := f.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if blank(rec) {
			state = ""
			continue
		}
		if !numeric(rec[0]) {
			continue
		}
		if len(rec) < 5 {
			return nil, f.errorf("%d columns, want 5", len(rec))
		}

		loc, err := parseLocality(f, rec[0], rec[1])
		if err != nil {
			return nil, err
		}
		if s := strings.ToUpper(rec[2]); s != "" {
			state = s
		}
		if state == "" {
			return nil, f.errorf("State: empty, and no row above names it")
		}
		c := County{
			Locality:        loc,
			State:           state,
			FeeScheduleArea: strings.TrimSpace(strings.Trim(rec[3], "*")),
			Text:            rec[4],
			Areas:           parseCountyText(rec[4]),
		}
		if len(c.Areas) == 0 {
			return nil, f.errorf("Counties: empty")
		}
		rows = append(rows, c)
	}

	return rows, nil
}

var (
	// inState matches a part ending with "IN <STATE>", e.g. "... FALLS
	// CHURCH CITY IN VIRGINIA".
	inState = regexp.MustCompile(`^(.*\S)\s+IN\s+([A-Z][A-Z ]*)$`)

	// listSep splits a county list: commas, slashes and the word AND.
	listSep = regexp.MustCompile(`\s*(?:,|/|\bAND\b)\s*`)

	// except splits "ALL ... EXCEPT <list>".
	except = regexp.MustCompile(`\bEXCEPT\b`)
)

// countyTypos corrects misspellings in the CMS file, keyed by the folded
// name (see foldCounty): the 2025 file prints Orange county as "ORAGNGE".
var countyTypos = map[string]string{
	"ORAGNGE": "ORANGE",
}

// parseCountyText turns a Counties cell into areas. Parts separated by ";"
// are separate areas; a part ending in "IN <STATE>" lies in that state.
func parseCountyText(text string) []CountyArea {
	var areas []CountyArea
	for _, part := range strings.Split(strings.ToUpper(text), ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}

		var a CountyArea
		if m := inState.FindStringSubmatch(part); m != nil {
			part, a.State = m[1], strings.TrimSpace(m[2])
		}
		if strings.HasPrefix(part, "ALL ") {
			a.All = true
			if ex := except.Split(part, 2); len(ex) == 2 {
				a.Except = splitCounties(ex[1])
			}
		} else {
			a.Names = splitCounties(part)
		}
		areas = append(areas, a)
	}

	return areas
}

// splitCounties splits a list such as "BUTTS, CHEROKEE ... ROCKDALE AND
// WALTON" or "LOS ANGELES /ORAGNGE CNTY" into county names, fixing the known
// typos.
func splitCounties(list string) []string {
	var names []string
	for _, n := range listSep.Split(list, -1) {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if fixed, ok := countyTypos[foldCounty(n)]; ok {
			n = fixed
		}
		names = append(names, n)
	}

	return names
}

// countySuffixes are words dropped from the end of a county name before
// comparing: "Kings County", "Orleans Parish" and "ORANGE CNTY" all name
// the county by its first words.
var countySuffixes = []string{" COUNTY", " CNTY", " PARISH", " BOROUGH", " MUNICIPIO"}

// countyAliases maps folded names in current use to the name the CMS file
// prints: Dade County has been Miami-Dade County since 1997.
var countyAliases = map[string]string{
	"MIAMIDADE": "DADE",
}

// foldCounty reduces a county name to a key for comparison: upper case,
// "SAINT" as "ST", a trailing "COUNTY"-like word dropped, then letters and
// digits only ("St. Louis city" and "ST. LOUIS CITY" both give
// "STLOUISCITY"; "Prince George's County" gives "PRINCEGEORGES").
func foldCounty(s string) string {
	s = " " + strings.ToUpper(strings.TrimSpace(s)) + " "
	s = strings.ReplaceAll(s, " SAINT ", " ST ")
	s = strings.TrimSpace(s)
	for _, suf := range countySuffixes {
		if strings.HasSuffix(s, suf) {
			s = strings.TrimSuffix(s, suf)
			break
		}
	}

	var b strings.Builder
	for _, r := range s {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if alias, ok := countyAliases[b.String()]; ok {
		return alias
	}

	return b.String()
}
