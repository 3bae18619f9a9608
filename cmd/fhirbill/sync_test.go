package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
)

// startTestEHR starts a test EHR holding one patient's finished visit,
// with a key pair and a connections file (connection "testehr") written
// into dir as `fhirbill testehr` writes them; it returns the file.
func startTestEHR(t *testing.T, dir string) string {
	t.Helper()
	srv := ehrtest.New(nil)
	ehrtest.Start(t, srv)
	c := &testehrCmd{
		ClientID:  "fhirbill",
		KeyOut:    filepath.Join(dir, "testehr-key.pem"),
		ConfigOut: filepath.Join(dir, "testehr-connections.json"),
	}
	pub, kid, err := c.clientKey()
	if err != nil {
		t.Fatal(err)
	}
	srv.RegisterClient(ehrtest.Client{ID: c.ClientID, Key: pub, KeyID: kid})
	if err := c.writeConfig(srv.Base()); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{
		`{"resourceType":"Patient","id":"p1","birthDate":"1970-01-01"}`,
		`{"resourceType":"Encounter","id":"e1","status":"finished",
		  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
		  "subject":{"reference":"Patient/p1"},"period":{"start":"2025-03-01T09:00:00Z","end":"2025-03-01T09:30:00Z"}}`,
	} {
		if err := srv.Put([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	return c.ConfigOut
}

// TestSync_ProgressOnStdoutLogsOnStderr: sync's progress lines and
// summary, for people, go to stdout, and its JSON logs to stderr only.
func TestSync_ProgressOnStdoutLogsOnStderr(t *testing.T) {
	dir := t.TempDir()
	conns := startTestEHR(t, dir)

	var stdout, stderr bytes.Buffer
	args := []string{"sync", "--ehr-config", conns, "--ehr", "testehr", "--no-bill",
		"--data-dir", filepath.Join(dir, "data"), "--log-level", "debug"}
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("sync: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "sync testehr: page 1, pulled 2") ||
		!strings.Contains(stdout.String(), "ehr testehr: pulled 2") {
		t.Errorf("stdout lacks the progress and the summary:\n%s", stdout.String())
	}
	if strings.Contains(stdout.String(), "{") {
		t.Errorf("stdout holds JSON logs:\n%s", stdout.String())
	}
	var finished bool
	for line := range strings.Lines(stderr.String()) {
		var l struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Errorf("stderr line is not a JSON log: %q", line)
		}
		finished = finished || l.Msg == "ehr sync finished"
	}
	if !finished {
		t.Errorf("stderr lacks the log line \"ehr sync finished\":\n%s", stderr.String())
	}
}

// TestSelfCommand: what testehr tells a user to run names the command as
// they ran it: go run's temporary binary as go run, a built one by its
// path.
func TestSelfCommand(t *testing.T) {
	tmp := t.TempDir()
	for _, tc := range []struct{ arg0, want string }{
		{filepath.Join(tmp, "go-build123", "b001", "exe", "fhirbill"), "go run ./cmd/fhirbill"},
		{"./fhirbill", "./fhirbill"},
		{"fhirbill", "fhirbill"},
		{"/usr/local/bin/fhirbill", "/usr/local/bin/fhirbill"},
	} {
		if got := selfCommand(tc.arg0, tmp); got != tc.want {
			t.Errorf("selfCommand(%q): got %q, want %q", tc.arg0, got, tc.want)
		}
	}
}
