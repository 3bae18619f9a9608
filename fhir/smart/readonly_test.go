package smart_test

import (
	"cmp"
	"strings"
	"testing"
)

// TestPatientReadOnly_Types checks rest.Server.RegisterReadOnlyForPatients:
// a type registered so is read by a token in a patient's launch context
// as its scopes allow, but never created, updated or deleted, in any
// interaction, whatever the scopes say (patient/*.cruds here, and a
// user/ scope beside the launch context): a patient app shows its bills,
// it does not edit them. Before, patient/*.cruds rewrote the patient's
// own Invoice (200) and deleted it (204).
func TestPatientReadOnly_Types(t *testing.T) {
	e := start(t)
	twoPatients(e)
	e.put("Invoice", "inv-a-only", invoice("inv-a-only", "a", "issued", "Patient/a"))
	e.srv.API.RegisterReadOnlyForPatients("Invoice")
	tok := e.token("launch/patient patient/*.cruds", "a")
	admin := e.token("system/*.cruds", "")

	own := invoice("inv-a-only", "a", "balanced", "Patient/a")
	fresh := invoice("", "a", "draft", "Patient/a")
	entry := func(typ, method, url, res string) string {
		s := `{"resourceType":"Bundle","type":"` + typ + `","entry":[{"request":{"method":"` + method +
			`","url":"` + url + `"}`
		if res != "" {
			s += `,"resource":` + res
		}
		return s + `}]}`
	}
	tests := []struct {
		name, method, path, body string
		token                    string
		entry                    bool // the status is the batch entry's
	}{
		{name: "Update", method: "PUT", path: "/Invoice/inv-a-only", body: own},
		{name: "UpdateAsCreate", method: "PUT", path: "/Invoice/new-a", body: invoice("new-a", "a", "draft", "Patient/a")},
		{name: "Create", method: "POST", path: "/Invoice", body: fresh},
		{name: "ConditionalUpdate", method: "PUT", path: "/Invoice?_id=inv-a-only", body: own},
		{name: "Delete", method: "DELETE", path: "/Invoice/inv-a-only"},
		{name: "DeleteMissing", method: "DELETE", path: "/Invoice/never"},
		{name: "ConditionalDelete", method: "DELETE", path: "/Invoice?_id=inv-a-only"},
		{name: "TransactionCreate", method: "POST", body: entry("transaction", "POST", "Invoice", fresh)},
		{name: "TransactionDelete", method: "POST", body: entry("transaction", "DELETE", "Invoice/inv-a-only", "")},
		{name: "BatchUpdate", method: "POST", body: entry("batch", "PUT", "Invoice/inv-a-only", own), entry: true},
		// The launch context decides, not the scope that grants the write.
		{name: "UserScopeBeside", method: "POST", path: "/Invoice", body: fresh,
			token: e.ext("launch/patient patient/*.rs user/Invoice.cud", "a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as(cmp.Or(tt.token, tok), tt.method, tt.path, tt.body)
			got := r.Status
			if tt.entry {
				got = entryStatus(r)
			}
			if got != 403 {
				t.Fatalf("got %d, want 403: %.400s", got, r.Body)
			}
			if tt.entry {
				return
			}
			if !strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_scope") {
				t.Errorf("WWW-Authenticate = %q, want insufficient_scope", r.Header.Get("WWW-Authenticate"))
			}
			if code, diag := outcome(r); code != "forbidden" || !strings.Contains(diag, "Invoice: read-only") {
				t.Errorf("issue %s %q, want forbidden saying Invoice is read-only to patient apps", code, diag)
			}
		})
	}

	r := e.as(admin, "GET", "/Invoice/inv-a-only", "")
	if r.Status != 200 || r.JSON()["status"] != "issued" || r.JSON()["meta"].(map[string]any)["versionId"] != "1" {
		t.Errorf("inv-a-only after the refusals: %d %.300s, want version 1, issued", r.Status, r.Body)
	}
	if r := e.as(admin, "GET", "/Invoice?subject=Patient/a&_summary=count", ""); total(r) != "2" {
		t.Errorf("a's Invoices after the refusals: total %s, want 2 (inv-a, inv-a-only)", total(r))
	}

	// Reads stay as the scopes give them, other types stay writable, and
	// a token without a patient in context writes the type as before.
	if r := e.as(tok, "GET", "/Invoice/inv-a-only", ""); r.Status != 200 {
		t.Errorf("the patient's read of its Invoice: got %d, want 200", r.Status)
	}
	if r := e.as(tok, "PUT", "/Coverage/cov-a", coverage("cov-a", "a", "ins-a")); r.Status != 200 {
		t.Errorf("the patient's update of its Coverage: got %d, want 200: %.300s", r.Status, r.Body)
	}
	if r := e.as(admin, "PUT", "/Invoice/inv-a-only", own); r.Status != 200 {
		t.Errorf("a system token's update of the Invoice: got %d, want 200: %.300s", r.Status, r.Body)
	}
}
