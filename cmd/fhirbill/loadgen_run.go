package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// loader sends the requests of a run to one server.
type loader struct {
	base   string // the FHIR base URL, without a trailing slash
	client *http.Client
	token  string // sent as a bearer token when not empty
	fix    *fixture
}

// request builds a request to the base URL plus path, with the token.
func (l *loader) request(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if l.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.token)
	}
	return req, nil
}

// lgRequest is one request of an operation, and the status that means it
// succeeded.
type lgRequest struct {
	method, path string
	body         []byte
	want         int
	created      bool // a created Invoice: remember its id for reads
}

// callFor picks the target of one request of operation op; false when
// bill-new has no fresh Encounter left.
func (l *loader) callFor(op int) (lgRequest, bool) {
	f := l.fix
	patient := f.patients[rand.IntN(len(f.patients))]
	switch lgOps[op] {
	case lgCreate:
		return lgRequest{method: http.MethodPost, path: "/Invoice", want: http.StatusCreated, created: true,
			body: []byte(invoiceJSON("", patient, f.run+"-clinic"))}, true
	case lgRead:
		return lgRequest{method: http.MethodGet, path: "/Invoice/" + f.anyInvoice(), want: http.StatusOK}, true
	case lgSearchPatient:
		return lgRequest{method: http.MethodGet, path: "/Invoice?patient=Patient/" + patient, want: http.StatusOK}, true
	case lgSearchInsurer:
		ins := f.insurers[rand.IntN(len(f.insurers))]
		return lgRequest{method: http.MethodGet, path: "/Claim?insurer=Organization/" + ins, want: http.StatusOK}, true
	case lgBill:
		enc := f.billed[rand.IntN(len(f.billed))]
		return lgRequest{method: http.MethodPost, path: "/Encounter/" + enc + "/$bill", want: http.StatusOK}, true
	case lgBillNew:
		// The EHR closes the visit: the server bills a finished Encounter
		// it is sent before it answers.
		v, ok := f.takeFresh()
		return lgRequest{method: http.MethodPut, path: "/Encounter/" + v.id, want: http.StatusOK,
			body: []byte(f.encounterJSON(v.id, v.patient, v.day, "finished"))}, ok
	}
	panic("loadgen: unknown operation " + strconv.Itoa(op))
}

// Latencies are recorded in microseconds, from 1 µs to 10 minutes, to 3
// significant digits.
const (
	histMin = 1
	histMax = int64(10 * time.Minute / time.Microsecond)
	histSig = 3
)

// opStats are the answers of one operation so far.
type opStats struct {
	mu       sync.Mutex
	hist     *hdrhistogram.Histogram // latencies of the successful requests
	answered int64                   // successes and errors
	errors   map[string]int64        // by status code, or "network" / "timeout"
	skipped  int64                   // bill-new without a fresh Encounter left
	firstNet string                  // the first network error, for the report
}

// stats are the answers of a run so far.
type stats struct {
	ops       [lgOpCount]opStats
	answered  atomic.Int64
	failed    atomic.Int64
	cancelled atomic.Int64 // in flight when the run was interrupted
}

func newStats() *stats {
	s := &stats{}
	for i := range s.ops {
		s.ops[i].hist = hdrhistogram.New(histMin, histMax, histSig)
		s.ops[i].errors = map[string]int64{}
	}
	return s
}

func (s *stats) success(op int, d time.Duration) {
	us := min(max(d.Microseconds(), histMin), histMax)
	o := &s.ops[op]
	o.mu.Lock()
	_ = o.hist.RecordValue(us) // in range by construction
	o.answered++
	o.mu.Unlock()
	s.answered.Add(1)
}

func (s *stats) failure(op int, kind string, err error) {
	o := &s.ops[op]
	o.mu.Lock()
	o.errors[kind]++
	o.answered++
	if err != nil && o.firstNet == "" {
		o.firstNet = err.Error()
	}
	o.mu.Unlock()
	s.answered.Add(1)
	s.failed.Add(1)
}

func (s *stats) skip(op int) {
	o := &s.ops[op]
	o.mu.Lock()
	o.skipped++
	o.mu.Unlock()
}

// runLimits bound a run: it stops at requests, after duration or when
// ctx ends, whichever comes first.
type runLimits struct {
	requests    int
	duration    time.Duration
	concurrency int
	progress    time.Duration // 0: no progress lines
}

// Why a run stopped.
const (
	stoppedCount     = "count"
	stoppedDuration  = "duration"
	stoppedInterrupt = "interrupt"
)

// runResult is a finished run.
type runResult struct {
	stats     *stats
	elapsed   time.Duration
	stoppedBy string
}

// run sends requests following schedule until a limit is reached. At the
// count or the duration, requests in flight are let finish; when ctx ends
// (Ctrl-C) they are abandoned and counted as cancelled.
func (l *loader) run(ctx context.Context, schedule []int, lim runLimits, log io.Writer) runResult {
	st := newStats()
	start := time.Now()
	deadline := start.Add(lim.duration)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range lim.concurrency {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				n := next.Add(1) - 1
				if n >= int64(lim.requests) {
					return
				}
				l.once(ctx, schedule[n%int64(len(schedule))], st)
			}
		})
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if lim.progress > 0 {
		progress(done, start, lim.progress, st, log)
	}
	<-done

	res := runResult{stats: st, elapsed: time.Since(start), stoppedBy: stoppedDuration}
	switch {
	case ctx.Err() != nil:
		res.stoppedBy = stoppedInterrupt
	case next.Load() >= int64(lim.requests):
		res.stoppedBy = stoppedCount
	}
	return res
}

// once sends one request of operation op and records its answer.
func (l *loader) once(ctx context.Context, op int, st *stats) {
	c, ok := l.callFor(op)
	if !ok {
		st.skip(op)
		return
	}
	req, err := l.request(ctx, c.method, c.path, c.body)
	if err != nil {
		panic("loadgen: " + err.Error()) // the paths are ours
	}

	start := time.Now()
	resp, err := l.client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	took := time.Since(start)

	switch {
	case err != nil && ctx.Err() != nil:
		st.cancelled.Add(1)
	case err != nil:
		kind := "network"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			kind = "timeout"
		}
		st.failure(op, kind, err)
	case resp.StatusCode != c.want:
		st.failure(op, strconv.Itoa(resp.StatusCode), nil)
	case c.created:
		id, ok := createdID(resp.Header.Get("Location"), "Invoice")
		if !ok {
			st.failure(op, strconv.Itoa(resp.StatusCode)+" without Location", nil)
			return
		}
		l.fix.addInvoice(id)
		st.success(op, took)
	default:
		st.success(op, took)
	}
}

// createdID is the id in a Location header of a create:
// [base]/[type]/[id]/_history/[vid].
func createdID(loc, typ string) (string, bool) {
	_, rest, ok := strings.Cut(loc, "/"+typ+"/")
	if !ok {
		return "", false
	}
	id, _, _ := strings.Cut(rest, "/")
	return id, id != ""
}

// progress prints a line to log every interval until done closes.
func progress(done <-chan struct{}, start time.Time, interval time.Duration, st *stats, log io.Writer) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last int64
	lastT := start
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			n := st.answered.Load()
			fmt.Fprintf(log, "loadgen: %s, %d requests, %.1f/s since the last line, %d errors\n",
				now.Sub(start).Round(time.Second), n, float64(n-last)/now.Sub(lastT).Seconds(), st.failed.Load())
			last, lastT = n, now
		}
	}
}
