package main

import (
	"context"
	"fmt"
	"log/slog"
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
