package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/smart"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/profiles"
)

// appConfig is what fhirbill needs to serve, once flags, files and the
// environment have been read: serve and demo build one each.
type appConfig struct {
	listen  string // host:port
	baseURL string // "": defaultBase of the listener
	maxBody int64
	// maxEntries bounds the entries of a batch or transaction; 0 for
	// the REST layer's default.
	maxEntries int
	currency   string
	store      store.Config
	auth       *authConfig       // nil: authorization off
	conns      []*ehr.Connection // the EHRs to pull; none: pushes only
	logger     *slog.Logger
}

// app is fhirbill wired as it serves: the store, the FHIR API with its
// authorization, billing and claim operations, and the EHR connector,
// listening but not yet serving.
type app struct {
	logger *slog.Logger
	ln     net.Listener
	base   string
	reg    *search.Registry
	st     *store.Store
	api    *rest.Server
	auth   *smart.Server // nil with authorization off
	biller *billing.Biller
	syncer *ehr.Syncer // nil without EHR connections
}

// startApp listens, opens the store, creates its indexes and wires the
// API; the EHR connections with an interval start pulling until ctx
// ends. The caller closes the app.
func startApp(ctx context.Context, cfg appConfig) (_ *app, err error) {
	a := &app{logger: cfg.logger}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if a.reg, err = search.Load(profiles.SearchParameters); err != nil {
		return nil, fmt.Errorf("load search parameters: %w", err)
	}

	if a.ln, err = net.Listen("tcp", cfg.listen); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	a.base = cfg.baseURL
	if a.base == "" {
		a.base = defaultBase(a.ln.Addr().(*net.TCPAddr))
	}

	if a.st, err = store.Open(ctx, cfg.store); err != nil {
		return nil, err // it says "open store: ..."
	}
	var params []*search.Param
	for _, typ := range a.reg.Types() {
		params = append(params, a.reg.Params(typ)...)
	}
	if err := a.st.EnsureIndexes(ctx, params); err != nil {
		return nil, fmt.Errorf("create indexes: %w", err)
	}

	restCfg := rest.Config{Base: a.base, MaxBody: cfg.maxBody, MaxEntries: cfg.maxEntries, Logger: a.logger, Version: version}
	if cfg.auth != nil {
		if a.auth, err = newAuth(ctx, cfg.auth, a.base, a.st, a.reg, a.logger); err != nil {
			return nil, err
		}
		restCfg.Authorizer, restCfg.Security = a.auth, a.auth.Security()
	}
	if a.api, err = rest.New(a.st, a.reg, restCfg); err != nil {
		return nil, err
	}
	if a.auth != nil {
		a.auth.Mount(a.api)
	}
	if a.biller, err = startBilling(ctx, a.api, a.st, cfg.currency, a.logger); err != nil {
		return nil, err
	}
	if a.syncer, err = startEHR(ctx, cfg.conns, a.api, a.st, a.biller, a.logger); err != nil {
		return nil, err
	}
	return a, nil
}

// serve answers HTTP on the app's listener until ctx ends, then lets
// in-flight requests finish for at most shutdownTimeout.
func (a *app) serve(ctx context.Context, shutdownTimeout time.Duration) error {
	srv := &http.Server{
		Handler:           a.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// A client that stops sending its body is cut off; a body of the
		// largest size still arrives in time at a few hundred kB/s.
		ReadTimeout:  2 * time.Minute,
		WriteTimeout: 5 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(a.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.logger.Info("shutting down", "timeout", shutdownTimeout.String())
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	a.logger.Info("stopped")
	return nil
}

// close closes the listener and the store, waiting at most 10 seconds
// for the store.
func (a *app) close() {
	if a.ln != nil {
		_ = a.ln.Close() // closed already once served
	}
	if a.st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.st.Close(ctx); err != nil {
		a.logger.Error("close store", "err", err)
	}
}

// storeKind names the store for the start-up log line.
func (a *app) storeKind() string {
	if a.st.Embedded() {
		return "embedded"
	}
	return "mongodb"
}
