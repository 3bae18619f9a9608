package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// report is what `fhirbill loadgen` prints at the end, as text or, with
// --json, as this JSON object.
type report struct {
	BaseURL     string       `json:"base_url"`
	Run         string       `json:"run"` // the prefix of the ids seeded and created
	Concurrency int          `json:"concurrency"`
	Mix         string       `json:"mix"`
	Seed        *seedReport  `json:"seed"`
	StoppedBy   string       `json:"stopped_by"` // count, duration or interrupt
	Seconds     float64      `json:"seconds"`    // of the timed run
	Requests    int64        `json:"requests"`   // answered, successes and errors
	Errors      int64        `json:"errors"`
	Cancelled   int64        `json:"cancelled"`  // in flight at an interrupt, not counted
	Throughput  float64      `json:"throughput"` // requests answered per second
	Operations  []opReport   `json:"operations"`
	Server      serverReport `json:"server"`
}

// opReport is one operation's part of a report.
type opReport struct {
	Name       string           `json:"name"`
	Weight     int              `json:"weight"`
	Requests   int64            `json:"requests"`
	Errors     map[string]int64 `json:"errors"` // by status code, "network" or "timeout"
	Skipped    int64            `json:"skipped,omitempty"`
	Throughput float64          `json:"throughput"`
	// Latency is of the successful requests, in milliseconds.
	Latency  latency `json:"latency_ms"`
	FirstNet string  `json:"first_network_error,omitempty"`
}

// latency holds percentiles of the successful requests, in milliseconds.
type latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// serverReport is the memory of the server's process.
type serverReport struct {
	PID          int    `json:"pid,omitempty"`
	FoundBy      string `json:"found_by,omitempty"` // "--pid", or the port it listens on
	PeakRSSBytes int64  `json:"peak_rss_bytes,omitempty"`
	RSSBytes     int64  `json:"rss_bytes,omitempty"`
	Error        string `json:"error,omitempty"` // why it is not known
}

// newReport sums up a run.
func newReport(res runResult, m mix) *report {
	st := res.stats
	secs := res.elapsed.Seconds()
	r := &report{
		StoppedBy: res.stoppedBy,
		Seconds:   secs,
		Requests:  st.answered.Load(),
		Errors:    st.failed.Load(),
		Cancelled: st.cancelled.Load(),
	}
	r.Throughput = perSecond(r.Requests, secs)
	for i, w := range m {
		if w == 0 {
			continue
		}
		o := &st.ops[i]
		o.mu.Lock()
		us := func(q float64) float64 { return float64(o.hist.ValueAtQuantile(q)) / 1000 }
		r.Operations = append(r.Operations, opReport{
			Name:       lgOps[i],
			Weight:     w,
			Requests:   o.answered,
			Errors:     maps.Clone(o.errors),
			Skipped:    o.skipped,
			Throughput: perSecond(o.answered, secs),
			Latency:    latency{P50: us(50), P95: us(95), P99: us(99), Max: float64(o.hist.Max()) / 1000},
			FirstNet:   o.firstNet,
		})
		o.mu.Unlock()
	}
	return r
}

func perSecond(n int64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

// writeJSON prints r as one indented JSON object.
func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeText prints r for a person: a summary, a table with a line per
// operation, and the server's memory.
func (r *report) writeText(w io.Writer) error {
	fmt.Fprintf(w, "fhirbill loadgen: %s, run %s, %d workers, mix %s\n", r.BaseURL, r.Run, r.Concurrency, r.Mix)
	if s := r.Seed; s != nil {
		fmt.Fprintf(w, "seeded in %.1fs (not measured): %d Patients, %d insurers, %d Claims, %d Invoices, "+
			"%d finished Encounters billed, %d fresh Encounters\n",
			s.Seconds, s.Patients, s.Insurers, s.Claims, s.Invoices, s.Billed, s.Fresh)
	}
	fmt.Fprintf(w, "ran %d requests in %.2fs, stopped by %s: %.1f requests/s, %d errors",
		r.Requests, r.Seconds, r.StoppedBy, r.Throughput, r.Errors)
	if r.Cancelled > 0 {
		fmt.Fprintf(w, ", %d cancelled in flight", r.Cancelled)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "operation\trequests\treq/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\terrors")
	for _, o := range r.Operations {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\n", o.Name, o.Requests, o.Throughput,
			o.Latency.P50, o.Latency.P95, o.Latency.P99, o.Latency.Max, errorText(o.Errors))
	}
	fmt.Fprintf(tw, "all\t%d\t%.1f\t\t\t\t\t%d\n", r.Requests, r.Throughput, r.Errors)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "latencies are of the successful requests; errors by HTTP status")
	for _, o := range r.Operations {
		if o.Skipped > 0 {
			fmt.Fprintf(w, "%s: %d not sent, no fresh Encounter left (--fresh)\n", o.Name, o.Skipped)
		}
		if o.FirstNet != "" {
			fmt.Fprintf(w, "%s: first network error: %s\n", o.Name, o.FirstNet)
		}
	}

	s := r.Server
	if s.Error != "" {
		_, err := fmt.Fprintf(w, "server peak RSS: unknown: %s\n", s.Error)
		return err
	}
	_, err := fmt.Fprintf(w, "server pid %d (%s): peak RSS (VmHWM) %.1f MiB, RSS now %.1f MiB\n",
		s.PID, s.FoundBy, mib(s.PeakRSSBytes), mib(s.RSSBytes))
	return err
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// errorText is "0", or the count and its statuses: "3 (404:1 network:2)".
func errorText(errs map[string]int64) string {
	var n int64
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		n += errs[k]
		parts = append(parts, fmt.Sprintf("%s:%d", k, errs[k]))
	}
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, " "))
}
