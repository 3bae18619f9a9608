package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
)

// TestImportPFS_SaysWhatItLoaded: import pfs prints the year, the rows of
// each file and the conversion factor. The 2025 release has 109 payment
// localities and a conversion factor of 32.3465 (CMS, CY 2025 PFS final
// rule); its RVU file holds some 18,000 rows.
func TestImportPFS_SaysWhatItLoaded(t *testing.T) {
	if _, err := os.Stat(cmsDir); err != nil {
		t.Skipf("the CMS 2025 fee schedule files are not in %s (../shared/testdata is absent)", cmsDir)
	}
	// On MONGODB_URI, a database of the test's own, dropped when it ends.
	cfg := storetest.Config(t)
	args := []string{"import", "pfs", "--year", "2025", "--dir", cmsDir, "--data-dir", t.TempDir()}
	if cfg.URI != "" {
		args = append(args, "--mongodb-uri", cfg.URI, "--database", cfg.Database)
	}
	var out bytes.Buffer
	err := run(t.Context(), args, &out, io.Discard)
	if err != nil {
		t.Fatalf("import pfs: %v", err)
	}
	re := regexp.MustCompile(`^imported the 2025 Medicare Physician Fee Schedule: (\d+) RVU rows, ` +
		`109 GPCI rows \(localities\), (\d+) county rows; conversion factor 32\.3465\n$`)
	m := re.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("import pfs printed %q, want it to match %s", out.String(), re)
	}
	if rvu, _ := strconv.Atoi(m[1]); rvu < 15000 {
		t.Errorf("%d RVU rows, want some 18,000", rvu)
	}
	if counties, _ := strconv.Atoi(m[2]); counties < 100 {
		t.Errorf("%d county rows, want over 100 (one or more per locality)", counties)
	}
}

// pfsFixture is a one-row fee schedule in the layout of the CY 2025 files,
// with the titles that state their year.
var pfsFixture = map[string]string{
	"PPRRVU25_JAN1.csv": ",,2025 National Physician Fee Schedule Relative Value File,,\n" +
		"HCPCS,MOD,DESCRIPTION,CODE\n" +
		"99213,,Office visit,A,,WORK,1.35,,0.57,,0.1,2.75,1.97,0,XXX,0,0,0,0,0,0,0,0,,32.3465\n",
	"GPCI2025.csv": "ADDENDUM E. FINAL CY 2025 GEOGRAPHIC PRACTICE COST INDICES,,,,,,\n" +
		"MAC,State,Locality Number,Locality Name,PW GPCI,PE GPCI,MP GPCI\n" +
		"10112,AL,0,ALABAMA,1,PE,0.575\n",
	"25LOCCO1.csv": "COUNTIES INCLUDED IN 2025 LOCALITIES.,,,,\n" +
		"MAC,Locality Number,State,Fee Schedule Area,Counties\n" +
		"10112,0,ALABAMA ,STATEWIDE ,ALL COUNTIES \n",
}

// writePFSFixture writes pfsFixture to a new directory, with the work RVU
// of 99213 and the PE GPCI of Alabama given, and returns the directory.
func writePFSFixture(t *testing.T, work, pe string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range pfsFixture {
		content = strings.Replace(content, "WORK", work, 1)
		content = strings.Replace(content, ",PE,", ","+pe+",", 1)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestImportPFS_Refuses: import pfs refuses a value past the bounds of
// pfs's parser (a plain non-negative decimal, at most 6 digits before the
// point and 6 after) naming the file, line and column, and files whose
// titles state another year than --year; either way it stores nothing.
func TestImportPFS_Refuses(t *testing.T) {
	valid := writePFSFixture(t, "1.3", "0.869")
	f := pfsFiles{Year: 2025}
	for _, p := range []struct {
		dst  *string
		name string
	}{{&f.RVU, "PPRRVU25_JAN1.csv"}, {&f.GPCI, "GPCI2025.csv"}, {&f.Counties, "25LOCCO1.csv"}} {
		b, err := os.ReadFile(filepath.Join(valid, p.name))
		if err != nil {
			t.Fatal(err)
		}
		*p.dst = string(b)
	}
	if _, _, err := f.parse(); err != nil {
		t.Fatalf("the valid fixture does not parse: %v", err)
	}

	rvuAt := "PPRRVU25_JAN1.csv: relative value file line 3 column 6: " +
		"pfs: unexpected file format: WORK RVU: "
	tests := []struct {
		name    string
		year    string
		dir     string
		wantErr string
	}{
		{"TinyExponent", "2025", writePFSFixture(t, "1e-100000000", "0.869"),
			rvuAt + `"1e-100000000"`},
		{"HugeExponent", "2025", writePFSFixture(t, "1e400", "0.869"), rvuAt + `"1e400"`},
		{"Negative", "2025", writePFSFixture(t, "-1.3", "0.869"), rvuAt + `"-1.3"`},
		{"TooLong", "2025", writePFSFixture(t, "1234567", "0.869"), rvuAt + `"1234567"`},
		{"GPCIExponent", "2025", writePFSFixture(t, "1.3", "8.69e-1"),
			"GPCI2025.csv: GPCI file line 3 column 6: pfs: unexpected file format: PE GPCI"},
		{"OtherYear", "2024", valid, "--year 2024, but the title of " +
			filepath.Join(valid, "PPRRVU25_JAN1.csv") + " says it is the 2025 fee schedule"},
	}
	if _, err := os.Stat(cmsDir); err == nil {
		tests = append(tests, struct{ name, year, dir, wantErr string }{
			"OtherYearCMS", "2024", cmsDir, "says it is the 2025 fee schedule"})
	}

	cfg := storetest.Config(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"import", "pfs", "--year", tc.year, "--dir", tc.dir,
				"--data-dir", cfg.DataDir}
			if cfg.URI != "" {
				args = append(args, "--mongodb-uri", cfg.URI, "--database", cfg.Database)
			}
			var out bytes.Buffer
			err := run(t.Context(), args, &out, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tc.wantErr)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q, want nothing", out.String())
			}
		})
	}

	st := storetest.Open(t, cfg)
	for _, year := range []int{2024, 2025} {
		_, err := st.BlobTime(t.Context(), pfsBlobName(year))
		if !errors.Is(err, resource.ErrNotFound) {
			t.Errorf("fee schedule %d: got %v, want %v (nothing imported)",
				year, err, resource.ErrNotFound)
		}
	}
}
