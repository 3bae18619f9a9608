package smart_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/smart"
)

// TestScopeMatrix is "Must show" 2: each interaction under SMART v1 and
// v2 scopes, allowed or 403 as scopes-and-launch-context.html reads: v1
// read = rs, write = cud, * = cruds; v2 c create, r read/vread/instance
// history, u update, d delete, s search/type history; an operation POST
// reads its target and updates its type.
func TestScopeMatrix(t *testing.T) {
	e := start(t)
	e.srv.API.RegisterOperation(&rest.Operation{
		Name: "touch", Types: []string{"Invoice"}, Instance: true,
		Handle: func(context.Context, *rest.OperationRequest) (*rest.OperationResponse, error) {
			return &rest.OperationResponse{Status: http.StatusOK, Body: []byte(`{"resourceType":"Parameters"}`)}, nil
		},
	})
	e.put("Patient", "p1", patient("p1"))
	e.put("Invoice", "inv1", invoice("inv1", "p1", "issued", ""))

	interactions := []struct {
		name, method, path, body string
		ok                       int
	}{
		{"read", "GET", "/Invoice/inv1", "", 200},
		{"vread", "GET", "/Invoice/inv1/_history/1", "", 200},
		{"history-instance", "GET", "/Invoice/inv1/_history", "", 200},
		{"search", "GET", "/Invoice?status=issued", "", 200},
		{"history-type", "GET", "/Invoice/_history", "", 200},
		{"create", "POST", "/Invoice", invoice("", "p1", "draft", ""), 201},
		{"update", "PUT", "/Invoice/inv1", invoice("inv1", "p1", "issued", ""), 200},
		{"delete", "DELETE", "/Invoice/gone", "", 204},
		{"$touch", "POST", "/Invoice/inv1/$touch", "", 200},
	}
	// allowed lists, per scope, the interactions it allows (by name).
	scopes := []struct {
		scope   string
		allowed string
	}{
		{"system/Invoice.read", "read vread history-instance search history-type"},
		{"system/Invoice.write", "create update delete"},
		{"system/Invoice.*", "read vread history-instance search history-type create update delete $touch"},
		{"system/*.read", "read vread history-instance search history-type"},
		{"user/*.*", "read vread history-instance search history-type create update delete $touch"},
		{"system/Invoice.rs", "read vread history-instance search history-type"},
		{"system/Invoice.r", "read vread history-instance"},
		{"system/Invoice.s", "search history-type"},
		{"system/Invoice.c", "create"},
		{"system/Invoice.ru", "read vread history-instance update $touch"},
		{"system/Invoice.u", "update"},
		{"system/Invoice.d", "delete"},
		{"system/Invoice.cruds", "read vread history-instance search history-type create update delete $touch"},
		{"system/*.cruds", "read vread history-instance search history-type create update delete $touch"},
		{"system/Claim.cruds", ""},
		{"system/Invoice.sr", ""},                 // v2 permissions out of order: not a scope
		{"system/Invoice.rx", ""},                 // unknown permission
		{"patient/Invoice.rs", ""},                // patient scope without a patient in context
		{"openid fhirUser", ""},                   // no clinical scope
		{"system/Invoice.read?status=issued", ""}, // a query on a v1 scope is refused
	}
	for _, sc := range scopes {
		tok := e.token(sc.scope, "")
		allowed := map[string]bool{}
		for _, n := range strings.Fields(sc.allowed) {
			allowed[n] = true
		}
		for _, in := range interactions {
			t.Run(fmt.Sprintf("%s/%s", strings.NewReplacer("/", "_", "*", "All", "?", "Q", " ", "_").Replace(sc.scope), in.name), func(t *testing.T) {
				r := e.as(tok, in.method, in.path, in.body)
				want := 403
				if allowed[in.name] {
					want = in.ok
				}
				if r.Status != want {
					t.Fatalf("%s %s with %q: got %d, want %d: %.200s", in.method, in.path, sc.scope, r.Status, want, r.Body)
				}
				if want == 403 {
					if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) {
						t.Errorf("WWW-Authenticate = %q, want insufficient_scope", h)
					}
					if code, _ := outcome(r); code != "forbidden" {
						t.Errorf("issue code %q, want forbidden", code)
					}
				}
			})
		}
	}
}

// TestScope_V2Query checks a v2 scope restricted by a query: it sees only
// the resources matching it, in searches (totals included), reads and
// writes.
func TestScope_V2Query(t *testing.T) {
	e := start(t)
	e.put("Invoice", "issued1", invoice("issued1", "p1", "issued", ""))
	e.put("Invoice", "issued2", invoice("issued2", "p2", "issued", ""))
	e.put("Invoice", "draft1", invoice("draft1", "p1", "draft", ""))

	tok := e.token("system/Invoice.rs?status=issued system/Invoice.cu?status=draft", "")
	r := e.as(tok, "GET", "/Invoice?_total=accurate", "")
	if got := strings.Join(ids(r), ","); r.Status != 200 || got != "Invoice/issued1 (match),Invoice/issued2 (match)" || total(r) != "2" {
		t.Errorf("search: got %d %s total %s, want issued1, issued2, total 2", r.Status, got, total(r))
	}
	if r := e.as(tok, "GET", "/Invoice/draft1", ""); r.Status != 404 {
		t.Errorf("read of a draft: got %d, want 404", r.Status)
	}
	if r := e.as(tok, "GET", "/Invoice/issued1", ""); r.Status != 200 {
		t.Errorf("read of an issued invoice: got %d, want 200", r.Status)
	}
	if r := e.as(tok, "POST", "/Invoice", invoice("", "p1", "issued", "")); r.Status != 403 {
		t.Errorf("create of an issued invoice under .cu?status=draft: got %d, want 403", r.Status)
	}
	if r := e.as(tok, "POST", "/Invoice", invoice("", "p1", "draft", "")); r.Status != 201 {
		t.Errorf("create of a draft under .cu?status=draft: got %d, want 201: %s", r.Status, r.Body)
	}
}

// TestParseScope checks the scope grammar of SMART 2.x.
func TestParseScope(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{"patient/Invoice.read", true},
		{"user/*.write", true},
		{"system/Claim.read", true},
		{"patient/Invoice.rs", true},
		{"system/Claim.cruds", true},
		{"patient/Invoice.rs?status=issued", true},
		{"patient/*.*", true},
		{"system/Claim.sr", false},
		{"system/Claim.rr", false},
		{"system/Claim.", false},
		{"system/claim.rs", false},
		{"admin/Claim.rs", false},
		{"launch/patient", false},
		{"patient/Invoice.read?status=issued", false},
	}
	for _, tt := range tests {
		if _, got := smart.ParseScope(tt.raw); got != tt.want {
			t.Errorf("ParseScope(%q) ok = %v, want %v", tt.raw, got, tt.want)
		}
	}
}
