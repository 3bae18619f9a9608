package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink shared by the server goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServe runs `fhirbill serve --auth=off` on an embedded store in dir
// and returns its base URL and a stop function that waits for a clean
// shutdown.
func startServe(t *testing.T, dir string) (string, func()) {
	t.Helper()
	base, _, stop := startServeWith(t, dir, "--auth=off")
	return base, stop
}

// startServeWith runs `fhirbill serve` with flags on an embedded store in
// dir and returns its base URL, its logs and a stop function that waits
// for a clean shutdown.
func startServeWith(t *testing.T, dir string, flags ...string) (string, *syncBuffer, func()) {
	t.Helper()
	if os.Getenv("MONGODB_URI") != "" {
		t.Setenv("MONGODB_URI", "") // these tests are about the embedded store's files
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	args := []string{"serve", "--data-dir", dir, "--log-level", "info"}
	if !slices.ContainsFunc(flags, func(f string) bool { return strings.HasPrefix(f, "--listen") }) {
		args = append(args, "--listen", "127.0.0.1:0")
	}
	args = append(args, flags...)
	go func() {
		done <- run(ctx, args, logs, io.Discard)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Base string `json:"base_url"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "fhirbill serving" {
				return line.Base, logs, func() {
					cancel()
					if err := <-done; err != nil {
						t.Errorf("serve returned %v", err)
					}
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped early: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve did not start in time:\n%s", logs.String())
	return "", nil, nil
}

// TestServe_RestartKeepsData writes through one server, stops it, starts a
// new one on the same data directory and reads everything back.
func TestServe_RestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, dir)

	body := `{"resourceType":"Invoice","id":"inv-1","status":"issued","totalNet":{"value":10.50,"currency":"USD"}}`
	for i, v := range []string{"draft", "issued"} {
		req, _ := http.NewRequest(http.MethodPut, base+"/Invoice/inv-1", strings.NewReader(strings.Replace(body, "issued", v, 1)))
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := []int{201, 200}[i]; resp.StatusCode != want {
			t.Fatalf("PUT %d: got %d, want %d", i, resp.StatusCode, want)
		}
	}
	if resp, err := http.Get(base[:strings.LastIndex(base, "/fhir")] + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	stop()

	base, stop = startServe(t, dir)
	defer stop()
	resp, err := http.Get(base + "/Invoice/inv-1")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(got), `"value":10.50`) || resp.Header.Get("ETag") != `W/"2"` {
		t.Fatalf("after restart: got %d %s %s, want 200, version 2, value 10.50", resp.StatusCode, resp.Header.Get("ETag"), got)
	}
	resp, err = http.Get(base + "/Invoice/inv-1/_history/1")
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(got), `"draft"`) {
		t.Errorf("version 1 after restart: got %d %s", resp.StatusCode, got)
	}
}

func TestRun_BadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--listen", "nonsense"},
		{"serve", "--base-url", "ftp://x"},
		{"serve", "--log-level", "loud"},
		{"frobnicate"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run %v: got nil error, want one", args)
		}
	}
}

// TestServe_DataDirLockedAgainstOtherCommands runs the commands that open
// the embedded store while serve holds it: each is refused with a message
// naming the directory, and works once serve has stopped.
func TestServe_DataDirLockedAgainstOtherCommands(t *testing.T) {
	dir := t.TempDir()
	_, stop := startServe(t, dir)
	for _, args := range [][]string{
		{"report", "--data-dir", dir},
		{"seed", "--data-dir", dir, "../../testdata/demo/reference.json"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), dir) ||
			!strings.Contains(err.Error(), "in use by another fhirbill process") {
			t.Errorf("%s while serve runs: got %v, want the data directory in use", args[0], err)
		}
	}
	stop()

	if err := run(context.Background(), []string{"report", "--data-dir", dir}, io.Discard, io.Discard); err != nil {
		t.Errorf("report once serve stopped: %v", err)
	}
}

// TestRun_Version: --version and the version command print the version
// the binary was built with (main.version, set by -ldflags).
func TestRun_Version(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, io.Discard); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if got, want := out.String(), "fhirbill "+version+"\n"; got != want {
			t.Errorf("%v printed %q, want %q", args, got, want)
		}
	}
}
