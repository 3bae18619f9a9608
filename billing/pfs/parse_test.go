package pfs_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/billing/pfs"
)

// TestParseRVU_File reads the real January 2025 relative value file. The
// row count is the README's ("18,865 data rows"); the field values are the
// file's own rows, quoted in the comments.
func TestParseRVU_File(t *testing.T) {
	rows, err := pfs.ParseRVU(openCMS(t, rvuFile))
	if err != nil {
		t.Fatalf("ParseRVU: %v", err)
	}
	if got, want := len(rows), 18865; got != want {
		t.Fatalf("got %d rows, want %d (README)", got, want)
	}

	byKey := map[string]pfs.RVU{}
	for _, r := range rows {
		byKey[r.Code+r.Modifier] = r
	}
	if first := rows[0]; first.Code != "A0021" || first.Status != pfs.StatusInvalid {
		t.Errorf("first row: got %s status %s, want A0021 status I (line 11)",
			first.Code, first.Status)
	}
	if last := rows[len(rows)-1]; last.Code != "99607" {
		t.Errorf("last row: got %s, want 99607 (the line before the 0x1A line)", last.Code)
	}

	// 71046,26,X-ray exam chest 2 views,A,,0.22,0.08,,0.08,,0.01,...,1,XXX,...,0,0,0,0,0,,32.3465
	r := byKey["7104626"]
	if r.Work.String() != "0.22" || r.NonFacilityPE.String() != "0.08" ||
		r.FacilityPE.String() != "0.08" || r.MP.String() != "0.01" || r.PCTC != 1 ||
		r.GlobalDays != "XXX" || r.CF.String() != "32.3465" || r.NonFacilityNA || r.FacilityNA {
		t.Errorf("71046-26: got %+v", r)
	}

	// 27447,,Total knee arthroplasty,A,,19.6,15.3,NA,15.3,,3.98,...,0,90,...,2,1,2,1,0,
	r = byKey["27447"]
	if !r.NonFacilityNA || r.FacilityNA || r.GlobalDays != "90" || r.MultProc != 2 ||
		r.Bilateral != 1 || r.AssistSurgery != 2 || r.CoSurgery != 1 || r.TeamSurgery != 0 {
		t.Errorf("27447: got %+v", r)
	}

	// 45380 ... ENDO BASE 45378; 93000 has facility NA; G0071 is marked
	// "+" (not used for Medicare payment); anesthesia "100" is 00100.
	if got := byKey["45380"].EndoBase; got != "45378" {
		t.Errorf("45380 endo base: got %q, want 45378", got)
	}
	if !byKey["93000"].FacilityNA {
		t.Errorf("93000: got facility NA false, want true")
	}
	if !byKey["G0071"].NotForMedicare {
		t.Errorf("G0071: got NotForMedicare false, want true")
	}
	if got := byKey["00100"]; got.Status != pfs.StatusAnesthesia {
		t.Errorf("00100: got %+v, want the padded anesthesia row (file prints 100)", got)
	}
}

// TestParseRVU_Errors checks the parser's handling of malformed input,
// built here; each error must name the line.
func TestParseRVU_Errors(t *testing.T) {
	const (
		header = "title\nHCPCS,MOD,DESCRIPTION,CODE\n"
		valid  = "99213,,Office visit,A,,1.3,1.35,,0.57,,0.1,2.75,1.97,0,XXX,0,0,0,0,0,0,0,0,,32.3465"
	)
	row := func(cells ...string) string {
		rec := strings.Split(valid, ",")
		for i := 0; i+1 < len(cells); i += 2 {
			rec[atoi(cells[i])] = cells[i+1]
		}

		return strings.Join(rec, ",") + "\n"
	}

	const bad = "pfs: unexpected file format"
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; empty means success
		wantN   int
	}{
		{"Valid", header + row() + "\x1a,,\n", "", 1},
		{"EmptyNumericIsZero", header + row("5", "") + row("0", "99214"), "", 2},
		{"NoHeader", row(), "no header line", 0},
		{"BadDecimal", header + row() + row("5", "1.x"), "line 4 column 6: " + bad + ": WORK RVU", 0},
		{"BadNA", header + row("7", "N/A"), "line 3: " + bad + ": NON-FAC NA", 0},
		{"BadIndicator", header + row("18", "22"), "line 3: " + bad + ": MULT PROC", 0},
		{"ShortRow", header + "99213,,x,A\n", "line 3: " + bad + ": 4 columns", 0},
		{"NoStatus", header + row("3", ""), "STATUS CODE", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := pfs.ParseRVU(strings.NewReader(tc.in))
			if tc.wantErr == "" {
				if err != nil || len(rows) != tc.wantN {
					t.Fatalf("got %d rows, %v; want %d rows, no error", len(rows), err, tc.wantN)
				}
				if !rows[0].Work.IsZero() && tc.name == "EmptyNumericIsZero" {
					t.Errorf("got work %s, want 0 for an empty cell", rows[0].Work)
				}
				return
			}
			if !errors.Is(err, pfs.ErrFormat) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got error %v, want one wrapping ErrFormat containing %q",
					err, tc.wantErr)
			}
		})
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}

	return n
}

// TestParseGPCI_File reads Addendum E: 109 localities (README), the first
// row and the footnoted Alaska and Hawaii rows as printed.
func TestParseGPCI_File(t *testing.T) {
	rows, err := pfs.ParseGPCI(openCMS(t, gpciFile))
	if err != nil {
		t.Fatalf("ParseGPCI: %v", err)
	}
	if got, want := len(rows), 109; got != want {
		t.Fatalf("got %d localities, want %d (README)", got, want)
	}

	tests := []struct {
		i    int
		want string // MAC-locality state name work/pe/mp
	}{
		{0, "10112-00 AL ALABAMA 1/0.869/0.575"}, // 10112,AL,0,ALABAMA,1,0.869,0.575
		{1, "2102-01 AK ALASKA 1.5/1.081/0.592"}, // 2102,AK,1,ALASKA*,1.5,1.081,0.592
		{108, "3602-21 WY WYOMING 1/1/0.739"},    // 3602,WY,21,WYOMING**,1,1,0.739
	}
	for _, tc := range tests {
		g := rows[tc.i]
		got := g.Locality.String() + " " + g.State + " " + g.Name + " " +
			g.Work.String() + "/" + g.PE.String() + "/" + g.MP.String()
		if got != tc.want {
			t.Errorf("row %d: got %q, want %q", tc.i, got, tc.want)
		}
	}
}

// TestParseCounties_File reads the locality-county file: 110 data rows for
// 109 localities (Missouri's rest of state is printed twice), with the
// state carried down and the county lists split.
func TestParseCounties_File(t *testing.T) {
	rows, err := pfs.ParseCounties(openCMS(t, countyFile))
	if err != nil {
		t.Fatalf("ParseCounties: %v", err)
	}
	if got, want := len(rows), 110; got != want {
		t.Fatalf("got %d rows, want %d", got, want)
	}

	find := func(mac string, n int) pfs.County {
		for _, c := range rows {
			if c.Locality == (pfs.Locality{MAC: mac, Number: n}) {
				return c
			}
		}
		t.Fatalf("no county row for %s-%d", mac, n)

		return pfs.County{}
	}

	// 1182,18,CALIFORNIA,LOS ANGELES-...,LOS ANGELES /ORAGNGE CNTY (sic)
	c := find("1182", 18)
	if c.State != "CALIFORNIA" || !slices.Equal(c.Areas[0].Names, []string{"LOS ANGELES", "ORANGE"}) {
		t.Errorf("1182-18: got %+v", c)
	}
	// 1112,75,,REST OF STATE*,ALL OTHER COUNTIES: state carried down.
	c = find("1112", 75)
	if c.State != "CALIFORNIA" || c.FeeScheduleArea != "REST OF STATE" || !c.Areas[0].All {
		t.Errorf("1112-75: got %+v", c)
	}
	// 12202,1,DISTRICT OF COLUMBIA,...,"DISTRICT OF COLUMBIA; ALEXANDRIA CITY, ...
	// IN VIRGINIA; MONTGOMERY AND PRINCE GEORGE'S IN MARYLAND"
	dc := find("12202", 1)
	if len(dc.Areas) != 3 || dc.Areas[1].State != "VIRGINIA" || dc.Areas[2].State != "MARYLAND" ||
		!slices.Equal(dc.Areas[2].Names, []string{"MONTGOMERY", "PRINCE GEORGE'S"}) ||
		len(dc.Areas[1].Names) != 5 {
		t.Errorf("12202-01: got %+v", dc.Areas)
	}
	// 11302,0,VIRGINIA,STATEWIDE,"ALL COUNTIES, EXCEPT ALEXANDRIA CITY, ..., AND FALLS CHURCH CITY"
	va := find("11302", 0)
	want := []string{"ALEXANDRIA CITY", "ARLINGTON", "FAIRFAX", "FAIRFAX CITY", "FALLS CHURCH CITY"}
	if !va.Areas[0].All || !slices.Equal(va.Areas[0].Except, want) {
		t.Errorf("11302-00: got %+v, want all counties except %v", va.Areas, want)
	}
}
