package pfs

import (
	"io"
	"strings"

	"github.com/shopspring/decimal"
)

// RVU is one row of the national relative value file (PPRRVU): the relative
// value units and payment-policy indicators of one HCPCS code and modifier.
type RVU struct {
	Code           string // HCPCS code; numeric codes left-padded to 5 digits
	Modifier       string // "", "26", "TC" or "53"
	Description    string // CMS short descriptor
	Status         Status
	NotForMedicare bool // column NOT USED FOR MEDICARE PAYMENT holds "+"

	Work          decimal.Decimal // work RVU
	NonFacilityPE decimal.Decimal // practice expense RVU, non-facility setting
	FacilityPE    decimal.Decimal // practice expense RVU, facility setting
	MP            decimal.Decimal // malpractice RVU
	NonFacilityNA bool            // the non-facility PE RVU is not applicable
	FacilityNA    bool            // the facility PE RVU is not applicable

	PCTC          Indicator // professional/technical component split
	GlobalDays    string    // 000, 010, 090, MMM, XXX, YYY, ZZZ (as printed)
	MultProc      Indicator // multiple-procedure rule
	Bilateral     Indicator // bilateral-surgery rule
	AssistSurgery Indicator // assistant-at-surgery rule
	CoSurgery     Indicator // co-surgeon rule
	TeamSurgery   Indicator // team-surgery rule
	EndoBase      string    // endoscopic base code, if any

	CF decimal.Decimal // conversion factor printed on the row
}

// Column indexes of PPRRVU (see the layout in the testdata README).
const (
	colCode = iota
	colMod
	colDesc
	colStatus
	colNotUsed
	colWork
	colNonFacPE
	colNonFacNA
	colFacPE
	colFacNA
	colMP
	colNonFacTotal
	colFacTotal
	colPCTC
	colGlobDays
	colPreOp
	colIntraOp
	colPostOp
	colMultProc
	colBilat
	colAsst
	colCoSurg
	colTeamSurg
	colEndoBase
	colCF
	rvuColumns // the columns a row needs, up to and including CONV FACTOR
)

// ParseRVU reads the CMS national relative value file (PPRRVU..., CSV).
//
// Everything up to and including the last header line (the one starting
// "HCPCS,MOD") is skipped, as are blank lines and the trailing DOS
// end-of-file line (0x1A). Empty numeric cells are read as zero, "NA" in an
// NA indicator column sets the matching flag. Anesthesia codes that lost
// their leading zeros in the file ("100") are padded back to five digits
// ("00100"). Errors wrap [ErrFormat] and name the line.
func ParseRVU(r io.Reader) ([]RVU, error) {
	f := newCSVFile("relative value file", r)
	rows := make([]RVU, 0, 19000)
	header := false
	for {
		rec, err := f.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}

		switch {
		case !header:
			header = len(rec) > 1 && rec[colCode] == "HCPCS" && rec[colMod] == "MOD"
			continue
		case blank(rec) || strings.HasPrefix(rec[0], "\x1a"):
			continue
		case len(rec) < rvuColumns:
			return nil, f.errorf("%d columns, want at least %d", len(rec), rvuColumns)
		}

		row, err := parseRVURow(f, rec)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	if !header {
		return nil, f.errorf("no header line starting HCPCS,MOD")
	}

	return rows, nil
}

func parseRVURow(f *csvFile, rec []string) (RVU, error) {
	row := RVU{
		Code:           normCode(rec[colCode]),
		Modifier:       strings.ToUpper(rec[colMod]),
		Description:    rec[colDesc],
		Status:         Status(strings.ToUpper(rec[colStatus])),
		NotForMedicare: rec[colNotUsed] != "",
		GlobalDays:     rec[colGlobDays],
		EndoBase:       normCode(rec[colEndoBase]),
	}
	if row.Code == "" {
		return RVU{}, f.errorf("HCPCS: empty code")
	}
	if len(row.Status) != 1 {
		return RVU{}, f.errorf("STATUS CODE: %q is not one letter", rec[colStatus])
	}

	var err error
	for _, c := range []struct {
		dst  *decimal.Decimal
		col  int
		name string
	}{
		{&row.Work, colWork, "WORK RVU"},
		{&row.NonFacilityPE, colNonFacPE, "NON-FAC PE RVU"},
		{&row.FacilityPE, colFacPE, "FACILITY PE RVU"},
		{&row.MP, colMP, "MP RVU"},
		{&row.CF, colCF, "CONV FACTOR"},
	} {
		if *c.dst, err = f.decimalCell(rec, c.col, c.name); err != nil {
			return RVU{}, err
		}
	}

	for _, c := range []struct {
		dst  *bool
		col  int
		name string
	}{
		{&row.NonFacilityNA, colNonFacNA, "NON-FAC NA INDICATOR"},
		{&row.FacilityNA, colFacNA, "FACILITY NA INDICATOR"},
	} {
		switch strings.ToUpper(rec[c.col]) {
		case "":
		case "NA":
			*c.dst = true
		default:
			return RVU{}, f.errorf("%s: %q is neither empty nor NA", c.name, rec[c.col])
		}
	}

	for _, c := range []struct {
		dst  *Indicator
		col  int
		name string
	}{
		{&row.PCTC, colPCTC, "PCTC IND"},
		{&row.MultProc, colMultProc, "MULT PROC"},
		{&row.Bilateral, colBilat, "BILAT SURG"},
		{&row.AssistSurgery, colAsst, "ASST SURG"},
		{&row.CoSurgery, colCoSurg, "CO-SURG"},
		{&row.TeamSurgery, colTeamSurg, "TEAM SURG"},
	} {
		if *c.dst, err = parseIndicator(rec[c.col]); err != nil {
			return RVU{}, f.errorf("%s: %v", c.name, err)
		}
	}

	return row, nil
}

// normCode upper-cases a HCPCS code and pads an all-digit code shorter than
// five digits with leading zeros: the CMS file stores anesthesia code 00100
// as "100" (it went through a spreadsheet).
func normCode(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if numeric(s) && len(s) < 5 {
		s = strings.Repeat("0", 5-len(s)) + s
	}

	return s
}
