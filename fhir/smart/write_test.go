package smart_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"
)

// TestPatientWrites_OutsideCompartment checks that patient/ scopes write
// only within the patient's compartment (scopes-and-launch-context.html,
// "patient/ scopes": access limited to the patient in context): a type
// no patient's compartment holds (the clinic's price list, Organization,
// Practitioner) is read as it is but never written, by any interaction.
func TestPatientWrites_OutsideCompartment(t *testing.T) {
	e := start(t)
	twoPatients(e)
	e.put("Organization", "ins-a", `{"resourceType":"Organization","id":"ins-a","name":"A"}`)
	tok := e.token("launch/patient patient/*.cruds", "a")
	admin := e.token("system/*.rs", "")

	price := `{"resourceType":"ChargeItemDefinition","id":"0000","url":"http://evil.example/0000","status":"active",` +
		`"code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]},` +
		`"propertyGroup":[{"priceComponent":[{"type":"base","amount":{"value":0.01,"currency":"USD"}}]}]}`
	tx := func(method, url, res string) string {
		s := `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"` + method + `","url":"` + url + `"}`
		if res != "" {
			s += `,"resource":` + res
		}
		return s + `}]}`
	}
	tests := []struct {
		name, method, path, body string
	}{
		{"PutPriceList", "PUT", "/ChargeItemDefinition/0000", price},
		{"PostPriceList", "POST", "/ChargeItemDefinition", strings.Replace(price, `"id":"0000",`, "", 1)},
		{"ConditionalUpdatePriceList", "PUT", "/ChargeItemDefinition?url=http://evil.example/0000",
			strings.Replace(price, `"id":"0000",`, "", 1)},
		{"PutOrganization", "PUT", "/Organization/ins-a", `{"resourceType":"Organization","id":"ins-a","name":"Mine now"}`},
		{"PostPractitioner", "POST", "/Practitioner", `{"resourceType":"Practitioner","name":[{"family":"Quack"}]}`},
		{"DeleteOrganization", "DELETE", "/Organization/ins-a", ""},
		{"ConditionalDeleteOrganization", "DELETE", "/Organization?name=A", ""},
		{"TransactionPriceList", "POST", "", tx("PUT", "ChargeItemDefinition/0000", price)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as(tok, tt.method, tt.path, tt.body)
			if r.Status != 403 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_scope") {
				t.Fatalf("got %d %q, want 403 insufficient_scope: %.300s", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
			}
			if _, diag := outcome(r); !strings.Contains(diag, "compartment") {
				t.Errorf("diagnostics %q, want it to say the type is outside the patient's compartment", diag)
			}
		})
	}

	if r := e.as(admin, "GET", "/ChargeItemDefinition/0000", ""); r.Status != 404 {
		t.Errorf("the price list after the refused writes: got %d, want 404 (never stored)", r.Status)
	}
	r := e.as(admin, "GET", "/Organization/ins-a", "")
	if r.Status != 200 || r.JSON()["name"] != "A" {
		t.Errorf("Organization/ins-a after the refused writes: got %d %v, want 200 named A", r.Status, r.JSON()["name"])
	}
	if r := e.as(admin, "GET", "/Practitioner?_summary=count", ""); total(r) != "0" {
		t.Errorf("Practitioners after the refused create: total %s, want 0", total(r))
	}
	// Reading them is what patient/ scopes give on these types.
	if r := e.as(tok, "GET", "/Organization/ins-a", ""); r.Status != 200 {
		t.Errorf("read of Organization/ins-a: got %d, want 200", r.Status)
	}
}

// TestPatientWrites_OtherPatient checks that a resource written under a
// patient context names no other patient in any of the references that
// put it in a patient's compartment (subject and recipient of an
// Invoice; beneficiary, subscriber, policy holder and payor of a
// Coverage; ...): the patient's compartment is the patient's alone, and
// a write must not put a resource into another patient's. The same
// holds for the version a write replaces or deletes, so that a patient
// never changes what another patient sees either.
func TestPatientWrites_OtherPatient(t *testing.T) {
	e := start(t)
	twoPatients(e) // inv-a names a as subject and b as recipient
	e.put("Invoice", "inv-a-only", invoice("inv-a-only", "a", "issued", "Patient/a"))
	tok := e.token("launch/patient patient/*.cruds", "a")
	admin := e.token("system/*.rs", "")
	b := e.token("launch/patient patient/*.rs", "b")

	const insurer = `,"payor":[{"reference":"Organization/ins-a"}]`
	cov := func(id, extra string) string {
		s := `{"resourceType":"Coverage",`
		if id != "" {
			s += `"id":"` + id + `",`
		}
		return s + `"status":"active","beneficiary":{"reference":"Patient/a"}` + extra + `}`
	}
	injected := `{"resourceType":"Invoice","identifier":[{"system":"urn:test","value":"inj"}],"status":"issued",` +
		`"subject":{"reference":"Patient/a"},"recipient":{"reference":"Patient/b"},` +
		`"totalNet":{"value":4999.00,"currency":"USD"}}`
	withID := func(body, id string) string {
		return strings.Replace(body, `{"resourceType":"Invoice",`, `{"resourceType":"Invoice","id":"`+id+`",`, 1)
	}
	bundle := func(typ, method, url, res string) string {
		return `{"resourceType":"Bundle","type":"` + typ + `","entry":[{"request":{"method":"` + method + `","url":"` + url +
			`"},"resource":` + res + `}]}`
	}

	refused := []struct {
		name, method, path, body string
		header                   []string
		entry                    bool // the status is the batch entry's
	}{
		{name: "CreateInvoiceForOtherRecipient", method: "POST", path: "/Invoice", body: injected},
		{name: "ConditionalCreate", method: "POST", path: "/Invoice", body: injected,
			header: []string{"If-None-Exist", "identifier=urn:test|inj"}},
		{name: "UpdateAsCreate", method: "PUT", path: "/Invoice/inj1", body: withID(injected, "inj1")},
		{name: "ConditionalUpdate", method: "PUT", path: "/Invoice?identifier=urn:test|inj", body: injected},
		{name: "Transaction", method: "POST", path: "", body: bundle("transaction", "POST", "Invoice", injected)},
		{name: "Batch", method: "POST", path: "", body: bundle("batch", "POST", "Invoice", injected), entry: true},
		{name: "UpdateOwnToNameOther", method: "PUT", path: "/Invoice/inv-a-only", body: invoice("inv-a-only", "a", "issued", "Patient/b")},
		{name: "CoverageSubscriber", method: "POST", path: "/Coverage", body: cov("", `,"subscriber":{"reference":"Patient/b"}`+insurer)},
		{name: "CoveragePolicyHolder", method: "POST", path: "/Coverage", body: cov("", `,"policyHolder":{"reference":"Patient/b"}`+insurer)},
		{name: "CoveragePayor", method: "POST", path: "/Coverage", body: cov("", `,"payor":[{"reference":"Patient/b"}]`)},
		// inv-a is in b's compartment too (b is its recipient): a changes
		// or deletes it no more than b's own.
		{name: "UpdateShared", method: "PUT", path: "/Invoice/inv-a", body: invoice("inv-a", "a", "cancelled", "")},
		{name: "DeleteShared", method: "DELETE", path: "/Invoice/inv-a"},
		{name: "ConditionalDeleteShared", method: "DELETE", path: "/Invoice?_id=inv-a"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := e.srv.Do(tt.method, tt.path, body(tt.body), append([]string{"Authorization", "Bearer " + tok}, tt.header...)...)
			got := r.Status
			if tt.entry {
				got = entryStatus(r)
			}
			if got != 403 {
				t.Fatalf("got %d, want 403: %.400s", got, r.Body)
			}
			if !tt.entry && !strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_scope") {
				t.Errorf("WWW-Authenticate = %q, want insufficient_scope", r.Header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("NothingStored", func(t *testing.T) {
		if r := e.as(admin, "GET", "/Invoice?identifier=urn:test|inj&_summary=count", ""); total(r) != "0" {
			t.Errorf("injected Invoices stored: total %s, want 0", total(r))
		}
		if r := e.as(b, "GET", "/Invoice?_summary=count", ""); total(r) != "2" {
			t.Errorf("b's Invoices: total %s, want 2 (inv-b and inv-a, whose recipient b is)", total(r))
		}
		r := e.as(admin, "GET", "/Invoice/inv-a", "")
		if r.Status != 200 || r.JSON()["status"] != "balanced" {
			t.Errorf("inv-a: got %d status %v, want 200 balanced (unchanged)", r.Status, r.JSON()["status"])
		}
		if r := e.as(admin, "GET", "/Coverage?beneficiary=Patient/a&_summary=count", ""); total(r) != "1" {
			t.Errorf("a's Coverages: total %s, want 1 (cov-a alone)", total(r))
		}
	})

	allowed := []struct {
		name, method, path, body string
	}{
		{"InvoiceToSelf", "POST", "/Invoice", invoice("", "a", "draft", "Patient/a")},
		{"InvoiceToOrganization", "POST", "/Invoice", invoice("", "a", "draft", "Organization/ins-a")},
		{"UpdateOwn", "PUT", "/Invoice/inv-a-only", invoice("inv-a-only", "a", "balanced", "Patient/a")},
		{"CoveragePaidByInsurer", "POST", "/Coverage", cov("", `,"subscriber":{"reference":"Patient/a"}`+insurer)},
		{"DeleteOwn", "DELETE", "/Invoice/inv-a-only", ""},
	}
	for _, tt := range allowed {
		t.Run(tt.name, func(t *testing.T) {
			if r := e.as(tok, tt.method, tt.path, tt.body); r.Status > 204 {
				t.Fatalf("got %d, want success: %.300s", r.Status, r.Body)
			}
		})
	}

	// The rule is the patient scope's: a user/ scope of the same token
	// writes as it does without a patient in context.
	t.Run("UserScopeBeside", func(t *testing.T) {
		both := e.ext("launch/patient patient/*.rs user/Invoice.c", "a")
		if r := e.as(both, "POST", "/Invoice", injected); r.Status != 201 {
			t.Errorf("create under user/Invoice.c: got %d, want 201: %.300s", r.Status, r.Body)
		}
	})
}

// TestPatientScope_WithoutPatientContext checks that a token with
// patient/ scopes and no patient claim says so when refused: the scopes
// are right, the launch context is missing.
func TestPatientScope_WithoutPatientContext(t *testing.T) {
	e := start(t)
	tok := e.ext("patient/*.rs", "")
	r := e.as(tok, "GET", "/Invoice", "")
	if r.Status != 403 {
		t.Fatalf("got %d, want 403: %s", r.Status, r.Body)
	}
	if _, diag := outcome(r); !strings.Contains(diag, "no patient in context") {
		t.Errorf("diagnostics %q, want it to say the token has no patient in context", diag)
	}
}

// TestOperation_WritesAsCaller checks that an operation's writes on its
// caller's behalf stay within the caller's access: what it reads to
// replace and what it stores, of the types it says it writes
// (rest.Operation.Writes), are checked as the caller's own update would
// be. A type it writes by its own rules, not named in Writes, is not.
func TestOperation_WritesAsCaller(t *testing.T) {
	e := start(t)
	twoPatients(e)
	api := e.srv.API
	// $put stores the Invoice posted in place of the current version, as
	// billing's $submit stores a Claim: read, then commit. $put-noted also
	// stores a ChargeItem of patient b's, by its own rule.
	put := func(note bool) func(ctx context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
		return func(ctx context.Context, req *rest.OperationRequest) (*rest.OperationResponse, error) {
			r, err := resource.Parse(req.Body)
			if err != nil {
				return nil, err
			}
			_, v, err := api.ReadResource(ctx, r.Type(), r.ID())
			if err != nil && !errors.Is(err, resource.ErrNotFound) {
				return nil, err
			}
			changes := []rest.Change{{Resource: r, Prev: v}}
			if note {
				ci, err := resource.Parse([]byte(chargeItem("ci-note", "b")))
				if err != nil {
					return nil, err
				}
				changes = append(changes, rest.Change{Resource: ci})
			}
			if _, err := api.Commit(ctx, changes); err != nil {
				return nil, err
			}
			return &rest.OperationResponse{Status: http.StatusOK, Body: []byte(`{"resourceType":"Parameters"}`)}, nil
		}
	}
	api.RegisterOperation(&rest.Operation{Name: "put", Types: []string{"Invoice"}, Type: true,
		Writes: []string{"Invoice"}, Handle: put(false)})
	api.RegisterOperation(&rest.Operation{Name: "put-noted", Types: []string{"Invoice"}, Type: true,
		Writes: []string{"Invoice"}, Handle: put(true)})

	tok := e.token("launch/patient patient/*.cruds", "a")
	admin := e.token("system/*.rs", "")
	tests := []struct {
		name, op, body string
		want           int
	}{
		{"Own", "$put", invoice("op-a", "a", "draft", ""), 200},
		{"NewForOther", "$put", invoice("op-b", "b", "draft", ""), 403},
		{"NamingOther", "$put", invoice("op-ab", "a", "draft", "Patient/b"), 403},
		{"ReplacingOthers", "$put", invoice("inv-b", "a", "draft", ""), 403},
		{"OwnWithNote", "$put-noted", invoice("op-a2", "a", "draft", ""), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as(tok, "POST", "/Invoice/"+tt.op, tt.body)
			if r.Status != tt.want {
				t.Fatalf("got %d, want %d: %.300s", r.Status, tt.want, r.Body)
			}
			if tt.want == 403 && strings.Contains(string(r.Body), "inv-b") {
				t.Errorf("the refusal names the resource it hides: %s", r.Body)
			}
		})
	}
	for id, want := range map[string]int{"op-a": 200, "op-b": 404, "op-ab": 404, "op-a2": 200} {
		if r := e.as(admin, "GET", "/Invoice/"+id, ""); r.Status != want {
			t.Errorf("Invoice/%s after the operations: got %d, want %d", id, r.Status, want)
		}
	}
	if r := e.as(admin, "GET", "/Invoice/inv-b", ""); r.JSON()["subject"].(map[string]any)["reference"] != "Patient/b" {
		t.Errorf("inv-b after the refused $put: %s, want b's still", r.Body)
	}
	if r := e.as(admin, "GET", "/ChargeItem/ci-note", ""); r.Status != 200 {
		t.Errorf("the ChargeItem $put-noted writes by its own rule: got %d, want 200", r.Status)
	}
}

// TestConditionalCreate_MatchNeedsRead checks that a conditional create
// whose If-None-Exist finds a resource shows it only to a caller who may
// read it: with create access alone, the answer is the 200 without the
// resource (as Prefer: return=minimal), in a plain POST and in batch and
// transaction entries, so that c does not read what r guards.
func TestConditionalCreate_MatchNeedsRead(t *testing.T) {
	e := start(t)
	e.put("Invoice", "secret", `{"resourceType":"Invoice","id":"secret","identifier":[{"system":"urn:test","value":"cc"}],`+
		`"status":"issued","subject":{"reference":"Patient/p1"},"totalNet":{"value":1234.56,"currency":"USD"}}`)
	post := `{"resourceType":"Invoice","identifier":[{"system":"urn:test","value":"cc"}],"status":"draft","subject":{"reference":"Patient/p1"}}`
	bundle := func(typ string) string {
		return `{"resourceType":"Bundle","type":"` + typ + `","entry":[{"resource":` + post +
			`,"request":{"method":"POST","url":"Invoice","ifNoneExist":"identifier=urn:test|cc"}}]}`
	}
	for _, tt := range []struct {
		name, scope string
		shown       bool
	}{
		{"CreateOnly", "system/Invoice.c", false},
		{"CreateAndRead", "system/Invoice.cr", true},
	} {
		tok := e.ext(tt.scope, "")
		t.Run(tt.name, func(t *testing.T) {
			r := e.srv.Do("POST", "/Invoice", []byte(post), "Authorization", "Bearer "+tok, "If-None-Exist", "identifier=urn:test|cc")
			if r.Status != 200 {
				t.Fatalf("conditional create: got %d, want 200 (the match): %s", r.Status, r.Body)
			}
			if got := strings.Contains(string(r.Body), "1234.56"); got != tt.shown {
				t.Errorf("conditional create: the match shown %v, want %v: %s", got, tt.shown, r.Body)
			}
			for _, typ := range []string{"batch", "transaction"} {
				r := e.as(tok, "POST", "", bundle(typ))
				if r.Status != 200 || entryStatus(r) != 200 {
					t.Fatalf("%s: got %d (entry %d), want 200: %s", typ, r.Status, entryStatus(r), r.Body)
				}
				if got := strings.Contains(string(r.Body), "1234.56"); got != tt.shown {
					t.Errorf("%s: the match shown %v, want %v: %s", typ, got, tt.shown, r.Body)
				}
			}
		})
	}
}
