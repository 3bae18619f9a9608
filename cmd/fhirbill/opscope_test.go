package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/smart"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// securedServer starts the API with SMART auth on and the operations
// registered as `fhirbill serve` registers them: billing's and $ehr-sync
// (with no EHR connection).
func securedServer(t *testing.T) (*resttest.Server, *smart.Server) {
	t.Helper()
	var auth *smart.Server
	srv := resttest.NewWith(t, func(base string, st *store.Store, reg *search.Registry) rest.Config {
		a, err := smart.New(t.Context(), smart.Config{Base: base, Registry: reg, Replay: st})
		if err != nil {
			t.Fatalf("smart.New: %v", err)
		}
		auth = a
		return rest.Config{Base: base, Authorizer: a, Security: a.Security()}
	})
	if _, err := startBilling(t.Context(), srv.API, srv.Store, "USD", slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("start billing: %v", err)
	}
	sy, err := ehr.NewSyncer(ehr.Config{Records: srv.API, State: srv.Store})
	if err != nil {
		t.Fatal(err)
	}
	srv.API.RegisterOperation(sy.Operation())
	return srv, auth
}

// TestOperations_Scopes is the scope matrix of "Must show" 2 for the
// operations fhirbill serves: each takes the access of what it amounts
// to (fhir/rest Operation.Writes and ReadOnly). $bill reads the Encounter
// and writes ChargeItems, the Invoice and the Account; $issue reads and
// updates the Invoice; $cancel also writes the Account; $apply reads the
// definition and the ChargeItem it prices, and stores nothing;
// $translate searches ConceptMaps by GET or POST; $ehr-sync searches,
// creates and updates every type.
func TestOperations_Scopes(t *testing.T) {
	srv, auth := securedServer(t)
	token := func(scope, patient string) string {
		tok, err := auth.IssueToken(t.Context(), smart.TokenRequest{Subject: "ops-test", Scope: scope, Patient: patient})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin := token("system/*.cruds", "")
	for _, body := range []string{
		`{"resourceType":"Organization","id":"clinic","name":"Clinic"}`,
		`{"resourceType":"Patient","id":"p1"}`,
		`{"resourceType":"Patient","id":"p2"}`,
		`{"resourceType":"ChargeItemDefinition","id":"price-99213","url":"https://clinic.example/price/99213","status":"active",
		  "code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]},
		  "propertyGroup":[{"priceComponent":[{"type":"base","amount":{"value":150.00,"currency":"USD"}}]}]}`,
		`{"resourceType":"Encounter","id":"e1","status":"finished",
		  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
		  "type":[{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]}],
		  "subject":{"reference":"Patient/p1"},"period":{"start":"2025-03-03T09:00:00Z","end":"2025-03-03T09:30:00Z"},
		  "serviceProvider":{"reference":"Organization/clinic"}}`,
		`{"resourceType":"ChargeItem","id":"ci1","status":"billable","subject":{"reference":"Patient/p1"},
		  "code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]}}`,
	} {
		var head struct{ ResourceType, ID string }
		decode(t, []byte(body), &head)
		if r := srv.Do("PUT", "/"+head.ResourceType+"/"+head.ID, []byte(body), "Authorization", "Bearer "+admin); r.Status > 201 {
			t.Fatalf("PUT %s/%s: %d %s", head.ResourceType, head.ID, r.Status, r.Body)
		}
	}
	// A self-pay visit (no Coverage) bills at the price list's 150.00.
	if r := srv.Do("POST", "/Encounter/e1/$bill", nil, "Authorization", "Bearer "+admin); r.Status != 200 {
		t.Fatalf("$bill by the admin: %d %s", r.Status, r.Body)
	}

	apply := `{"resourceType":"Parameters","parameter":[{"name":"chargeItem","valueReference":{"reference":"ChargeItem/ci1"}}]}`
	translate := `{"resourceType":"Parameters","parameter":[{"name":"system","valueUri":"http://snomed.info/sct"},` +
		`{"name":"code","valueCode":"185349003"},{"name":"targetsystem","valueUri":"http://www.ama-assn.org/go/cpt"}]}`
	ops := []struct {
		name, method, path, body string
	}{
		{"$bill", "POST", "/Encounter/e1/$bill", ""},
		{"$issue", "POST", "/Invoice/e1-patient/$issue", ""},
		{"$cancel", "POST", "/Invoice/e1-patient/$cancel", ""},
		{"$apply", "POST", "/ChargeItemDefinition/price-99213/$apply", apply},
		{"$translate", "GET", "/ConceptMap/$translate?system=http://snomed.info/sct&code=185349003&targetsystem=http://www.ama-assn.org/go/cpt", ""},
		{"$translate-post", "POST", "/ConceptMap/$translate", translate},
		{"$ehr-sync", "POST", "/$ehr-sync?ehr=none", ""},
	}
	const every = "$bill $issue $cancel $apply $translate $translate-post $ehr-sync"
	rows := []struct {
		scope, patient string
		allowed        string
		// hidden lists the operations answered as if their target did not
		// exist (404), or, for a parameter naming it, a 400.
		hidden map[string]int
	}{
		{scope: "system/Encounter.r system/ChargeItem.cu system/Invoice.cu system/Account.cu", allowed: "$bill"},
		{scope: "system/Encounter.r system/ChargeItem.cu system/Invoice.cu"}, // $bill also writes the Account
		{scope: "system/Encounter.ru"},                                             // reading and updating the Encounter is not billing it
		{scope: "system/Invoice.ru", allowed: "$issue"},                            // $cancel also writes the Account
		{scope: "system/Invoice.cru system/Account.cu", allowed: "$issue $cancel"}, // ...
		{scope: "system/ChargeItemDefinition.r"},                                   // $apply reads the ChargeItem too
		{scope: "system/ChargeItemDefinition.r system/ChargeItem.r", allowed: "$apply"},
		{scope: "system/ChargeItemDefinition.u system/ChargeItem.u"},          // $apply writes nothing, reads both
		{scope: "system/ConceptMap.s", allowed: "$translate $translate-post"}, // a POST of $translate writes nothing
		{scope: "system/ConceptMap.u"},
		{scope: "system/*.rs", allowed: "$apply $translate $translate-post"},
		{scope: "system/*.cu"}, // every operation reads its target
		{scope: "system/*.crus", allowed: every},
		{scope: "system/*.*", allowed: every},                   // SMART v1
		{scope: "system/*.read system/*.write", allowed: every}, // SMART v1
		{scope: "user/*.cruds", allowed: every},
		// Billing operations are not a patient app's (NotForPatients).
		{scope: "patient/*.cruds", patient: "p1", allowed: "$apply $translate $translate-post"},
		{scope: "patient/*.cruds", patient: "p2", allowed: "$translate $translate-post",
			hidden: map[string]int{"$bill": 404, "$issue": 404, "$cancel": 404, "$apply": 400}},
	}
	for _, row := range rows {
		tok := token(row.scope, row.patient)
		allowed := strings.Fields(row.allowed)
		for _, op := range ops {
			name := fmt.Sprintf("%s%s/%s", strings.NewReplacer("/", "_", "*", "All", " ", "_").Replace(row.scope), row.patient, op.name)
			t.Run(name, func(t *testing.T) {
				r := srv.Do(op.method, op.path, body(op.body), "Authorization", "Bearer "+tok)
				switch {
				case row.hidden[op.name] != 0:
					if r.Status != row.hidden[op.name] {
						t.Errorf("got %d, want %d as if it did not exist: %.300s", r.Status, row.hidden[op.name], r.Body)
					}
				case slices.Contains(allowed, op.name) && op.name == "$ehr-sync":
					// Past the checks: the handler finds no connection "none".
					if r.Status != 404 || !strings.Contains(string(r.Body), "no EHR connection") {
						t.Errorf("got %d, want the handler's 404: %.300s", r.Status, r.Body)
					}
				case slices.Contains(allowed, op.name):
					// Past the checks the operation runs: 200, or a 409 once
					// the Invoice has moved on (issued, cancelled).
					if r.Status != 200 && r.Status != 409 {
						t.Errorf("got %d, want 200 or 409: %.300s", r.Status, r.Body)
					}
				default:
					if r.Status != 403 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_scope") {
						t.Errorf("got %d %q, want 403 insufficient_scope: %.300s", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
					}
				}
			})
		}
	}

	t.Run("NoToken", func(t *testing.T) {
		for _, op := range ops {
			if r := srv.Do(op.method, op.path, body(op.body)); r.Status != 401 {
				t.Errorf("%s without a token: got %d, want 401", op.name, r.Status)
			}
		}
	})
}

func body(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}
