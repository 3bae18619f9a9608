package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// putInStore stores a resource given as JSON as a server-side write, past
// the API's rules for clients: the state that data stored before a rule
// may be in.
func putInStore(t *testing.T, srv *resttest.Server, body string) {
	t.Helper()
	r, err := resource.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.API.Commit(t.Context(), []rest.Change{{Resource: r}}); err != nil {
		t.Fatal(err)
	}
}

// TestReport_SumsWhatBillingMade builds the report over a store holding a
// Medicare visit (the one of TestBill_OfficeVisitEndToEnd), a self-pay
// visit, a visit whose code no ConceptMap maps, a finished Encounter never
// billed, and an Invoice a client wrote whose totals do not add up.
//
// Right values: the Medicare visit's Invoice is 210.00 gross, 96.36
// adjustment, 113.64 allowed, 10.91 insurer, 102.73 patient (worked out in
// TestBill_OfficeVisitEndToEnd); the self-pay visit is 99213 at the price
// list's 150.00, all of it the patient's; the client's Invoice says 12.00
// gross over one line of 10.00.
func TestReport_SumsWhatBillingMade(t *testing.T) {
	srv := billingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	for _, r := range officeVisit("e1", "2025-03-10", true) {
		put(t, srv, r)
	}
	encounter := func(id, patient, code string) string {
		return `{"resourceType":"Encounter","id":"` + id + `","status":"finished",
		  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
		  "type":[{"coding":[` + code + `]}],
		  "subject":{"reference":"Patient/` + patient + `"},"serviceProvider":{"reference":"Organization/clinic"},
		  "period":{"start":"2025-04-01T10:00:00Z"}}`
	}
	put(t, srv, `{"resourceType":"Patient","id":"p2","birthDate":"1990-01-01"}`)
	put(t, srv, encounter("e2", "p2", `{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}`))
	put(t, srv, encounter("e3", "p2", `{"system":"http://snomed.info/sct","code":"308646001"}`))
	put(t, srv, encounter("e4", "p2", `{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}`))
	put(t, srv, encounter("e5", "p2", `{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}`))
	for _, e := range []string{"e1", "e2", "e3"} {
		bill(t, srv, e)
	}
	// Written past the API's rules (a client may no longer give an
	// Invoice billing's encounter identifier, see
	// TestInvoiceCreate_EncounterIdentifierRefused): a state data stored
	// before that rule may be in.
	putInStore(t, srv, `{"resourceType":"Invoice","id":"bad","status":"draft",
	  "identifier":[{"system":"https://fhirbill.dev/fhir/sid/encounter","value":"e5"}],
	  "lineItem":[{"chargeItemCodeableConcept":{"text":"a visit"},
	    "priceComponent":[{"type":"base",
	      "code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/adjudication","code":"submitted"}]},
	      "amount":{"value":10.00,"currency":"USD"}}]}],
	  "totalGross":{"value":12.00,"currency":"USD"},"totalNet":{"value":12.00,"currency":"USD"}}`)

	rep, err := buildReport(t.Context(), srv.API)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Encounters != 5 || rep.Finished != 5 || rep.Billed != 3 || rep.Invoices != 4 || rep.Lines != 4 {
		t.Errorf("encounters %d, finished %d, billed %d, invoices %d, lines %d; want 5, 5, 3, 4, 4",
			rep.Encounters, rep.Finished, rep.Billed, rep.Invoices, rep.Lines)
	}
	reasons := map[string]string{}
	for _, u := range rep.Unbilled {
		reasons[u.ID] = strings.Join(u.Reasons, "; ")
	}
	if len(reasons) != 2 || !strings.HasPrefix(reasons["e3"], "SNOMED CT 308646001: no CPT or HCPCS code") ||
		!strings.HasPrefix(reasons["e4"], "no Invoice") {
		t.Errorf("unbilled %v, want e3 (its code) and e4 (never billed)", reasons)
	}
	if rep.UnpricedTotal != 1 || len(rep.Unpriced) != 1 || rep.Unpriced[0].Code != "SNOMED CT 308646001" {
		t.Errorf("unpriced %d %v, want the one line of e3", rep.UnpricedTotal, rep.Unpriced)
	}
	if len(rep.Mismatched) != 1 || rep.Mismatched[0].ID != "bad" {
		t.Errorf("mismatched %v, want Invoice/bad alone", rep.Mismatched)
	}

	d := decimal.RequireFromString
	want := []payerTotals{
		{Payer: "Medicare Part B (Organization/medicare)", Invoices: 1, Lines: 2, Gross: d("210.00"),
			Discount: d("96.36"), Allowed: d("113.64"), Insurer: d("10.91"), Patient: d("102.73")},
		{Payer: selfPay, Invoices: 3, Lines: 2, Gross: d("162.00"), Discount: d("0"), Allowed: d("150.00"),
			Insurer: d("0"), Patient: d("162.00")},
	}
	if len(rep.ByPayer) != len(want) {
		t.Fatalf("%d payers, want %d: %+v", len(rep.ByPayer), len(want), rep.ByPayer)
	}
	for i, w := range want {
		g := rep.ByPayer[i]
		if g.Payer != w.Payer || g.Invoices != w.Invoices || g.Lines != w.Lines || !g.Gross.Equal(w.Gross) ||
			!g.Discount.Equal(w.Discount) || !g.Allowed.Equal(w.Allowed) || !g.Insurer.Equal(w.Insurer) ||
			!g.Patient.Equal(w.Patient) {
			t.Errorf("payer %d:\n got %+v\nwant %+v", i, *g, w)
		}
	}
	if !rep.All.Gross.Equal(d("372.00")) || !rep.All.Patient.Equal(d("264.73")) || rep.All.Invoices != 4 {
		t.Errorf("all payers %+v, want 4 invoices, gross 372.00, patient 264.73", rep.All)
	}

	var out bytes.Buffer
	rep.Write(&out, 0)
	for _, line := range []string{
		"encounters: 5 stored, 5 finished, 3 billed (60.0 %), 2 finished not billed",
		"invoices: 4 (draft 4), 4 lines",
		"Medicare Part B (Organization/medicare)         1      2  210.00       96.36   113.64    10.91   102.73",
		"Encounter/e4: no Invoice",
		"invoices whose totals do not equal the sum of their lines: 1",
		"Invoice/bad: line 1: allowed 0.00 is not base - discount",
		"total base/submitted 0.00, lines sum to 10.00",
		"totalGross 12.00, lines' base amounts sum to 10.00",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("the report lacks %q:\n%s", line, out.String())
		}
	}
}

// TestReport_Command runs `fhirbill report` on an empty embedded store.
func TestReport_Command(t *testing.T) {
	t.Setenv("MONGODB_URI", "")
	var out bytes.Buffer
	args := []string{"report", "--data-dir", t.TempDir(), "--log-level", "warn"}
	if err := run(t.Context(), args, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "encounters: 0 stored, 0 finished, 0 billed (0.0 %)") {
		t.Errorf("report of an empty store:\n%s", out.String())
	}
}

// TestReport_MissingDataDir: report only reads a store, so a --data-dir
// that does not exist (or is a file) is an error, and is not created.
func TestReport_MissingDataDir(t *testing.T) {
	t.Setenv("MONGODB_URI", "") // the embedded store, whatever the environment says
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dataDir string
		wantErr string
	}{
		{"Missing", filepath.Join(dir, "nonexistent", "x"), "does not exist"},
		{"File", file, "is not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), []string{"report", "--data-dir", tc.dataDir}, &out, io.Discard)
			want := "--data-dir " + tc.dataDir + " " + tc.wantErr
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("got error %v, want one containing %q", err, want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q, want nothing", out.String())
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nonexistent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat of the missing data directory's parent: got %v, want it not made", err)
	}
}
