package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServe_Pprof serves the runtime profiles on a loopback port of their
// own when asked, and refuses any other host.
func TestServe_Pprof(t *testing.T) {
	_, logs, stop := startServeWith(t, t.TempDir(), "--auth=off", "--pprof-listen", "127.0.0.1:0")
	defer stop()
	var addr string
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "pprof serving" {
			addr = line.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no pprof serving line in the logs:\n%s", logs.String())
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The goroutine profile of this process lists the server's own
	// serving goroutines.
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "net/http.(*Server).Serve") {
		t.Errorf("GET /debug/pprof/goroutine: got %d %.200q, want 200 and the serving goroutines", resp.StatusCode, body)
	}

	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:6060", "example.org:6060"} {
		err := run(t.Context(), []string{"serve", "--auth=off", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0",
			"--pprof-listen", addr}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("--pprof-listen %s: got %v, want a refusal naming loopback", addr, err)
		}
	}
}
