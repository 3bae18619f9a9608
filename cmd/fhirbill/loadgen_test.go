package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// allOps is a mix running every operation equally.
const allOps = "create=1,read=1,search-patient=1,search-insurer=1,bill=1,bill-new=1"

// TestLoadgen_EveryOperation runs the load generator against `fhirbill
// serve` on the embedded store, in this process: every operation of the
// mix runs exactly its share of the count (the schedule is exact), none
// fails, the table has a line with percentiles for each, and the server's
// process found by its listening port is this one.
func TestLoadgen_EveryOperation(t *testing.T) {
	base, stop := startServe(t, t.TempDir())
	defer stop()

	var out bytes.Buffer
	args := []string{"loadgen", "--base-url", base, "-n", "60", "-c", "4", "--mix", allOps,
		"--patients", "3", "--progress", "0"}
	if err := run(t.Context(), args, &out, io.Discard); err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out.String())
	}
	text := out.String()
	t.Logf("loadgen printed:\n%s", text)

	if !strings.Contains(text, "ran 60 requests in ") || !strings.Contains(text, "stopped by count") {
		t.Errorf("summary: want 60 requests stopped by count")
	}
	rows := map[string][]string{}
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) > 0 {
			rows[f[0]] = f
		}
	}
	for _, op := range lgOps {
		f := rows[op]
		if len(f) != 8 {
			t.Errorf("%s: got line %q, want name, requests, req/s, p50, p95, p99, max, errors", op, f)
			continue
		}
		if f[1] != "10" {
			t.Errorf("%s: got %s requests, want 10 (60 requests, 6 operations weighing 1)", op, f[1])
		}
		if f[7] != "0" {
			t.Errorf("%s: got errors %s, want 0", op, f[7])
		}
		var ps []float64
		for _, s := range f[3:7] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v <= 0 {
				t.Errorf("%s: latency %q is not a positive number of ms", op, s)
			}
			ps = append(ps, v)
		}
		if !slices.IsSorted(ps) {
			t.Errorf("%s: got p50, p95, p99, max = %v, want them in increasing order", op, ps)
		}
	}
	if f := rows["all"]; len(f) != 4 || f[1] != "60" || f[3] != "0" {
		t.Errorf("all: got %q, want 60 requests and 0 errors", f)
	}

	want := "server pid " + strconv.Itoa(os.Getpid()) + " (listening on port "
	if !strings.Contains(text, want) {
		t.Errorf("server line: want %q, the test process runs the server", want)
	}
	_, after, _ := strings.Cut(text, "peak RSS (VmHWM) ")
	peak, _, _ := strings.Cut(after, " MiB")
	v, err := strconv.ParseFloat(peak, 64)
	own, _, _ := memoryOf(os.Getpid())
	if err != nil || v <= 0 || v > mib(own)+0.05 {
		t.Errorf("got peak RSS %q MiB, want above 0 and at most this process's VmHWM now, %.1f MiB", peak, mib(own))
	}
}

// TestLoadgen_JSON checks the machine-readable report of a run against
// the same server: counts per operation, no errors, the server's memory.
func TestLoadgen_JSON(t *testing.T) {
	base, stop := startServe(t, t.TempDir())
	defer stop()

	var out bytes.Buffer
	args := []string{"loadgen", "--base-url", base, "-n", "20", "-c", "2", "--mix", "create=3,read=1,bill-new=1",
		"--patients", "2", "--progress", "0", "--json"}
	if err := run(t.Context(), args, &out, io.Discard); err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out.String())
	}
	var r report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("decode %s: %v", out.String(), err)
	}
	if r.Requests != 20 || r.Errors != 0 || r.StoppedBy != stoppedCount || r.Mix != "create=3,read=1,bill-new=1" {
		t.Errorf("got %d requests, %d errors, stopped by %s, mix %s; want 20, 0, count, the mix given",
			r.Requests, r.Errors, r.StoppedBy, r.Mix)
	}
	wantCount := map[string]int64{lgCreate: 12, lgRead: 4, lgBillNew: 4} // 20 requests in weights 3:1:1
	if len(r.Operations) != len(wantCount) {
		t.Errorf("got %d operations, want %d", len(r.Operations), len(wantCount))
	}
	for _, o := range r.Operations {
		ok := o.Requests == wantCount[o.Name] && len(o.Errors) == 0
		if !ok || o.Latency.P50 <= 0 || o.Latency.Max < o.Latency.P99 {
			t.Errorf("%s: got %+v, want %d requests, no errors, positive percentiles", o.Name, o, wantCount[o.Name])
		}
	}
	// The seeded finished visits are billed as the server stores them,
	// though bill is not in the mix.
	if r.Seed == nil || r.Seed.Fresh != 4 || r.Seed.Patients != 2 || r.Seed.Billed != 2 {
		t.Errorf("seed: got %+v, want 4 fresh Encounters (bill-new's share), 2 Patients, 2 Encounters billed", r.Seed)
	}
	own, _, _ := memoryOf(os.Getpid())
	if r.Server.PID != os.Getpid() || r.Server.PeakRSSBytes <= 0 || r.Server.PeakRSSBytes > own {
		t.Errorf("server: got %+v, want pid %d and a peak RSS up to its VmHWM now, %d", r.Server, os.Getpid(), own)
	}

	// What bill-new billed is there: the Invoice of the first fresh visit.
	resp, err := http.Get(base + "/Invoice/" + r.Run + "-f1-patient")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("Invoice of the first fresh Encounter: got %d, want 200", resp.StatusCode)
	}
}

// TestLoadgen_Stops ends runs by duration and by an interrupt, before the
// count, and still reports what was measured.
func TestLoadgen_Stops(t *testing.T) {
	base, stop := startServe(t, t.TempDir())
	defer stop()

	for _, tc := range []struct {
		name      string
		duration  time.Duration
		interrupt bool
		want      string
	}{
		{name: "Duration", duration: time.Second, want: stoppedDuration},
		{name: "Interrupt", duration: time.Hour, interrupt: true, want: stoppedInterrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var out bytes.Buffer
			c := &loadgenCmd{
				BaseURL: base, Requests: 1_000_000, Duration: tc.duration, Concurrency: 2,
				Mix: "read=2,search-insurer=1", Patients: 1, Timeout: 30 * time.Second, JSON: true,
				log: io.Discard,
			}
			if tc.interrupt {
				c.onStart = func() { time.AfterFunc(time.Second, cancel) }
			}
			if err := c.Run(ctx, &out); err != nil {
				t.Fatalf("loadgen: %v", err)
			}
			var r report
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("decode %s: %v", out.String(), err)
			}
			if r.StoppedBy != tc.want || r.Requests == 0 || r.Requests >= 1_000_000 || r.Errors != 0 {
				t.Errorf("got stopped by %s after %d requests, %d errors; want %s, some requests, no errors",
					r.StoppedBy, r.Requests, r.Errors, tc.want)
			}
			if len(r.Operations) != 2 || r.Operations[0].Requests == 0 {
				t.Errorf("got operations %+v, want read and search-insurer measured", r.Operations)
			}
		})
	}
}

// TestLoadgen_RefusesNonLoopback: a base URL whose host is not on this
// machine is refused before any request.
func TestLoadgen_RefusesNonLoopback(t *testing.T) {
	for _, base := range []string{
		"http://192.0.2.10:8080/fhir", // TEST-NET-1
		"http://[2001:db8::1]/fhir",   // documentation range
		"https://10.0.0.1/fhir",
		"http://0.0.0.0:8080/fhir", // unspecified is not loopback
	} {
		var out bytes.Buffer
		err := run(t.Context(), []string{"loadgen", "--base-url", base, "-n", "1", "--progress", "0"}, &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
			t.Errorf("%s: got %v, want a refusal naming loopback", base, err)
		}
	}
	for _, base := range []string{"ftp://localhost/fhir", "localhost:8080", "http://localhost:99999/fhir"} {
		if err := run(t.Context(), []string{"loadgen", "--base-url", base}, io.Discard, io.Discard); err == nil {
			t.Errorf("%s: got nil error, want a bad --base-url", base)
		}
	}
	for _, base := range []string{
		"http://127.0.0.1:8080/fhir", "http://127.9.9.9/fhir", "http://[::1]:8080/fhir/", "http://localhost:8080/fhir",
	} {
		if _, _, err := loopbackTarget(t.Context(), base); err != nil {
			t.Errorf("%s: got %v, want it accepted", base, err)
		}
	}
}

// TestLoadgen_Token sends the bearer token of FHIRBILL_TOKEN, and without
// one says how to pass it when the server answers 401.
func TestLoadgen_Token(t *testing.T) {
	var mu sync.Mutex
	var got []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer hs.Close()
	args := []string{"loadgen", "--base-url", hs.URL + "/fhir", "-n", "1", "--progress", "0"}

	err := run(t.Context(), args, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--token") {
		t.Errorf("without a token: got %v, want an error saying to pass --token", err)
	}
	t.Setenv("FHIRBILL_TOKEN", "t0ken")
	if err := run(t.Context(), args, io.Discard, io.Discard); err == nil {
		t.Errorf("with a refused token: got nil error")
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"", "Bearer t0ken"}; !slices.Equal(got, want) {
		t.Errorf("got Authorization headers %q, want %q", got, want)
	}
}

// TestLoadgen_PIDByPort finds this process from a socket it listens on,
// over IPv4 and IPv6 loopback, and says when nothing listens.
func TestLoadgen_PIDByPort(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v (no IPv6 here?)", addr, err)
			continue
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pid, err := pidListeningOn(port)
		if err != nil || pid != os.Getpid() {
			t.Errorf("%s: got pid %d, %v; want this process, %d", ln.Addr(), pid, err, os.Getpid())
		}
		ln.Close()
		if pid, err := pidListeningOn(port); err == nil {
			t.Errorf("%s closed: got pid %d, want an error", ln.Addr(), pid)
		}
	}
	peak, rss, err := memoryOf(os.Getpid())
	if err != nil || peak <= 0 || rss <= 0 || rss > peak {
		t.Errorf("memoryOf(self): got peak %d, rss %d, %v; want 0 < rss <= peak", peak, rss, err)
	}
}

func TestLoadgen_ProcTable(t *testing.T) {
	// Lines in the format of /proc/net/tcp and tcp6 (little-endian words).
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0
   2: 0A00000A:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 100 0 0 10 0
   3: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 444 1 0000000000000000 100 0 0 10 0
   4: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 100 0 0 10 0
`
	if got, want := listeningInodes([]byte(tcp), 8080), []string{"111", "222"}; !slices.Equal(got, want) {
		t.Errorf("tcp, port 8080: got inodes %v, want %v (loopback and any-address listeners only)", got, want)
	}
	tcp6 := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 666 1 0000000000000000 100 0 0 10 0
`
	if got, want := listeningInodes([]byte(tcp6), 8080), []string{"666"}; !slices.Equal(got, want) {
		t.Errorf("tcp6, port 8080: got inodes %v, want %v (::1)", got, want)
	}
}

func TestLoadgen_Mix(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string // String of the parsed mix
		wantErr bool
	}{
		{in: defaultMix, want: defaultMix},
		{in: " read=1 , bill=0,create=2", want: "create=2,read=1"},
		{in: "read=1,read=2", wantErr: true},
		{in: "reed=1", wantErr: true},
		{in: "read", wantErr: true},
		{in: "read=-1", wantErr: true},
		{in: "read=1.5", wantErr: true},
		{in: "read=1001", wantErr: true},
		{in: "read=0", wantErr: true},
		{in: "", wantErr: true},
	} {
		m, err := parseMix(tc.in)
		if (err != nil) != tc.wantErr || err == nil && m.String() != tc.want {
			t.Errorf("parseMix(%q): got %v, %v; want %q, error %v", tc.in, m, err, tc.want, tc.wantErr)
		}
	}

	m, _ := parseMix("create=3,read=1,bill=2")
	s := m.schedule()
	if got, want := s, []int{0, 4, 0, 1, 4, 0}; !slices.Equal(got, want) {
		t.Errorf("schedule of %s: got %v, want %v (spread evenly)", m, got, want)
	}
	for _, n := range []int{0, 1, 5, 6, 7, 100} {
		for op := range lgOpCount {
			want := 0
			for i := range n {
				if s[i%len(s)] == op {
					want++
				}
			}
			if got := countIn(s, op, n); got != want {
				t.Errorf("countIn(%v, %d, %d): got %d, want %d", s, op, n, got, want)
			}
		}
	}
}
