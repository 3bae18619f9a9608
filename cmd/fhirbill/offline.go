package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/profiles"
)

// offline is the store and the API over it, not served, for commands that
// work on a store without a server (sync, seed, report): they read and
// write through the API's own validated paths.
type offline struct {
	st  *store.Store
	api *rest.Server
}

// openAPI opens the store of f, creates its indexes and builds the API
// over it.
func openAPI(ctx context.Context, f storeFlags, logger *slog.Logger) (*offline, error) {
	reg, err := search.Load(profiles.SearchParameters)
	if err != nil {
		return nil, fmt.Errorf("load search parameters: %w", err)
	}
	st, err := store.Open(ctx, f.storeConfig(logger))
	if err != nil {
		return nil, err // it says "open store: ..."
	}
	o := &offline{st: st}
	var params []*search.Param
	for _, typ := range reg.Types() {
		params = append(params, reg.Params(typ)...)
	}
	if err := st.EnsureIndexes(ctx, params); err != nil {
		o.close()
		return nil, fmt.Errorf("create indexes: %w", err)
	}
	o.api, err = rest.New(st, reg, rest.Config{Base: "http://localhost/fhir", Logger: logger, Version: version})
	if err != nil {
		o.close()
		return nil, err
	}
	return o, nil
}

// close closes the store, waiting at most 10 seconds.
func (o *offline) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = o.st.Close(ctx)
}

// requireDataDir fails when f names the embedded store in a directory that
// does not exist. Opening the store makes the directory and an empty store
// in it, which is right for serve, seed, sync and import pfs, which write,
// but a command that only reads (report) would report on nothing and exit
// 0 when the directory is mistyped.
func (f *storeFlags) requireDataDir(command string) error {
	if f.MongoDBURI != "" {
		return nil
	}
	fi, err := os.Stat(f.DataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--data-dir %s does not exist: %s reads a store and makes none "+
			"(serve, seed, sync and import pfs make one)", f.DataDir, command)
	}
	if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--data-dir %s is not a directory", f.DataDir)
	}
	return nil
}
