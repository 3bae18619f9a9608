package pfs

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Locality identifies a Medicare payment locality. CMS numbers localities
// within a Medicare Administrative Contractor (MAC), so the number alone is
// ambiguous: locality 1 is Manhattan under MAC 13202 and Alaska under 2102.
type Locality struct {
	MAC    string // contractor number, e.g. "13202"
	Number int    // locality number within the MAC, e.g. 1
}

// String returns the locality as MAC-number with a two-digit number, the way
// CMS prints locality codes: "13202-01".
func (l Locality) String() string {
	return fmt.Sprintf("%s-%02d", l.MAC, l.Number)
}

// GPCI is one row of Addendum E: the geographic practice cost indices of one
// payment locality.
type GPCI struct {
	Locality Locality
	State    string          // USPS state code as printed: "CA", "DC", "HI"
	Name     string          // locality name, footnote asterisks removed
	Work     decimal.Decimal // physician work GPCI (with the floors applied)
	PE       decimal.Decimal // practice expense GPCI
	MP       decimal.Decimal // malpractice GPCI
}

// NationalGPCI returns indices of 1.000 for all three components: the
// national amount, unadjusted for geography. Its locality is the zero value
// and its name "NATIONAL".
func NationalGPCI() GPCI {
	return GPCI{Name: "NATIONAL", Work: one, PE: one, MP: one}
}

// ParseGPCI reads Addendum E (GPCI....csv). A row whose first cell (the MAC)
// is numeric is a data row with seven columns: MAC, state, locality number,
// locality name, PW GPCI, PE GPCI, MP GPCI. Every other row (title, header,
// blank lines, footnotes) is skipped. Errors wrap [ErrFormat] and name the
// line.
func ParseGPCI(r io.Reader) ([]GPCI, error) {
	f := newCSVFile("GPCI file", r)
	var rows []GPCI
	for {
		rec, err := f.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec) == 0 || !numeric(rec[0]) {
			continue
		}
		if len(rec) < 7 {
			return nil, f.errorf("%d columns, want 7", len(rec))
		}

		loc, err := parseLocality(f, rec[0], rec[2])
		if err != nil {
			return nil, err
		}
		g := GPCI{
			Locality: loc,
			State:    strings.ToUpper(rec[1]),
			Name:     strings.TrimSpace(strings.Trim(rec[3], "*")),
		}
		if g.State == "" {
			return nil, f.errorf("State: empty")
		}
		if g.Work, err = f.decimalCell(rec, 4, "PW GPCI"); err != nil {
			return nil, err
		}
		if g.PE, err = f.decimalCell(rec, 5, "PE GPCI"); err != nil {
			return nil, err
		}
		if g.MP, err = f.decimalCell(rec, 6, "MP GPCI"); err != nil {
			return nil, err
		}
		rows = append(rows, g)
	}

	return rows, nil
}

// parseLocality reads a MAC and locality number cell pair.
func parseLocality(f *csvFile, mac, number string) (Locality, error) {
	if !numeric(mac) {
		return Locality{}, f.errorf("MAC: %q is not a number", mac)
	}

	n, err := strconv.Atoi(number)
	if err != nil || n < 0 || !numeric(number) {
		return Locality{}, f.errorf("Locality Number: %q is not a number", number)
	}

	return Locality{MAC: mac, Number: n}, nil
}
