package pfs_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fhirbill/fhirbill/billing/pfs"
)

// cmsDir holds the CMS 2025 files (see its README.md), relative to this
// package's directory.
const cmsDir = "../../../shared/testdata/cms-pfs/2025"

const (
	rvuFile    = "PPRRVU25_JAN1.csv"
	gpciFile   = "GPCI2025.csv"
	countyFile = "25LOCCO1.csv"
)

// openCMS opens one CMS file, skipping the test when the files are absent.
func openCMS(t testing.TB, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join(cmsDir, name))
	if os.IsNotExist(err) {
		t.Skipf("CMS 2025 fee schedule files not found in %s (shared test data); skipping", cmsDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })

	return f
}

var (
	scheduleOnce sync.Once
	schedule     *pfs.Schedule
	scheduleErr  error
)

// testSchedule loads the 2025 schedule once for all tests of the package.
func testSchedule(t testing.TB) *pfs.Schedule {
	t.Helper()
	r, g, c := openCMS(t, rvuFile), openCMS(t, gpciFile), openCMS(t, countyFile)
	scheduleOnce.Do(func() {
		schedule, scheduleErr = pfs.Load(2025, r, g, c)
	})
	if scheduleErr != nil {
		t.Fatalf("Load: %v", scheduleErr)
	}

	return schedule
}

// The localities the fee tests price in (GPCI2025.csv rows).
var (
	al = pfs.Locality{MAC: "10112", Number: 0} // ALABAMA: 1 / 0.869 / 0.575
	la = pfs.Locality{MAC: "1182", Number: 18} // LOS ANGELES: 1.042 / 1.194 / 0.69
	ny = pfs.Locality{MAC: "13202", Number: 1} // MANHATTAN: 1.065 / 1.166 / 1.656
)
