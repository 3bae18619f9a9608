package smart_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
	"github.com/fhirbill/fhirbill/fhir/smart"
)

// interaction is one request of the scope matrix. status reads the
// outcome that counts: the HTTP status, or a batch entry's.
type interaction struct {
	name, method, path, body string
	header                   []string
	ok                       []int // the statuses of success
	status                   func(*resttest.Response) int
}

// entryStatus reads the status of a batch's only entry ("403 Forbidden").
func entryStatus(r *resttest.Response) int {
	entries, _ := r.JSON()["entry"].([]any)
	if r.Status != 200 || len(entries) != 1 {
		return r.Status
	}
	resp, _ := entries[0].(map[string]any)["response"].(map[string]any)
	var code int
	fmt.Sscanf(fmt.Sprint(resp["status"]), "%d", &code)
	return code
}

// registerStubs registers one operation per way fhir/rest checks an
// operation: the handlers do nothing, the checks before them are tested.
func registerStubs(api *rest.Server) {
	ok := func(context.Context, *rest.OperationRequest) (*rest.OperationResponse, error) {
		return &rest.OperationResponse{Status: http.StatusOK, Body: []byte(`{"resourceType":"Parameters"}`)}, nil
	}
	for _, op := range []*rest.Operation{
		{Name: "touch", Types: []string{"Invoice"}, Instance: true},                                // POST: r + u
		{Name: "preview", Types: []string{"Invoice"}, Instance: true, ReadOnly: true},              // POST: r
		{Name: "make", Types: []string{"Invoice"}, Instance: true, Writes: []string{"ChargeItem"}}, // POST: r + ChargeItem cu
		{Name: "recalc", Types: []string{"Invoice"}, Type: true},                                   // POST: s + u; GET: s
		{Name: "sys"},                            // POST: s + u on every type; GET: s on every type
		{Name: "rebuild", Writes: []string{"*"}}, // POST: s + cu on every type
	} {
		op.Handle = ok
		api.RegisterOperation(op)
	}
}

// scopeInteractions are the matrix's rows on Invoice, one per interaction
// fhirbill serves, with what SMART 2.x (scopes-and-launch-context.html,
// "Scopes for requesting FHIR resources") says each takes:
//
//   - r: read, vread, instance history, a batch entry's read, an instance
//     operation by GET or ReadOnly POST;
//   - s: search by GET and POST, type history, a type operation by GET;
//   - c: create, conditional create, a transaction entry's create;
//   - u: update, update-as-create ("allowed by the update scope"),
//     conditional update;
//   - d: delete, conditional delete.
//
// An operation by POST takes what it amounts to: reading its target (r of
// the instance, s of the type, s of every type at system level) and
// writing what it writes (u of its type unless it names its writes: then
// c and u of each).
func scopeInteractions() []interaction {
	inv := func(id, ident string) string {
		s := `{"resourceType":"Invoice",`
		if id != "" {
			s += `"id":"` + id + `",`
		}
		if ident != "" {
			s += `"identifier":[{"system":"urn:test","value":"` + ident + `"}],`
		}
		return s + `"status":"issued","subject":{"reference":"Patient/p1"}}`
	}
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	return []interaction{
		{name: "read", method: "GET", path: "/Invoice/inv1", ok: []int{200}},
		{name: "vread", method: "GET", path: "/Invoice/inv1/_history/1", ok: []int{200}},
		{name: "history-instance", method: "GET", path: "/Invoice/inv1/_history", ok: []int{200}},
		{name: "batch-read", method: "POST", path: "", ok: []int{200}, status: entryStatus,
			body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Invoice/inv1"}}]}`},
		{name: "$peek", method: "GET", path: "/Invoice/inv1/$preview", ok: []int{200}},
		{name: "$preview", method: "POST", path: "/Invoice/inv1/$preview", ok: []int{200}},
		{name: "search", method: "GET", path: "/Invoice?status=issued", ok: []int{200}},
		{name: "search-post", method: "POST", path: "/Invoice/_search", body: "status=issued", header: form, ok: []int{200}},
		{name: "history-type", method: "GET", path: "/Invoice/_history", ok: []int{200}},
		{name: "$count", method: "GET", path: "/Invoice/$recalc", ok: []int{200}},
		{name: "create", method: "POST", path: "/Invoice", body: inv("", ""), ok: []int{201}},
		{name: "conditional-create", method: "POST", path: "/Invoice", body: inv("", "cc"),
			header: []string{"If-None-Exist", "identifier=urn:test|cc"}, ok: []int{200, 201}},
		{name: "transaction-create", method: "POST", path: "", ok: []int{200},
			body: `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + inv("", "") +
				`,"request":{"method":"POST","url":"Invoice"}}]}`},
		{name: "update", method: "PUT", path: "/Invoice/inv1", body: inv("inv1", ""), ok: []int{200}},
		{name: "update-as-create", method: "PUT", path: "/Invoice/upsert1", body: inv("upsert1", ""), ok: []int{200, 201}},
		{name: "conditional-update", method: "PUT", path: "/Invoice?identifier=urn:test|cu", body: inv("", "cu"), ok: []int{200, 201}},
		{name: "delete", method: "DELETE", path: "/Invoice/gone", ok: []int{204}},
		{name: "conditional-delete", method: "DELETE", path: "/Invoice?identifier=urn:test|none", ok: []int{204}},
		{name: "$touch", method: "POST", path: "/Invoice/inv1/$touch", ok: []int{200}},
		{name: "$make", method: "POST", path: "/Invoice/inv1/$make", ok: []int{200}},
		{name: "$recalc", method: "POST", path: "/Invoice/$recalc", ok: []int{200}},
		{name: "$sysinfo", method: "GET", path: "/$sys", ok: []int{200}},
		{name: "$sys", method: "POST", path: "/$sys", ok: []int{200}},
		{name: "$rebuild", method: "POST", path: "/$rebuild", ok: []int{200}},
	}
}

// The interactions each permission of one type allows alone (see
// scopeInteractions); the operations that need two are listed per scope.
const (
	permR = "read vread history-instance batch-read $peek $preview "
	permS = "search search-post history-type $count "
	permC = "create conditional-create transaction-create "
	permU = "update update-as-create conditional-update "
	permD = "delete conditional-delete "
)

// TestScopeMatrix is "Must show" 2: each interaction under SMART v1 and
// v2 scopes, system and user level, allowed or 403 as the spec reads:
// v1 read = rs, write = cud, * = cruds; the v2 letters as in
// scopeInteractions. A token whose scopes are malformed is refused
// nothing at the door but granted nothing.
func TestScopeMatrix(t *testing.T) {
	e := start(t)
	registerStubs(e.srv.API)
	e.put("Patient", "p1", patient("p1"))
	e.put("Invoice", "inv1", invoice("inv1", "p1", "issued", ""))

	all := permR + permS + permC + permU + permD + "$touch $recalc "
	scopes := []struct {
		scope   string
		allowed string
	}{
		// SMART v1.
		{"system/Invoice.read", permR + permS},
		{"system/Invoice.write", permC + permU + permD},
		{"system/Invoice.*", all},
		{"system/*.read", permR + permS + "$sysinfo"},
		{"system/*.write", permC + permU + permD},
		{"system/*.*", all + "$make $sysinfo $sys $rebuild"},
		{"system/Invoice.read system/Invoice.write", all},
		{"user/Invoice.read", permR + permS},
		{"user/*.*", all + "$make $sysinfo $sys $rebuild"},
		// SMART v2.
		{"system/Invoice.r", permR},
		{"system/Invoice.s", permS},
		{"system/Invoice.rs", permR + permS},
		{"system/Invoice.r system/Invoice.s", permR + permS},
		{"system/Invoice.c", permC},
		{"system/Invoice.u", permU},
		{"system/Invoice.d", permD},
		{"system/Invoice.cud", permC + permU + permD},
		{"system/Invoice.ru", permR + permU + "$touch"},
		{"system/Invoice.us", permU + permS + "$recalc"},
		{"system/Invoice.cruds", all},
		{"system/Invoice.rs system/ChargeItem.cu", permR + permS + "$make"},
		{"system/Invoice.rs system/ChargeItem.u", permR + permS},
		{"system/*.rs", permR + permS + "$sysinfo"},
		{"system/*.cu", permC + permU},
		{"system/*.rus", permR + permU + permS + "$touch $recalc $sysinfo $sys"},
		{"system/*.crus", permR + permC + permU + permS + "$touch $recalc $make $sysinfo $sys $rebuild"},
		{"system/*.cruds", all + "$make $sysinfo $sys $rebuild"},
		{"user/Invoice.rs", permR + permS},
		{"user/*.cruds", all + "$make $sysinfo $sys $rebuild"},
		// v1 and v2 together.
		{"system/Invoice.read system/Invoice.u", permR + permS + permU + "$touch $recalc"},
		// Granting nothing.
		{"system/Claim.cruds", ""},
		{"system/Invoice.sr", ""},                 // v2 permissions out of order: not a scope
		{"system/Invoice.rx", ""},                 // unknown permission
		{"system/Invoice.read?status=issued", ""}, // a query on a v1 scope is refused
		{"patient/Invoice.rs", ""},                // a patient scope without a patient in context
		{"openid fhirUser launch/patient", ""},    // no clinical scope
	}
	rows := scopeInteractions()
	for _, sc := range scopes {
		tok := e.ext(sc.scope, "")
		allowed := strings.Fields(sc.allowed)
		for _, n := range allowed {
			if !slices.ContainsFunc(rows, func(in interaction) bool { return in.name == n }) {
				t.Fatalf("scope %q lists %q, not an interaction of the matrix", sc.scope, n)
			}
		}
		for _, in := range rows {
			name := strings.NewReplacer("/", "_", "*", "All", "?", "Q", " ", "_", "=", "").Replace(sc.scope) + "/" + in.name
			t.Run(name, func(t *testing.T) {
				r := e.srv.Do(in.method, in.path, body(in.body), append([]string{"Authorization", "Bearer " + tok}, in.header...)...)
				got := r.Status
				if in.status != nil {
					got = in.status(r)
				}
				if slices.Contains(allowed, in.name) {
					if !slices.Contains(in.ok, got) {
						t.Fatalf("%s %s with %q: got %d, want %v: %.300s", in.method, in.path, sc.scope, got, in.ok, r.Body)
					}
					return
				}
				if got != 403 {
					t.Fatalf("%s %s with %q: got %d, want 403: %.300s", in.method, in.path, sc.scope, got, r.Body)
				}
				if in.status != nil {
					return // a batch entry: its outcome is inside the Bundle
				}
				if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) {
					t.Errorf("WWW-Authenticate = %q, want insufficient_scope", h)
				}
				if code, _ := outcome(r); code != "forbidden" {
					t.Errorf("issue code %q, want forbidden", code)
				}
			})
		}
	}
}

// TestScopeMatrix_Patient runs patient-level scopes, which hold within
// the patient's compartment: outside it a read is a 404 and a write a
// 403, as is a write naming another patient too; types with no patient's
// data (Organization) are open to their reads, types without a
// compartment rule closed.
func TestScopeMatrix_Patient(t *testing.T) {
	e := start(t)
	registerStubs(e.srv.API)
	twoPatients(e)
	e.put("Organization", "ins-a", `{"resourceType":"Organization","id":"ins-a","name":"A"}`)
	e.put("Invoice", "inv-a-own", invoice("inv-a-own", "a", "issued", ""))

	tests := []struct {
		name, scope, method, path, body string
		want                            int
	}{
		{"V1ReadOwn", "patient/Invoice.read", "GET", "/Invoice/inv-a", "", 200},
		{"V1ReadOther", "patient/Invoice.read", "GET", "/Invoice/inv-b", "", 404},
		{"V2ReadOwnCoverage", "patient/Coverage.r", "GET", "/Coverage/cov-a", "", 200},
		{"V2ReadOtherCoverage", "patient/Coverage.r", "GET", "/Coverage/cov-b", "", 404},
		{"V2SearchOnlyNoRead", "patient/Invoice.s", "GET", "/Invoice/inv-a", "", 403},
		{"V2CreateOwn", "patient/Invoice.c", "POST", "/Invoice", invoice("", "a", "draft", ""), 201},
		{"V2CreateOther", "patient/Invoice.c", "POST", "/Invoice", invoice("", "b", "draft", ""), 403},
		{"V1WriteUpdateOwn", "patient/Invoice.write", "PUT", "/Invoice/inv-a-own", invoice("inv-a-own", "a", "balanced", "Patient/a"), 200},
		{"V1WriteNamingOther", "patient/Invoice.write", "PUT", "/Invoice/inv-a", invoice("inv-a", "a", "balanced", "Patient/b"), 403},
		{"V1WriteMoveToOther", "patient/Invoice.*", "PUT", "/Invoice/inv-a", invoice("inv-a", "b", "balanced", ""), 403},
		{"SharedType", "patient/*.rs", "GET", "/Organization/ins-a", "", 200},
		{"TypeWithoutRule", "patient/*.rs", "GET", "/Observation?_count=1", "", 403},
		{"InstanceOpOwn", "patient/Invoice.ru", "POST", "/Invoice/inv-a/$touch", "", 200},
		{"InstanceOpOther", "patient/Invoice.ru", "POST", "/Invoice/inv-b/$touch", "", 404},
		{"SystemOp", "patient/*.cruds", "GET", "/$sys", "", 403},
		{"V2QueryInCompartment", "patient/Invoice.rs?status=issued", "GET", "/Invoice/inv-a", "", 404}, // inv-a is balanced now
		{"V2QueryOther", "patient/Invoice.rs?status=balanced", "GET", "/Invoice/inv-b", "", 404},
		{"V2QueryMatches", "patient/Invoice.rs?status=balanced", "GET", "/Invoice/inv-a", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as(e.ext(tt.scope, "a"), tt.method, tt.path, tt.body)
			if r.Status != tt.want {
				t.Fatalf("%s %s with %q for patient a: got %d, want %d: %.300s", tt.method, tt.path, tt.scope, r.Status, tt.want, r.Body)
			}
		})
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
	// A date restriction cannot be enforced exactly: the scope grants nothing.
	dated := e.token("system/Invoice.rs?date=2025", "")
	if r := e.as(dated, "GET", "/Invoice", ""); r.Status != 403 {
		t.Errorf("search under .rs?date=2025: got %d, want 403", r.Status)
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

func body(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}
