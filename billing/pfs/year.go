package pfs

import (
	"io"
	"regexp"
	"strconv"
	"strings"
)

// titleYearRE matches a calendar year standing as a word of a title.
var titleYearRE = regexp.MustCompile(`\b(19|20)\d\d\b`)

// TitleYear returns the year a CMS file states in its title, its first
// non-blank line: "2025 National Physician Fee Schedule Relative Value
// File January Release" (PPRRVU), "ADDENDUM E. FINAL CY 2025 GEOGRAPHIC
// PRACTICE COST INDICES ..." (GPCI), "COUNTIES INCLUDED IN 2025
// LOCALITIES." (LOCCO). It returns 0 when the title names no year, or
// more than one, so that a caller refuses only what the file plainly says.
// File names are not consulted: CMS's naming varies (PPRRVU25_JAN,
// GPCI2025, 25LOCCO) and copies get renamed.
func TitleYear(r io.Reader) int {
	f := newCSVFile("", r)
	for {
		rec, err := f.next()
		if err != nil {
			return 0
		}
		if blank(rec) {
			continue
		}

		year := 0
		for _, m := range titleYearRE.FindAllString(strings.Join(rec, " "), -1) {
			y, _ := strconv.Atoi(m)
			if year != 0 && y != year {
				return 0
			}
			year = y
		}

		return year
	}
}
