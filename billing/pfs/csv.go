package pfs

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/shopspring/decimal"
)

// ErrFormat is wrapped by every parse error: the file is not laid out the
// way the CMS files of the year this package knows are.
var ErrFormat = errors.New("pfs: unexpected file format")

// csvFile reads a CMS CSV file record by record, knowing the line each
// record started on.
type csvFile struct {
	name string
	r    *csv.Reader
	line int
}

func newCSVFile(name string, r io.Reader) *csvFile {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // the title, header and footnote lines vary
	cr.LazyQuotes = true
	cr.ReuseRecord = true

	return &csvFile{name: name, r: cr}
}

// next returns the next record, with every cell trimmed of spaces, or
// io.EOF. The returned slice is reused by the next call.
func (f *csvFile) next() ([]string, error) {
	rec, err := f.r.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", f.name, ErrFormat, err)
	}

	f.line, _ = f.r.FieldPos(0)
	for i, c := range rec {
		rec[i] = strings.TrimSpace(c)
	}

	return rec, nil
}

// errorf reports a problem with the record just read, naming its line.
func (f *csvFile) errorf(format string, args ...any) error {
	return fmt.Errorf("%s line %d: %w: %s", f.name, f.line, ErrFormat, fmt.Sprintf(format, args...))
}

// The most digits a value of the RVU and GPCI files may have before and
// after the decimal point. The widest values of the CY 2025 files are an
// RVU of 356.28 (3 before) and the conversion factor 32.3465 (4 after);
// the bounds leave a thousandfold and two places of margin, and keep a
// value such as 1e-100000000 (which would make every sum on it cost time
// and memory in proportion to its exponent) out of the schedule.
const (
	maxIntDigits  = 6
	maxFracDigits = 6
)

// decimalCell parses a numeric cell; an empty cell means none, read as zero.
// A value is a plain non-negative decimal, digits with at most one point
// ("0.22", "19", ".5"): no sign, no exponent, at most [maxIntDigits] digits
// before the point and [maxFracDigits] after. The error names the line and
// the column (1-based field number and header).
func (f *csvFile) decimalCell(rec []string, i int, column string) (decimal.Decimal, error) {
	if rec[i] == "" {
		return decimal.Zero, nil
	}

	if why := plainDecimal(rec[i]); why != "" {
		return decimal.Zero, f.cellErrorf(i, "%s: %q is not a decimal number: %s",
			column, rec[i], why)
	}
	d, err := decimal.NewFromString(rec[i])
	if err != nil {
		return decimal.Zero, f.cellErrorf(i, "%s: %q is not a decimal number", column, rec[i])
	}

	return d, nil
}

// plainDecimal says what keeps s from being a plain non-negative decimal
// within the digit bounds, or "" when it is one.
func plainDecimal(s string) string {
	whole, frac, point := strings.Cut(s, ".")
	switch {
	case whole == "" && frac == "":
		return "no digits"
	case whole != "" && !numeric(whole), point && frac != "" && !numeric(frac):
		return "only digits and one decimal point are allowed (no sign, no exponent)"
	case len(whole) > maxIntDigits:
		return fmt.Sprintf("more than %d digits before the decimal point", maxIntDigits)
	case len(frac) > maxFracDigits:
		return fmt.Sprintf("more than %d digits after the decimal point", maxFracDigits)
	}

	return ""
}

// cellErrorf reports a problem with cell i of the record just read, naming
// its line and column.
func (f *csvFile) cellErrorf(i int, format string, args ...any) error {
	line, _ := f.r.FieldPos(i)

	return fmt.Errorf("%s line %d column %d: %w: %s",
		f.name, line, i+1, ErrFormat, fmt.Sprintf(format, args...))
}

// blank reports whether every cell of rec is empty.
func blank(rec []string) bool {
	for _, c := range rec {
		if c != "" {
			return false
		}
	}

	return true
}

// numeric reports whether s is a non-empty string of ASCII digits.
func numeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}

	return true
}
