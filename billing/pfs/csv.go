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

// decimalCell parses a numeric cell; an empty cell means none, read as zero.
func (f *csvFile) decimalCell(rec []string, i int, column string) (decimal.Decimal, error) {
	if rec[i] == "" {
		return decimal.Zero, nil
	}

	d, err := decimal.NewFromString(rec[i])
	if err != nil {
		return decimal.Zero, f.errorf("%s: %q is not a decimal number", column, rec[i])
	}

	return d, nil
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
