package smart_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// twoPatients stores, for patients a and b, a Patient, an Invoice, a
// Claim, a Coverage and a ChargeItem; a's Invoice names b as recipient,
// so that _include of the recipient must leave b out for a.
func twoPatients(e *env) {
	for _, p := range []string{"a", "b"} {
		e.put("Patient", p, patient(p))
		recipient := ""
		if p == "a" {
			recipient = "Patient/b"
		}
		e.put("Invoice", "inv-"+p, invoice("inv-"+p, p, "issued", recipient))
		e.put("Claim", "claim-"+p, claim("claim-"+p, p, "ins-"+p))
		e.put("Coverage", "cov-"+p, coverage("cov-"+p, p, "ins-"+p))
		e.put("ChargeItem", "ci-"+p, chargeItem("ci-"+p, p))
	}
	// A second version of each Invoice, for histories.
	e.put("Invoice", "inv-a", invoice("inv-a", "a", "balanced", "Patient/b"))
	e.put("Invoice", "inv-b", invoice("inv-b", "b", "balanced", ""))
}

// TestCompartment_Patient is "Must show" 3: a patient token for a sees
// only a's resources on read, search, _include, _revinclude, history and
// batch entries; b's answer 404.
func TestCompartment_Patient(t *testing.T) {
	e := start(t)
	twoPatients(e)
	tok := e.token("launch/patient patient/*.rs openid", "a")

	t.Run("Read", func(t *testing.T) {
		for _, p := range []string{"Patient/a", "Invoice/inv-a", "Claim/claim-a", "Coverage/cov-a", "ChargeItem/ci-a"} {
			if r := e.as(tok, "GET", "/"+p, ""); r.Status != 200 {
				t.Errorf("GET %s: got %d, want 200: %s", p, r.Status, r.Body)
			}
		}
		for _, p := range []string{"Patient/b", "Invoice/inv-b", "Claim/claim-b", "Coverage/cov-b", "ChargeItem/ci-b",
			"Invoice/inv-b/_history/1", "Invoice/inv-b/_history"} {
			r := e.as(tok, "GET", "/"+p, "")
			if code, _ := outcome(r); r.Status != 404 || code != "not-found" {
				t.Errorf("GET %s: got %d %s, want 404 not-found as if it did not exist", p, r.Status, code)
			}
		}
	})

	t.Run("Search", func(t *testing.T) {
		for typ, want := range map[string]string{
			"Patient": "Patient/a (match)", "Invoice": "Invoice/inv-a (match)", "Claim": "Claim/claim-a (match)",
			"Coverage": "Coverage/cov-a (match)", "ChargeItem": "ChargeItem/ci-a (match)",
		} {
			r := e.as(tok, "GET", "/"+typ+"?_total=accurate", "")
			if got := strings.Join(ids(r), ","); got != want || total(r) != "1" {
				t.Errorf("search %s: got %s total %s, want %s total 1", typ, got, total(r), want)
			}
		}
		// Asking for b by id or by reference finds nothing.
		for _, q := range []string{"/Patient?_id=b", "/Invoice?subject=Patient/b", "/Claim?patient=b&_summary=count"} {
			if r := e.as(tok, "GET", q, ""); total(r) != "0" || len(ids(r)) != 0 {
				t.Errorf("GET %s: got %v total %s, want nothing", q, ids(r), total(r))
			}
		}
	})

	t.Run("Include", func(t *testing.T) {
		r := e.as(tok, "GET", "/Invoice?_include=Invoice:subject&_include=Invoice:recipient", "")
		want := []string{"Invoice/inv-a (match)", "Patient/a (include)"}
		if got := ids(r); !slices.Equal(got, want) {
			t.Errorf("_include: got %v, want %v (b, the recipient, left out)", got, want)
		}
		// The same search with a full-power token does include b.
		admin := e.token("system/*.rs", "")
		r = e.as(admin, "GET", "/Invoice?_id=inv-a&_include=Invoice:recipient", "")
		if got := ids(r); !slices.Contains(got, "Patient/b (include)") {
			t.Errorf("_include with system scope: got %v, want Patient/b included", got)
		}
	})

	t.Run("RevInclude", func(t *testing.T) {
		r := e.as(tok, "GET", "/Patient?_revinclude=Invoice:subject&_revinclude=Claim:patient&_revinclude=Coverage:beneficiary", "")
		want := []string{"Patient/a (match)", "Invoice/inv-a (include)", "Claim/claim-a (include)", "Coverage/cov-a (include)"}
		if got := ids(r); !slices.Equal(got, want) {
			t.Errorf("_revinclude: got %v, want %v", got, want)
		}
	})

	t.Run("History", func(t *testing.T) {
		r := e.as(tok, "GET", "/Invoice/_history", "")
		got := ids(r)
		if total(r) != "2" || len(got) != 2 || got[0] != "Invoice/inv-a" || got[1] != "Invoice/inv-a" {
			t.Errorf("type history: got %v total %s, want the 2 versions of inv-a only", got, total(r))
		}
		r = e.as(tok, "GET", "/Invoice/inv-a/_history", "")
		if r.Status != 200 || total(r) != "2" {
			t.Errorf("instance history of inv-a: got %d total %s, want 200 total 2", r.Status, total(r))
		}
		if r := e.as(tok, "GET", "/ChargeItem/ci-b/_history", ""); r.Status != 404 {
			t.Errorf("history of ci-b: got %d, want 404", r.Status)
		}
	})

	t.Run("Batch", func(t *testing.T) {
		batch := `{"resourceType":"Bundle","type":"batch","entry":[
			{"request":{"method":"GET","url":"Invoice/inv-a"}},
			{"request":{"method":"GET","url":"Invoice/inv-b"}},
			{"request":{"method":"GET","url":"Claim?patient=b"}}]}`
		r := e.as(tok, "POST", "", batch)
		entries, _ := r.JSON()["entry"].([]any)
		if r.Status != 200 || len(entries) != 3 {
			t.Fatalf("batch: got %d with %d entries: %s", r.Status, len(entries), r.Body)
		}
		status := func(i int) string {
			return entries[i].(map[string]any)["response"].(map[string]any)["status"].(string)
		}
		if status(0) != "200 OK" || status(1) != "404 Not Found" {
			t.Errorf("batch reads: got %q, %q, want 200 OK, 404 Not Found", status(0), status(1))
		}
		inner := entries[2].(map[string]any)["resource"].(map[string]any)
		if fmt.Sprint(inner["total"]) != "0" {
			t.Errorf("batch search of b's claims: total %v, want 0", inner["total"])
		}
	})

	t.Run("Transaction", func(t *testing.T) {
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[
			{"request":{"method":"GET","url":"Invoice/inv-a"}},
			{"request":{"method":"GET","url":"Invoice/inv-b"}},
			{"request":{"method":"GET","url":"Invoice?subject=Patient/b"}}]}`
		r := e.as(tok, "POST", "", tx)
		entries, _ := r.JSON()["entry"].([]any)
		if r.Status != 200 || len(entries) != 3 {
			t.Fatalf("transaction: got %d with %d entries: %s", r.Status, len(entries), r.Body)
		}
		st := func(i int) string {
			return entries[i].(map[string]any)["response"].(map[string]any)["status"].(string)
		}
		if st(0) != "200 OK" || st(1) != "404 Not Found" {
			t.Errorf("transaction reads: got %q, %q, want 200 OK, 404 Not Found", st(0), st(1))
		}
		if inner, _ := entries[2].(map[string]any)["resource"].(map[string]any); fmt.Sprint(inner["total"]) != "0" {
			t.Errorf("transaction search of b's invoices: %v, want total 0", inner)
		}
	})

	t.Run("V1Scopes", func(t *testing.T) {
		v1 := e.token("launch/patient patient/*.read", "a")
		r := e.as(v1, "GET", "/Invoice?_include=Invoice:recipient", "")
		if got := ids(r); !slices.Equal(got, []string{"Invoice/inv-a (match)"}) {
			t.Errorf("v1 search with _include of the recipient b: got %v, want inv-a alone", got)
		}
		r = e.as(v1, "GET", "/Patient?_revinclude=ChargeItem:subject", "")
		if got := ids(r); !slices.Equal(got, []string{"Patient/a (match)", "ChargeItem/ci-a (include)"}) {
			t.Errorf("v1 _revinclude: got %v, want Patient/a and ci-a", got)
		}
		if r := e.as(v1, "GET", "/ChargeItem/ci-b", ""); r.Status != 404 {
			t.Errorf("v1 read of b's ChargeItem: got %d, want 404", r.Status)
		}
	})

	t.Run("Payor", func(t *testing.T) {
		// a pays for b's coverage: the Coverage is in both compartments
		// (R4 CompartmentDefinition patient: Coverage payor).
		e.put("Coverage", "cov-b-paid-by-a", `{"resourceType":"Coverage","id":"cov-b-paid-by-a","status":"active",`+
			`"beneficiary":{"reference":"Patient/b"},"payor":[{"reference":"Patient/a"}]}`)
		if r := e.as(tok, "GET", "/Coverage/cov-b-paid-by-a", ""); r.Status != 200 {
			t.Errorf("a reads the coverage a pays: got %d, want 200", r.Status)
		}
		r := e.as(tok, "GET", "/Coverage?_total=accurate", "")
		if got := ids(r); !slices.Equal(got, []string{"Coverage/cov-a (match)", "Coverage/cov-b-paid-by-a (match)"}) {
			t.Errorf("a's coverage search: got %v", got)
		}
	})

	t.Run("Write", func(t *testing.T) {
		w := e.token("patient/Invoice.cruds", "a")
		if r := e.as(w, "POST", "/Invoice", invoice("", "b", "draft", "")); r.Status != 403 {
			t.Errorf("create of b's invoice: got %d, want 403", r.Status)
		}
		if r := e.as(w, "PUT", "/Invoice/inv-b", invoice("inv-b", "a", "draft", "")); r.Status != 404 {
			t.Errorf("update of b's invoice: got %d, want 404", r.Status)
		}
		if r := e.as(w, "DELETE", "/Invoice/inv-b", ""); r.Status != 204 {
			t.Errorf("delete of b's invoice: got %d, want 204 with nothing deleted", r.Status)
		}
		admin := e.token("system/*.rs", "")
		if r := e.as(admin, "GET", "/Invoice/inv-b", ""); r.Status != 200 {
			t.Errorf("b's invoice after a's delete: got %d, want 200 (still there)", r.Status)
		}
		if r := e.as(w, "POST", "/Invoice", invoice("", "a", "draft", "")); r.Status != 201 {
			t.Errorf("create of a's invoice: got %d, want 201: %s", r.Status, r.Body)
		}
	})
}
