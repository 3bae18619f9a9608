package ehr_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
	"github.com/fhirbill/fhirbill/profiles"
)

// local is a fhirbill server: the REST API over HTTP on a real store.
type local struct {
	API   *rest.Server
	Store *store.Store
	Base  string
}

func newLocal(t *testing.T, logger *slog.Logger, hook rest.CommitHook) *local {
	t.Helper()
	st := storetest.New(t)
	reg, err := search.Load(profiles.SearchParameters)
	if err != nil {
		t.Fatal(err)
	}
	var params []*search.Param
	for _, typ := range reg.Types() {
		params = append(params, reg.Params(typ)...)
	}
	if err := st.EnsureIndexes(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	hs.Start()
	t.Cleanup(hs.Close)
	api, err := rest.New(st, reg, rest.Config{Base: hs.URL + "/fhir", Logger: logger, OnCommit: hook})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = api.Handler()
	return &local{API: api, Store: st, Base: hs.URL + "/fhir"}
}

// newEHR starts a test EHR with client "fhirbill" registered, and returns
// a connection to it signed with a key made for the test.
func newEHR(t *testing.T, name string, scopes ...string) (*ehrtest.Server, *ehr.Connection) {
	t.Helper()
	srv := ehrtest.New(nil)
	ehrtest.Start(t, srv)
	pk, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ehr.NewKey(pk, "")
	if err != nil {
		t.Fatal(err)
	}
	srv.RegisterClient(ehrtest.Client{ID: "fhirbill", Key: key.Public(), KeyID: key.KeyID(), Scopes: scopes})
	conn, err := ehr.NewConnection(ehr.Connection{Name: name, Base: srv.Base(), ClientID: "fhirbill", PageSize: 10}, key)
	if err != nil {
		t.Fatal(err)
	}
	return srv, conn
}

// biller records the encounters billed.
type biller struct {
	mu  sync.Mutex
	ids []string
}

func (b *biller) Bill(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ids = append(b.ids, id)
	return nil
}

func (b *biller) billed() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.ids...)
}

func newSyncer(t *testing.T, l *local, conn *ehr.Connection, bill ehr.BillFunc, logger *slog.Logger) *ehr.Syncer {
	t.Helper()
	s, err := ehr.NewSyncer(ehr.Config{
		Connections: []*ehr.Connection{conn},
		Records:     l.API,
		State:       l.Store,
		Bill:        bill,
		Logger:      logger,
		Retry:       ehr.Retry{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// addVisits adds a Patient with a Coverage, a clinic (Organization), its
// doctor (Practitioner dr-1, shared by every patient) and n finished
// Encounters there, each with a Condition and a Procedure, to the EHR:
// 3n+4 resources.
func addVisits(t *testing.T, srv *ehrtest.Server, patient string, n int) {
	t.Helper()
	put := func(format string, args ...any) {
		if err := srv.Put(fmt.Appendf(nil, format, args...)); err != nil {
			t.Fatal(err)
		}
	}
	put(`{"resourceType":"Patient","id":%q,"gender":"female","birthDate":"1970-01-01"}`, patient)
	put(`{"resourceType":"Organization","id":"org-%s","name":"Clinic"}`, patient)
	put(`{"resourceType":"Practitioner","id":"dr-1","name":[{"family":"One"}],
		"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1497758544"}]}`)
	put(`{"resourceType":"Coverage","id":"cov-%s","status":"active","beneficiary":{"reference":"Patient/%s"},
		"payor":[{"display":"Medicare"}]}`, patient, patient)
	for i := range n {
		enc := fmt.Sprintf("%s-enc-%03d", patient, i)
		put(`{"resourceType":"Encounter","id":%q,"status":"finished",
			"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
			"subject":{"reference":"Patient/%s"},"serviceProvider":{"reference":"Organization/org-%s"},"period":{"start":"2025-03-%02dT09:00:00Z","end":"2025-03-%02dT09:30:00Z"},
			"participant":[{"individual":{"reference":"Practitioner/dr-1"}}]}`,
			enc, patient, patient, i%28+1, i%28+1)
		put(`{"resourceType":"Condition","id":"%s-cond","subject":{"reference":"Patient/%s"},
			"encounter":{"reference":"Encounter/%s"},
			"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]}}`, enc, patient, enc)
		put(`{"resourceType":"Procedure","id":"%s-proc","status":"completed","subject":{"reference":"Patient/%s"},
			"encounter":{"reference":"Encounter/%s"},
			"code":{"coding":[{"system":"http://snomed.info/sct","code":"430193006"}]}}`, enc, patient, enc)
	}
}

// logBuffer is a JSON log at debug level, safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// pulledEncounter is what the tests read of a pulled Encounter.
type pulledEncounter struct {
	individual, serviceProvider string
}

// encounterRefs reads the Encounter that connection name pulled from the
// EHR's Encounter/ehrID: the references of its first participant and of
// its serviceProvider.
func encounterRefs(t *testing.T, l *local, name, ehrID string) pulledEncounter {
	t.Helper()
	r, _, err := l.API.ReadResource(t.Context(), "Encounter", ehr.LocalID(name, "Encounter", ehrID))
	if err != nil {
		t.Fatalf("read the Encounter pulled from Encounter/%s: %v", ehrID, err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Participant     []struct{ Individual struct{ Reference string } }
		ServiceProvider struct{ Reference string }
	}
	if err := json.Unmarshal(b, &e); err != nil || len(e.Participant) == 0 {
		t.Fatalf("Encounter/%s: %v, %d participants", ehrID, err, len(e.Participant))
	}
	return pulledEncounter{individual: e.Participant[0].Individual.Reference,
		serviceProvider: e.ServiceProvider.Reference}
}
