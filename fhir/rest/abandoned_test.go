package rest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// TestAbandoned_NotAServerFault: a request whose client went away (its
// context cancelled, as when a load generator is stopped) fails in the
// store with context.Canceled. That is no fault of the server: it is not
// logged as an error nor counted as a 500, but logged as 499, the status
// proxies log for a client that closed the request.
func TestAbandoned_NotAServerFault(t *testing.T) {
	logs := &lockedBuffer{}
	srv := resttest.NewWith(t, func(base string, _ *store.Store, _ *search.Registry) rest.Config {
		return rest.Config{Base: base, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	})
	if r := srv.Do(http.MethodPut, "/Invoice/inv-1", []byte(`{"resourceType":"Invoice","id":"inv-1","status":"draft"}`)); r.Status != 201 {
		t.Fatalf("PUT: got %d %s", r.Status, r.Body)
	}

	for _, path := range []string{"/fhir/Invoice/inv-1", "/fhir/Invoice?status=draft"} {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		srv.API.Handler().ServeHTTP(httptest.NewRecorder(), req)
	}

	logs.mu.Lock()
	defer logs.mu.Unlock()
	var statuses []int
	sc := bufio.NewScanner(bytes.NewReader(logs.buf.Bytes()))
	for sc.Scan() {
		var line struct {
			Level  string
			Msg    string
			Status int
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %s: %v", sc.Bytes(), err)
		}
		if line.Level == "ERROR" {
			t.Errorf("got an ERROR log line for an abandoned request: %s", sc.Bytes())
		}
		if line.Msg == "request" {
			statuses = append(statuses, line.Status)
		}
	}
	if len(statuses) != 3 || statuses[1] != 499 || statuses[2] != 499 {
		t.Errorf("request log statuses: got %v, want [201 499 499]", statuses)
	}
}
