package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// loadgenCmd is `fhirbill loadgen`: it seeds a fhirbill server on this
// machine through its API, sends it a weighted mix of operations from
// concurrent workers until a count or a duration is reached (or Ctrl-C),
// and prints per operation the requests, errors, throughput and latency
// percentiles, and the server's peak RSS. Seeding is not measured.
type loadgenCmd struct {
	BaseURL     string        `name:"base-url" default:"http://localhost:8080/fhir" env:"FHIRBILL_LOADGEN_BASE_URL" help:"FHIR base URL of the server under load; its host must resolve to loopback addresses only."`
	Requests    int           `short:"n" default:"1000" env:"FHIRBILL_LOADGEN_REQUESTS" help:"Requests of the timed run; it ends at this count or after --duration, whichever comes first."`
	Duration    time.Duration `short:"d" default:"1m" env:"FHIRBILL_LOADGEN_DURATION" help:"Longest time the timed run takes."`
	Concurrency int           `short:"c" default:"8" env:"FHIRBILL_LOADGEN_CONCURRENCY" help:"Requests in flight at once (workers)."`
	Mix         string        `default:"${loadgen_mix}" env:"FHIRBILL_LOADGEN_MIX" help:"Weighted operations, name=weight,...: create, read, search-patient, search-insurer, bill (re-bills, storing nothing), bill-new (finishes a visit in progress, which the server bills as it stores it)."`
	Patients    int           `default:"10" env:"FHIRBILL_LOADGEN_PATIENTS" help:"Patients seeded, each with a Coverage, an Invoice, Claims and a finished Encounter, which the server bills as it stores it."`
	Fresh       int           `default:"0" env:"FHIRBILL_LOADGEN_FRESH" help:"Fresh Encounters seeded for bill-new; 0 seeds as many as bill-new's share of --requests."`
	Token       string        `env:"FHIRBILL_TOKEN" help:"Bearer token sent with every request (a server with SMART auth on needs one)."`
	PID         int           `name:"pid" help:"Process id of the server, for its peak RSS; found from the base URL's listening port when not given."`
	Timeout     time.Duration `default:"30s" help:"Longest wait for one answer."`
	Progress    time.Duration `default:"5s" help:"Print a progress line to stderr at this interval; 0 for none."`
	JSON        bool          `name:"json" help:"Print the results as one JSON object."`

	// log receives progress lines (os.Stderr when nil); onStart, when set,
	// is called as the timed run starts. Tests set them.
	log     io.Writer `kong:"-"`
	onStart func()    `kong:"-"`
}

// validate checks the flags and returns the mix.
func (c *loadgenCmd) validate() (mix, error) {
	switch {
	case c.Requests < 1:
		return mix{}, errors.New("--requests must be at least 1")
	case c.Duration <= 0:
		return mix{}, errors.New("--duration must be above 0")
	case c.Concurrency < 1 || c.Concurrency > 1000:
		return mix{}, errors.New("--concurrency must be from 1 to 1000")
	case c.Patients < 1 || c.Patients > 1000:
		return mix{}, errors.New("--patients must be from 1 to 1000")
	case c.Fresh < 0:
		return mix{}, errors.New("--fresh must not be negative")
	case c.Timeout <= 0:
		return mix{}, errors.New("--timeout must be above 0")
	case c.Progress < 0:
		return mix{}, errors.New("--progress must not be negative")
	case c.PID < 0:
		return mix{}, errors.New("--pid must not be negative")
	}
	return parseMix(c.Mix)
}

// Run seeds, runs and reports. An interrupt during the run stops it and
// still prints what was measured; one during seeding measures nothing.
func (c *loadgenCmd) Run(ctx context.Context, stdout io.Writer) error {
	m, err := c.validate()
	if err != nil {
		return err
	}
	base, port, err := loopbackTarget(ctx, c.BaseURL)
	if err != nil {
		return err
	}
	log := c.log
	if log == nil {
		log = os.Stderr
	}

	schedule := m.schedule()
	fresh := 0
	if i := lgOpIndex(lgBillNew); m[i] > 0 {
		fresh = c.Fresh
		if fresh == 0 {
			fresh = countIn(schedule, i, c.Requests)
		}
	}
	l := &loader{
		base:   base.String(),
		client: loopbackClient(c.Concurrency, c.Timeout),
		token:  c.Token,
		fix:    newFixture(newRunID(), c.Patients, fresh),
	}
	fmt.Fprintf(log, "loadgen: seeding run %s on %s\n", l.fix.run, l.base)
	sr, err := l.seed(ctx, m[lgOpIndex(lgBill)] > 0, log)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted while seeding; nothing was measured")
		}
		var se *statusError
		if errors.As(err, &se) && (se.status == http.StatusUnauthorized || se.status == http.StatusForbidden) {
			return fmt.Errorf("%w (pass a token with --token or FHIRBILL_TOKEN, or run the server with auth off)", err)
		}
		return err
	}
	server := c.server(port)

	fmt.Fprintf(log, "loadgen: running %d requests for at most %s, %d workers\n", c.Requests, c.Duration, c.Concurrency)
	if c.onStart != nil {
		c.onStart()
	}
	res := l.run(ctx, schedule, runLimits{
		requests: c.Requests, duration: c.Duration, concurrency: c.Concurrency, progress: c.Progress,
	}, log)

	r := newReport(res, m)
	r.BaseURL, r.Run, r.Concurrency, r.Mix, r.Seed = l.base, l.fix.run, c.Concurrency, m.String(), sr
	if server.Error == "" {
		peak, now, err := memoryOf(server.PID)
		if err != nil {
			server.Error = fmt.Sprintf("pid %d: %v", server.PID, err)
		}
		server.PeakRSSBytes, server.RSSBytes = peak, now
	}
	r.Server = server
	if c.JSON {
		return r.writeJSON(stdout)
	}
	return r.writeText(stdout)
}

// server is the server's process: --pid, else the owner of the socket
// listening on port; Error says why it is not known.
func (c *loadgenCmd) server(port int) serverReport {
	if c.PID > 0 {
		return serverReport{PID: c.PID, FoundBy: "--pid"}
	}
	pid, err := pidListeningOn(port)
	if err != nil {
		return serverReport{Error: fmt.Sprintf("no server process found: %v", err)}
	}
	return serverReport{PID: pid, FoundBy: fmt.Sprintf("listening on port %d", port)}
}
