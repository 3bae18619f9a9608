package rest_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// selfLink returns the self link of a searchset Bundle.
func selfLink(t *testing.T, got *resttest.Response) string {
	t.Helper()
	for _, l := range got.JSON()["link"].([]any) {
		if l := l.(map[string]any); l["relation"] == "self" {
			return l["url"].(string)
		}
	}
	t.Fatalf("no self link: %s", short(got.Body))
	return ""
}

// TestSearch_SelfLinkStatesWhatWasDone: a parameter reported as ignored is
// not in the self link, which states the search as it was run (R4
// search.html#selflink); one that was applied stays.
func TestSearch_SelfLinkStatesWhatWasDone(t *testing.T) {
	s := resttest.New(t)
	for _, tc := range []struct {
		query, want, notWant string
	}{
		{"_summary=bogus&name=x", "name=x", "_summary"},
		{"_summary=text&name=x", "name=x", "_summary"},
		{"_summary=count&name=x", "_summary=count", ""},
		{"shoe=9&name=x", "name=x", "shoe"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			got := s.Do(http.MethodGet, "/Patient?"+tc.query, nil)
			if got.Status != http.StatusOK {
				t.Fatalf("got %d: %s", got.Status, short(got.Body))
			}
			self, err := url.QueryUnescape(selfLink(t, got))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(self, tc.want) {
				t.Errorf("self link %s: want it to hold %s", self, tc.want)
			}
			if tc.notWant != "" && strings.Contains(self, tc.notWant) {
				t.Errorf("self link %s: holds %s, which was ignored", self, tc.notWant)
			}
		})
	}
}

// TestOperation_EmptyBody: an operation that takes no input may be POSTed
// with a Content-Type and no body, as clients do ($issue, $bill, $claim).
func TestOperation_EmptyBody(t *testing.T) {
	s := resttest.New(t)
	var gotBody []byte
	s.API.RegisterOperation(&rest.Operation{
		Name: "ping", Definition: "http://example.org/OperationDefinition/ping",
		Handle: func(_ context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
			gotBody = req.Body
			return &rest.OperationResponse{Status: http.StatusOK, Body: []byte(`{"resourceType":"Parameters"}`)}, nil
		},
	})
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"FHIRContentType", []string{"Content-Type", "application/fhir+json"}},
		{"OtherContentType", []string{"Content-Type", "text/plain"}},
		{"NoContentType", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotBody = []byte("unset")
			got := s.Do(http.MethodPost, "/$ping", nil, tc.header...)
			if got.Status != http.StatusOK {
				t.Errorf("got %d, want 200: %s", got.Status, short(got.Body))
			}
			if gotBody != nil {
				t.Errorf("the operation got body %q, want none", gotBody)
			}
		})
	}

	// A body that is there is still read as FHIR JSON.
	got := s.Do(http.MethodPost, "/$ping", []byte(`{"resourceType":"Parameters"}`), "Content-Type", "text/plain")
	if got.Status != http.StatusUnsupportedMediaType {
		t.Errorf("a text/plain body: got %d, want 415", got.Status)
	}
}

// TestOperation_FormatAndPrettyAreTheServers: _format and _pretty, which
// R4 gives every interaction, are applied by the server and not handed to
// an operation, which would refuse them as inputs it does not know.
func TestOperation_FormatAndPrettyAreTheServers(t *testing.T) {
	s := resttest.New(t)
	var gotQuery url.Values
	s.API.RegisterOperation(&rest.Operation{
		Name: "ping", Definition: "http://example.org/OperationDefinition/ping",
		Handle: func(_ context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
			gotQuery = req.Query
			return &rest.OperationResponse{Status: http.StatusOK, Body: []byte(`{"resourceType":"Parameters"}`)}, nil
		},
	})
	got := s.Do(http.MethodPost, "/$ping?_format=json&_pretty=true&x=1", nil)
	if got.Status != http.StatusOK || !strings.Contains(string(got.Body), "\n") {
		t.Errorf("got %d, want 200 indented: %s", got.Status, got.Body)
	}
	if want := (url.Values{"x": {"1"}}); gotQuery.Encode() != want.Encode() {
		t.Errorf("the operation got query %v, want %v", gotQuery, want)
	}
}

// TestUpdate_ConcurrentWithoutIfMatch: PUTs without If-Match that lose a
// race are planned again on the version that won, as the README says, so
// that all of them are stored, one version each (F20: 5 of 20 got 409).
func TestUpdate_ConcurrentWithoutIfMatch(t *testing.T) {
	s := resttest.New(t)
	body := `{"resourceType":"Account","id":"acc-2","status":"active","name":"%d"}`
	if got := s.Do(http.MethodPut, "/Account/acc-2", fmt.Appendf(nil, body, 0)); got.Status != http.StatusCreated {
		t.Fatalf("create: got %d: %s", got.Status, got.Body)
	}
	const writers = 20
	var wg sync.WaitGroup
	statuses := make([]int, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = s.Do(http.MethodPut, "/Account/acc-2", fmt.Appendf(nil, body, i+1)).Status
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Errorf("writer %d: got %d, want 200", i, st)
		}
	}
	hist := s.Do(http.MethodGet, "/Account/acc-2/_history?_count=100", nil).JSON()
	if hist["total"] != json.Number(fmt.Sprint(writers+1)) {
		t.Errorf("history: got %v versions, want %d", hist["total"], writers+1)
	}
}

// TestUpdate_IfNoneMatch: a PUT or DELETE whose If-None-Match names the
// current version, or * for a resource that exists, is a 412 and changes
// nothing (RFC 9110 §13.1.2).
func TestUpdate_IfNoneMatch(t *testing.T) {
	s := resttest.New(t)
	p := `{"resourceType":"Patient","id":"inm","gender":"%s"}`
	if got := s.Do(http.MethodPut, "/Patient/inm", fmt.Appendf(nil, p, "male")); got.Status != http.StatusCreated {
		t.Fatalf("create: got %d: %s", got.Status, got.Body)
	}
	for _, tc := range []struct {
		name, method, inm string
		want              int
	}{
		{"PutCurrent", http.MethodPut, `W/"1"`, http.StatusPreconditionFailed},
		{"PutCurrentInList", http.MethodPut, `W/"7", "1"`, http.StatusPreconditionFailed},
		{"PutAny", http.MethodPut, `*`, http.StatusPreconditionFailed},
		{"DeleteCurrent", http.MethodDelete, `W/"1"`, http.StatusPreconditionFailed},
		{"PutOther", http.MethodPut, `W/"7"`, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b []byte
			if tc.method == http.MethodPut {
				b = fmt.Appendf(nil, p, "female")
			}
			got := s.Do(tc.method, "/Patient/inm", b, "If-None-Match", tc.inm)
			if got.Status != tc.want {
				t.Errorf("got %d, want %d: %s", got.Status, tc.want, short(got.Body))
			}
		})
	}
	if h := s.Do(http.MethodGet, "/Patient/inm/_history", nil).JSON(); h["total"] != json.Number("2") {
		t.Errorf("history: got %v versions, want 2 (the create and PutOther)", h["total"])
	}
}

// TestContent_AcceptQZero: a media type with q=0 is not acceptable (RFC
// 9110 §12.5.1), and JSON refused so is a 406.
func TestContent_AcceptQZero(t *testing.T) {
	s := resttest.New(t)
	for _, tc := range []struct {
		accept string
		want   int
	}{
		{"application/fhir+json;q=0", http.StatusNotAcceptable},
		{"application/fhir+json; q=0.0, application/xml", http.StatusNotAcceptable},
		{"*/*;q=0", http.StatusNotAcceptable},
		{"application/fhir+json;q=0, */*", http.StatusNotAcceptable},
		{"application/fhir+json;q=0.5", http.StatusOK},
		{"application/xml;q=0.9, */*;q=0.1", http.StatusOK},
	} {
		t.Run(tc.accept, func(t *testing.T) {
			if got := s.Do(http.MethodGet, "/metadata", nil, "Accept", tc.accept); got.Status != tc.want {
				t.Errorf("got %d, want %d", got.Status, tc.want)
			}
		})
	}
}

// TestRoutes_MethodNotAllowedSaysAllow: every 405 carries an Allow header
// listing the methods the endpoint takes (RFC 9110 §15.5.6).
func TestRoutes_MethodNotAllowedSaysAllow(t *testing.T) {
	s := resttest.New(t)
	for _, tc := range []struct {
		method, path, want string
	}{
		{http.MethodPatch, "/Patient/p1", "DELETE, GET, HEAD, PUT, OPTIONS"},
		{http.MethodPost, "/Patient/p1", "DELETE, GET, HEAD, PUT, OPTIONS"},
		{http.MethodPatch, "/Patient", "DELETE, GET, HEAD, POST, PUT, OPTIONS"},
		{http.MethodPost, "/metadata", "GET, HEAD, OPTIONS"},
		{http.MethodDelete, "", "POST, OPTIONS"},
		{http.MethodPut, "/Patient/_history", "GET, HEAD, OPTIONS"},
		{http.MethodPost, "/Patient/p1/_history/1", "GET, HEAD, OPTIONS"},
		{"TRACE", "/Patient/p1", "DELETE, GET, HEAD, PUT, OPTIONS"},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			got := s.Do(tc.method, tc.path, nil)
			if got.Status != http.StatusMethodNotAllowed {
				t.Fatalf("got %d, want 405: %s", got.Status, short(got.Body))
			}
			if a := got.Header.Get("Allow"); a != tc.want {
				t.Errorf("Allow: got %q, want %q", a, tc.want)
			}
		})
	}
	got := s.Do(http.MethodOptions, "/Patient/_history", nil)
	if a := got.Header.Get("Allow"); got.Status != http.StatusNoContent || a != "GET, HEAD, OPTIONS" {
		t.Errorf("OPTIONS: got %d with Allow %q, want 204 with GET, HEAD, OPTIONS", got.Status, a)
	}

	// OPTIONS says what a 405 says: POST on [type]/[id] only for an
	// operation ($name).
	for _, tc := range []struct{ path, want string }{
		{"/Patient/p1", "DELETE, GET, HEAD, PUT, OPTIONS"},
		{"/Patient/$validate", "DELETE, GET, HEAD, POST, PUT, OPTIONS"},
		{"/Patient", "DELETE, GET, HEAD, POST, PUT, OPTIONS"},
		{"", "POST, OPTIONS"},
	} {
		t.Run("Options"+tc.path, func(t *testing.T) {
			opt := s.Do(http.MethodOptions, tc.path, nil)
			if a := opt.Header.Get("Allow"); opt.Status != http.StatusNoContent || a != tc.want {
				t.Errorf("OPTIONS: got %d with Allow %q, want 204 with %q", opt.Status, a, tc.want)
			}
			if a := s.Do(http.MethodPatch, tc.path, nil).Header.Get("Allow"); a != tc.want {
				t.Errorf("the 405 of PATCH says Allow %q; OPTIONS %q", a, tc.want)
			}
		})
	}
}

// TestContent_EncodingRefused: a body in a content coding fhirbill does
// not decode is a 415 that says, in Accept-Encoding, which it takes (RFC
// 9110 §15.5.16), not a 400 "invalid JSON"; identity is no coding.
func TestContent_EncodingRefused(t *testing.T) {
	s := resttest.New(t)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	if _, err := w.Write([]byte(`{"resourceType":"Patient"}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := s.Do(http.MethodPost, "/Patient", gz.Bytes(), "Content-Encoding", "gzip")
	if got.Status != http.StatusUnsupportedMediaType || got.Header.Get("Accept-Encoding") != "identity" {
		t.Errorf("gzip: got %d with Accept-Encoding %q, want 415 with identity: %s",
			got.Status, got.Header.Get("Accept-Encoding"), short(got.Body))
	}
	if n := count(t, s, "Patient"); n != "0" {
		t.Errorf("Patients stored: got %s, want 0", n)
	}
	got = s.Do(http.MethodPost, "/Patient", []byte(`{"resourceType":"Patient"}`), "Content-Encoding", "identity")
	if got.Status != http.StatusCreated {
		t.Errorf("identity: got %d, want 201: %s", got.Status, short(got.Body))
	}
}

// TestRoutes_Head: HEAD is served wherever GET is, as GET without a body
// (RFC 9110 §9.3.2).
func TestRoutes_Head(t *testing.T) {
	s := resttest.New(t)
	id := strings.TrimPrefix(mustCreate(t, s, "Patient", `{"resourceType":"Patient"}`), "Patient/")
	for _, path := range []string{
		"/Patient", "/Patient?_id=" + id, "/Patient/_history", "/Patient/" + id,
		"/Patient/" + id + "/_history", "/Patient/" + id + "/_history/1", "/metadata",
	} {
		t.Run(path, func(t *testing.T) {
			get := s.Do(http.MethodGet, path, nil)
			head := s.Do(http.MethodHead, path, nil)
			if head.Status != get.Status || head.Status != http.StatusOK {
				t.Errorf("HEAD: got %d, want %d as GET", head.Status, get.Status)
			}
			if len(head.Body) != 0 {
				t.Errorf("HEAD: got a body of %d bytes, want none", len(head.Body))
			}
			if ct := head.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
				t.Errorf("HEAD Content-Type: got %q", ct)
			}
		})
	}
}

// TestContent_LengthRefusedUpFront: a Content-Length over the limit is a
// 413 before the body is read: the server answers while the client has
// sent only the headers.
func TestContent_LengthRefusedUpFront(t *testing.T) {
	s := resttest.New(t)
	u, err := url.Parse(s.Base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST %s/Patient HTTP/1.1\r\nHost: %s\r\nContent-Type: application/fhir+json\r\n"+
		"Content-Length: 99999999999\r\n\r\n", u.Path, u.Host)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("got %d, want 413", resp.StatusCode)
	}
}

// TestRoutes_WellKnownWithAuthOff: with authorization off nothing is
// mounted under .well-known, and the answer says so rather than calling
// ".well-known" an unknown resource type.
func TestRoutes_WellKnownWithAuthOff(t *testing.T) {
	s := resttest.New(t)
	for _, path := range []string{"/.well-known/smart-configuration", "/.well-known/jwks.json"} {
		got := s.Do(http.MethodGet, path, nil)
		if got.Status != http.StatusNotFound || got.JSON()["resourceType"] != "OperationOutcome" {
			t.Errorf("%s: got %d, want a 404 OperationOutcome: %s", path, got.Status, short(got.Body))
		}
		if body := string(got.Body); !strings.Contains(body, "authorization is off") || strings.Contains(body, "resource type") {
			t.Errorf("%s: the OperationOutcome does not say authorization is off: %s", path, body)
		}
	}
}

// TestCreate_WrongTypeMessage: the message naming the body's type and the
// endpoint's reads as English ("an Invoice").
func TestCreate_WrongTypeMessage(t *testing.T) {
	s := resttest.New(t)
	for _, tc := range []struct{ path, body, want string }{
		{"/Patient", `{"resourceType":"Invoice","status":"draft"}`, "the body holds an Invoice; this endpoint takes a Patient"},
		{"/Invoice", `{"resourceType":"Patient"}`, "the body holds a Patient; this endpoint takes an Invoice"},
		{"/Encounter", `{"resourceType":"Account","status":"active"}`, "the body holds an Account; this endpoint takes an Encounter"},
	} {
		got := s.Do(http.MethodPost, tc.path, []byte(tc.body))
		if got.Status != http.StatusBadRequest || !strings.Contains(string(got.Body), tc.want) {
			t.Errorf("POST %s: got %d %s, want 400 saying %q", tc.path, got.Status, short(got.Body), tc.want)
		}
	}
}
