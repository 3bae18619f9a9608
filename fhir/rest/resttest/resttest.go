// Package resttest starts the FHIR REST API over real HTTP on a real store
// (embedded FerretDB, or MONGODB_URI when set) for tests, and offers a small
// client for it.
package resttest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
	"github.com/fhirbill/fhirbill/profiles"
)

// Server is a running API with its store.
type Server struct {
	// Base is the FHIR base URL, e.g. http://127.0.0.1:34567/fhir.
	Base  string
	API   *rest.Server
	Store *store.Store
	t     testing.TB
}

// New starts an API on a fresh database. It is closed at the end of the
// test.
func New(t testing.TB) *Server {
	t.Helper()
	return NewWith(t, nil)
}

// NewWith starts an API like [New] with the configuration configure
// returns for the base URL, store and registry (an Authorizer, say); nil
// configure is New.
func NewWith(t testing.TB, configure func(base string, st *store.Store, reg *search.Registry) rest.Config) *Server {
	t.Helper()
	st := storetest.New(t)
	reg, err := search.Load(profiles.SearchParameters)
	if err != nil {
		t.Fatalf("load search parameters: %v", err)
	}
	var params []*search.Param
	for _, typ := range reg.Types() {
		params = append(params, reg.Params(typ)...)
	}
	if err := st.EnsureIndexes(t.Context(), params); err != nil {
		t.Fatalf("ensure indexes: %v", err)
	}
	hs := httptest.NewUnstartedServer(nil)
	hs.Start()
	t.Cleanup(hs.Close)
	base := hs.URL + "/fhir"
	cfg := rest.Config{Base: base}
	if configure != nil {
		cfg = configure(base, st, reg)
	}
	api, err := rest.New(st, reg, cfg)
	if err != nil {
		t.Fatalf("rest.New: %v", err)
	}
	hs.Config.Handler = api.Handler()
	return &Server{Base: base, API: api, Store: st, t: t}
}

// Response is an HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value, numbers as json.Number.
func (r *Response) JSON() map[string]any {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil
	}
	return m
}

// Do sends a request to path (relative to Base, e.g. "/Patient/1") with an
// optional FHIR JSON body and header pairs ("If-Match", `W/"1"`, ...). A
// pair replaces a header Do sets itself (Content-Type); a name given in
// two pairs is sent twice.
func (s *Server) Do(method, path string, body []byte, header ...string) *Response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = s.Base + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		s.t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	given := make(map[string]bool)
	for i := 0; i+1 < len(header); i += 2 {
		name := http.CanonicalHeaderKey(header[i])
		if given[name] {
			req.Header.Add(name, header[i+1])
		} else {
			req.Header.Set(name, header[i+1])
		}
		given[name] = true
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("read body: %v", err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}
