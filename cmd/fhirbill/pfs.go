package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/billing/pfs"
	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// importPFSCmd is `fhirbill import pfs`: it loads one year of the CMS
// Medicare Physician Fee Schedule files into the store.
type importPFSCmd struct {
	storeFlags
	Year     int    `required:"" help:"Calendar year of the fee schedule (dates of service in that year are priced with it)."`
	Dir      string `help:"Directory holding the three CMS files (PPRRVU*.csv, GPCI*.csv, *LOCCO*.csv); or name each file."`
	RVU      string `name:"rvu" help:"The PPRRVU relative value file (CSV)." type:"existingfile"`
	GPCI     string `name:"gpci" help:"The GPCI file (CSV)." type:"existingfile"`
	Counties string `help:"The county-to-locality file (CSV)." type:"existingfile"`
}

// pfsFiles is how the CMS files are kept in the store: as published, so an
// import is exact and a later fhirbill can parse them again.
type pfsFiles struct {
	Year     int    `json:"year"`
	RVU      string `json:"rvu"`
	GPCI     string `json:"gpci"`
	Counties string `json:"counties"`

	paths [3]string // where RVU, GPCI and Counties were read from, for errors
}

func pfsBlobName(year int) string { return "pfs/" + strconv.Itoa(year) }

// Run parses the files (refusing them if they do not parse), stores them
// and says what it loaded.
func (c *importPFSCmd) Run(ctx context.Context, stdout io.Writer, logOut logOutput) error {
	if c.Year < 1992 || c.Year > 2100 {
		return fmt.Errorf("--year %d is not a fee schedule year", c.Year)
	}
	paths, err := c.files()
	if err != nil {
		return err
	}
	f := pfsFiles{Year: c.Year}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		*[]*string{&f.RVU, &f.GPCI, &f.Counties}[i] = string(b)
		f.paths[i] = p
	}
	if err := f.checkYear(); err != nil {
		return err
	}
	sched, rows, err := f.parse()
	if err != nil {
		return fmt.Errorf("the files do not parse: %w", err)
	}

	logger := newLogger(logOut, c.LogLevel)
	st, err := store.Open(ctx, c.storeConfig(logger))
	if err != nil {
		return err // it says "open store: ..."
	}
	defer st.Close(context.Background())
	if err := putPFS(ctx, st, &f); err != nil {
		return err
	}
	logger.Info("fee schedule imported", "year", c.Year, "rvu_rows", rows.rvu, "gpci_rows", rows.gpci,
		"county_rows", rows.counties, "localities", len(sched.Localities()), "conversion_factor", sched.CF.String())
	_, err = fmt.Fprintf(stdout, "imported the %d Medicare Physician Fee Schedule: %d RVU rows, "+
		"%d GPCI rows (localities), %d county rows; conversion factor %s\n",
		c.Year, rows.rvu, rows.gpci, rows.counties, sched.CF.String())
	return err
}

// storePFS parses the files of f, refusing them if they do not parse, and
// stores them as the fee schedule of f.Year.
func storePFS(ctx context.Context, st *store.Store, f *pfsFiles) (*pfs.Schedule, error) {
	sched, _, err := f.parse()
	if err != nil {
		return nil, fmt.Errorf("the files do not parse: %w", err)
	}
	return sched, putPFS(ctx, st, f)
}

// putPFS stores the files of f, parsed already, as the fee schedule of
// f.Year.
func putPFS(ctx context.Context, st *store.Store, f *pfsFiles) error {
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return st.PutBlob(ctx, pfsBlobName(f.Year), data, time.Now())
}

// files returns the paths of the RVU, GPCI and county files.
func (c *importPFSCmd) files() ([]string, error) {
	paths := []string{c.RVU, c.GPCI, c.Counties}
	patterns := []string{"PPRRVU*.csv", "GPCI*.csv", "*LOCCO*.csv"}
	for i := range paths {
		if paths[i] != "" {
			continue
		}
		if c.Dir == "" {
			return nil, errors.New("give --dir, or --rvu, --gpci and --counties")
		}
		m, _ := filepath.Glob(filepath.Join(c.Dir, patterns[i]))
		if len(m) != 1 {
			return nil, fmt.Errorf("want exactly one %s in %s, found %d", patterns[i], c.Dir, len(m))
		}
		paths[i] = m[0]
	}
	return paths, nil
}

// checkYear refuses files whose titles state a year other than f.Year:
// each CMS file names its year in its first line (see [pfs.TitleYear]).
func (f *pfsFiles) checkYear() error {
	for i, content := range []string{f.RVU, f.GPCI, f.Counties} {
		if y := pfs.TitleYear(strings.NewReader(content)); y != 0 && y != f.Year {
			return fmt.Errorf("--year %d, but the title of %s says it is the %d fee schedule; "+
				"nothing imported", f.Year, f.paths[i], y)
		}
	}
	return nil
}

// pfsRows counts the rows parsed from each file of an import.
type pfsRows struct {
	rvu, gpci, counties int
}

// parse parses the files of f into the schedule of f.Year.
func (f *pfsFiles) parse() (*pfs.Schedule, pfsRows, error) {
	rvus, err := pfs.ParseRVU(strings.NewReader(f.RVU))
	if err != nil {
		return nil, pfsRows{}, f.inFile(0, err)
	}
	gpcis, err := pfs.ParseGPCI(strings.NewReader(f.GPCI))
	if err != nil {
		return nil, pfsRows{}, f.inFile(1, err)
	}
	counties, err := pfs.ParseCounties(strings.NewReader(f.Counties))
	if err != nil {
		return nil, pfsRows{}, f.inFile(2, err)
	}
	sched, err := pfs.NewSchedule(f.Year, rvus, gpcis, counties)
	return sched, pfsRows{rvu: len(rvus), gpci: len(gpcis), counties: len(counties)}, err
}

// inFile prefixes err with the path file i was read from, when known.
func (f *pfsFiles) inFile(i int, err error) error {
	if f.paths[i] == "" {
		return err
	}
	return fmt.Errorf("%s: %w", f.paths[i], err)
}

func (f *pfsFiles) schedule() (*pfs.Schedule, error) {
	sched, _, err := f.parse()
	return sched, err
}

// feeSchedules serves billing the imported fee schedules, parsed once and
// kept in memory; a copy is reloaded when a newer import is stored (a
// cheap check of the import time by _id).
type feeSchedules struct {
	st *store.Store

	mu     sync.Mutex
	loaded map[int]loadedSchedule
}

type loadedSchedule struct {
	at    time.Time
	sched *pfs.Schedule
}

func newFeeSchedules(st *store.Store) *feeSchedules {
	return &feeSchedules{st: st, loaded: make(map[int]loadedSchedule)}
}

// Schedule implements billing.FeeSchedules.
func (fs *feeSchedules) Schedule(ctx context.Context, year int) (*pfs.Schedule, error) {
	name := pfsBlobName(year)
	at, err := fs.st.BlobTime(ctx, name)
	if errors.Is(err, resource.ErrNotFound) {
		return nil, fmt.Errorf("fee schedule %d: %w", year, billing.ErrNoSchedule)
	}
	if err != nil {
		return nil, err
	}

	fs.mu.Lock()
	defer fs.mu.Unlock()
	if l, ok := fs.loaded[year]; ok && l.at.Equal(at) {
		return l.sched, nil
	}
	data, at, err := fs.st.GetBlob(ctx, name)
	if err != nil {
		return nil, err
	}
	var f pfsFiles
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("fee schedule %d: %w", year, err)
	}
	sched, err := f.schedule()
	if err != nil {
		return nil, fmt.Errorf("fee schedule %d: %w", year, err)
	}
	fs.loaded[year] = loadedSchedule{at: at, sched: sched}
	return sched, nil
}
