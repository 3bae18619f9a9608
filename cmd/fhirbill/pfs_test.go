package main

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strconv"
	"testing"

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
