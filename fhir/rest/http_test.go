package rest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

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
