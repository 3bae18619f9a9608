package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// demoCmd is `fhirbill demo`: a newcomer's first run. On the embedded
// store it starts the test EHR with the sample patients of
// testdata/demo/ehr, starts fhirbill connected to it as a SMART
// backend-services client (authorization on, as serve runs by default),
// loads the sample reference data (testdata/demo/reference.json: price
// list, payers, plans, fee-list contracts, ConceptMaps; no Medicare fee
// schedule is needed), pulls and bills, builds the Claims, prints where
// to look with tokens to look with, and serves until ctx ends. Every id
// is a natural key, so a second run on the same --data-dir stores
// nothing new.
type demoCmd struct {
	Listen    string `default:"127.0.0.1:8080" env:"FHIRBILL_DEMO_LISTEN" help:"Address fhirbill listens on (host:port)."`
	EHRListen string `name:"ehr-listen" default:"127.0.0.1:0" env:"FHIRBILL_DEMO_EHR_LISTEN" help:"Address the test EHR listens on (host:port; port 0 picks a free one)."`
	DataDir   string `default:"./demo-data" env:"FHIRBILL_DEMO_DATA_DIR" help:"Directory of the demo's store and its log (demo.log); the next run reuses it."`
	Samples   string `default:"testdata/demo" env:"FHIRBILL_DEMO_SAMPLES" help:"Directory of the sample data: reference.json and the EHR's bundles in ehr/."`
	Reset     bool   `help:"Empty --data-dir first (only a directory the demo made)."`
	LogLevel  string `default:"info" enum:"debug,info,warn,error" env:"FHIRBILL_LOG_LEVEL" help:"Level of the JSON log in --data-dir/demo.log: debug, info, warn, error."`
}

// demoMarker is the file that marks a directory as the demo's own, so
// that --reset never empties, and the demo never writes into, a store it
// did not make.
const demoMarker = "fhirbill-demo"

// demoShutdown bounds how long requests in flight may take at Ctrl-C.
const demoShutdown = 5 * time.Second

// Run runs the demo until ctx ends. stdout gets the summary; the logs go
// to demo.log in the data directory, so that the summary stays readable.
func (c *demoCmd) Run(ctx context.Context, stdout io.Writer) error {
	for flag, addr := range map[string]string{"--listen": c.Listen, "--ehr-listen": c.EHRListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s %q: want host:port", flag, addr)
		}
	}
	reference, ehrDir, err := c.samples()
	if err != nil {
		return err
	}
	if err := c.prepareDataDir(); err != nil {
		return err
	}
	logPath := filepath.Join(c.DataDir, "demo.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("demo log: %w", err)
	}
	defer logFile.Close()
	logger := newLogger(logFile, c.LogLevel)

	e, err := startDemoEHR(c.EHRListen, ehrDir, logger)
	if err != nil {
		return err
	}
	defer e.close()
	a, err := startApp(ctx, appConfig{
		listen: c.Listen, maxBody: 16 << 20, currency: "USD",
		store: store.Config{Database: store.DefaultDatabase, DataDir: c.DataDir, Logger: logger},
		// Authorization on, with no backend-services clients: the tokens
		// are the ones the demo mints with the key generated at start.
		auth:  &authConfig{path: "(the demo's built-in configuration)"},
		conns: []*ehr.Connection{e.conn}, logger: logger,
	})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w (is fhirbill serve or another demo running? "+
				"try --listen 127.0.0.1:8081)", err)
		}
		return err
	}
	defer a.close()
	logger.Info("fhirbill demo starting", "version", version, "addr", a.ln.Addr().String(),
		"base_url", a.base, "ehr_base", e.srv.Base(), "data_dir", c.DataDir)

	fmt.Fprintln(stdout, "fhirbill demo: loading the reference data, pulling the test EHR, billing...")
	run, err := runDemo(ctx, stdout, a, e, reference)
	if err != nil {
		if ctx.Err() != nil { // Ctrl-C before it served
			fmt.Fprintln(stdout, "fhirbill demo: stopped")
			return nil
		}
		return err
	}
	run.logPath, run.dataDir = logPath, c.DataDir
	run.write(stdout)

	logger.Info("fhirbill serving", "version", version, "addr", a.ln.Addr().String(), "base_url", a.base,
		"store", a.storeKind(), "auth", "on")
	if err := a.serve(ctx, demoShutdown); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "fhirbill demo: stopped")
	return nil
}

// samples reads the reference data and finds the EHR's bundles.
func (c *demoCmd) samples() (reference []byte, ehrDir string, err error) {
	reference, err = os.ReadFile(filepath.Join(c.Samples, "reference.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("the sample data is not in %s: run the demo from the "+
			"repository's top directory (go run ./cmd/fhirbill demo), or name it with --samples",
			c.Samples)
	}
	if err != nil {
		return nil, "", fmt.Errorf("sample reference data: %w", err)
	}
	return reference, filepath.Join(c.Samples, "ehr"), nil
}

// prepareDataDir makes the data directory, or checks that the one there
// is the demo's; with --reset it empties it first.
func (c *demoCmd) prepareDataDir() error {
	marker := filepath.Join(c.DataDir, demoMarker)
	entries, err := os.ReadDir(c.DataDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("--data-dir: %w", err)
	case len(entries) > 0:
		if _, err := os.Stat(marker); err != nil {
			return fmt.Errorf("--data-dir %s holds files the demo did not make (no %s file): "+
				"name an empty or new directory", c.DataDir, demoMarker)
		}
		if c.Reset {
			// Not under a demo that is running on it.
			release, err := store.LockDataDir(c.DataDir)
			if err != nil {
				return fmt.Errorf("--reset: %w", err)
			}
			removeErr := os.RemoveAll(c.DataDir)
			if err := errors.Join(removeErr, release()); err != nil {
				return fmt.Errorf("--reset: %w", err)
			}
		}
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	text := "This directory is fhirbill demo's store and log (go run ./cmd/fhirbill demo).\n" +
		"The next run reuses it; --reset empties it; deleting it is safe.\n"
	return os.WriteFile(marker, []byte(text), 0o600)
}
