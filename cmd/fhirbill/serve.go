package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// storeFlags choose the store and the log level; every command that opens
// the store takes them.
type storeFlags struct {
	MongoDBURI string `name:"mongodb-uri" env:"MONGODB_URI" help:"MongoDB URI; empty runs the embedded store (FerretDB on SQLite) under --data-dir."`
	Database   string `default:"fhirbill" env:"FHIRBILL_DATABASE" help:"Database name."`
	DataDir    string `default:"./data" env:"FHIRBILL_DATA_DIR" help:"Directory of the embedded store's files."`
	LogLevel   string `default:"info" enum:"debug,info,warn,error" env:"FHIRBILL_LOG_LEVEL" help:"Log level: debug, info, warn, error."`
}

func (f *storeFlags) storeConfig(logger *slog.Logger) store.Config {
	return store.Config{URI: f.MongoDBURI, Database: f.Database, DataDir: f.DataDir, Logger: logger}
}

// serveCmd is `fhirbill serve`.
type serveCmd struct {
	storeFlags
	ehrFlags
	authFlags
	Listen          string        `default:"127.0.0.1:8080" env:"FHIRBILL_LISTEN" help:"Address to listen on (host:port; :8080 for all interfaces)."`
	BaseURL         string        `default:"" env:"FHIRBILL_BASE_URL" help:"Public base URL of the FHIR API; its path is where the API is served (default http://localhost:<port>/fhir for a loopback or unspecified host, else http://<host>:<port>/fhir)."`
	MaxBody         int64         `default:"16777216" env:"FHIRBILL_MAX_BODY" help:"Largest request body accepted, in bytes."`
	MaxEntries      int           `default:"1000" env:"FHIRBILL_MAX_ENTRIES" help:"Most entries a batch or transaction Bundle may hold."`
	ShutdownTimeout time.Duration `default:"15s" env:"FHIRBILL_SHUTDOWN_TIMEOUT" help:"How long in-flight requests may take to finish at shutdown."`
	Currency        string        `default:"USD" env:"FHIRBILL_CURRENCY" help:"ISO 4217 code of every amount billed; input in another currency is refused."`
	PprofListen     string        `name:"pprof-listen" env:"FHIRBILL_PPROF_LISTEN" help:"Serve Go's runtime profiles (/debug/pprof/) on this loopback address, for measuring; empty: off."`
}

// config is the validated configuration of serve.
func (c *serveCmd) validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: want host:port", c.Listen)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--base-url must be an absolute http(s) URL")
		}
	}
	if c.MaxBody < 1024 {
		return fmt.Errorf("--max-body must be at least 1024 bytes")
	}
	if c.MaxEntries < 1 {
		return fmt.Errorf("--max-entries must be at least 1")
	}
	if !resource.ValidCurrency(c.Currency) {
		return fmt.Errorf("--currency %q: want an ISO 4217 code such as USD", c.Currency)
	}
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// Run serves until ctx ends, then lets in-flight requests finish and
// closes the store.
func (c *serveCmd) Run(ctx context.Context, stdout io.Writer) error {
	if err := c.validate(); err != nil {
		return err
	}
	logger := newLogger(stdout, c.LogLevel)
	authCfg, err := c.authFlags.load(os.Getenv)
	if err != nil {
		return err
	}
	conns, err := c.ehrFlags.connections()
	if err != nil {
		return err
	}

	a, err := startApp(ctx, appConfig{
		listen: c.Listen, baseURL: c.BaseURL, maxBody: c.MaxBody, maxEntries: c.MaxEntries, currency: c.Currency,
		store: c.storeConfig(logger), auth: authCfg, conns: conns, logger: logger,
	})
	if err != nil {
		return err
	}
	defer a.close()
	if c.PprofListen != "" {
		if err := startPprof(ctx, c.PprofListen, logger); err != nil {
			return err
		}
	}
	if authCfg == nil {
		warnAuthOff(logger, c.authFlags, a.ln.Addr())
	}
	logger.Info("fhirbill serving",
		"version", version, "addr", a.ln.Addr().String(), "base_url", a.base,
		"store", a.storeKind(), "database", c.Database, "max_body", c.MaxBody, "max_entries", c.MaxEntries, "auth", c.Auth)
	return a.serve(ctx, c.ShutdownTimeout)
}

// defaultBase is the base URL when none is configured: the listening
// address, with localhost for a loopback or unspecified host.
func defaultBase(addr *net.TCPAddr) string {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() || addr.IP.IsLoopback() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port)) + "/fhir"
}
