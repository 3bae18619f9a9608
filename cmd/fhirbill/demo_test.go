package main

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store"

	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// demoSamples is the sample data, seen from this package's directory.
const demoSamples = "../../testdata/demo"

// demoWant is what each sample visit's Invoice must hold, computed by
// hand from testdata/demo/reference.json:
//
//   - price list (gross charges): 99213 150.00, 99214 220.00, 93000 60.00,
//     36415 15.00, 85025 40.00;
//   - Evergreen Senior Health (Medicare-like) fee list: 99213 95.00, 99214
//     135.00, 93000 20.00, 36415 3.00, 85025 8.00; plan: a 100.00
//     deductible a plan year (from 2025-01-01), then 20 % coinsurance;
//   - Bluebird Health PPO fee list: 99213 110.00, ...; plan: a 25.00
//     copay per office visit, then 10 % coinsurance (out-of-pocket maximum
//     3,000.00), no deductible;
//   - no Coverage: self-pay at the gross charge.
//
// Ada Example, 2025-03-04, Evergreen: 99213 + 93000 (ECG). Gross 150.00 +
// 60.00 = 210.00. 99213 allowed 95.00, all deductible: owes 95.00. 93000
// allowed 20.00: the deductible's last 5.00, then 20 % of 15.00 = 3.00:
// owes 8.00 (Evergreen 12.00). totalNet 95.00 + 8.00 = 103.00.
//
// Bruno Sample, 2025-02-11, Evergreen, his first visit of the plan year:
// 99214 + 36415 + 85025. Gross 220.00 + 15.00 + 40.00 = 275.00. 99214
// allowed 135.00: deductible 100.00, then 20 % of 35.00 = 7.00: owes
// 107.00. 36415 allowed 3.00: 20 % = 0.60. 85025 allowed 8.00: 20 % =
// 1.60. totalNet 107.00 + 0.60 + 1.60 = 109.20.
//
// Bruno Sample, 2025-06-17, Evergreen: 99213, the deductible met by the
// February visit: 20 % of 95.00 = 19.00. Gross 150.00, totalNet 19.00.
//
// Chiara Specimen, 2025-04-08, Bluebird, coded in SNOMED CT as Synthea
// codes: the check-up (185349003) is 99213 through demo-snomed-to-cpt;
// the depression screening (171207006) is 96127, which the price list
// lacks: not billable, no line. 99213 allowed 110.00: copay 25.00, then
// 10 % of 85.00 = 8.50: owes 33.50. Gross 150.00, totalNet 33.50.
//
// Eamon Placeholder, 2025-05-20, self-pay: 99214 at its gross charge,
// 220.00, owed in full.
var demoWant = map[string]struct {
	owed    []string // per line: base - discount - deduction
	gross   string
	net     string
	insurer string // the Claim's; "" for self-pay
}{
	"enc-ada-20250304":    {[]string{"95.00", "8.00"}, "210.00", "103.00", evergreen},
	"enc-bruno-20250211":  {[]string{"107.00", "0.60", "1.60"}, "275.00", "109.20", evergreen},
	"enc-bruno-20250617":  {[]string{"19.00"}, "150.00", "19.00", evergreen},
	"enc-chiara-20250408": {[]string{"33.50"}, "150.00", "33.50", "Organization/demo-payer-bluebird"},
	"enc-eamon-20250520":  {[]string{"220.00"}, "220.00", "220.00", ""},
}

const evergreen = "Organization/demo-payer-evergreen"

// demoPrinted is what a demo run printed that a user follows.
type demoPrinted struct {
	out            string
	base           string
	invoices       []string // Invoice URLs
	claimSearches  []string
	staff, patient string // tokens
	patientID      string // the patient token's Patient
}

var (
	reInvoiceURL = regexp.MustCompile(`(http://\S+/fhir)/Invoice/([A-Za-z0-9.-]+-patient)\b`)
	reClaimURL   = regexp.MustCompile(`http://\S+/fhir/Claim\?insurer=\S+`)
	reStaff      = regexp.MustCompile(`(?m)^\s*STAFF='([^']+)'$`)
	rePatient    = regexp.MustCompile(`(?m)^\s*PATIENT='([^']+)'$`)
	rePatientID  = regexp.MustCompile(`launched for\n[^,]+, Patient/([A-Za-z0-9.-]+) `)
)

// TestDemo is must-show 2 of issue 7 in a test: `fhirbill demo` prints
// Invoice URLs that answer 200 with itemized Invoices whose totals are
// the hand-computed ones (demoWant), a Claim search per payer that
// answers a searchset of its Claims, and tokens: the staff token reads
// everything, the patient token its patient's Invoices only (another's
// is a 404). A second run on the same data directory stores no new
// version of anything.
func TestDemo(t *testing.T) {
	if os.Getenv("MONGODB_URI") != "" {
		t.Setenv("MONGODB_URI", "") // the demo runs on the embedded store only
	}
	dir := t.TempDir()
	first, stop := runDemoUntilServing(t, dir)
	checkDemoAnswers(t, first)
	stop()
	before := demoVersions(t, dir)

	second, stop := runDemoUntilServing(t, dir)
	stop()
	if !strings.Contains(second.out, "stored 0 resources, 25 unchanged") ||
		!strings.Contains(second.out, "stored 0, 23 unchanged") {
		t.Errorf("the second run stored something:\n%s", second.out)
	}
	ids := func(p *demoPrinted) []string {
		var out []string
		for _, u := range p.invoices {
			out = append(out, u[strings.LastIndex(u, "/")+1:])
		}
		return out
	}
	if !slices.Equal(ids(first), ids(second)) {
		t.Errorf("the second run printed Invoices %v, the first %v", ids(second), ids(first))
	}
	after := demoVersions(t, dir)
	if !maps.Equal(before, after) {
		for k, v := range after {
			if before[k] != v {
				t.Errorf("%s: version %q after the first run, %q after the second", k, before[k], v)
			}
		}
	}

	logs, err := os.ReadFile(filepath.Join(dir, "demo.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{first.staff, first.patient, second.staff, "Example", "Specimen"} {
		if strings.Contains(string(logs), secret) {
			t.Errorf("demo.log holds a token or a patient's name")
		}
	}
}

// runDemoUntilServing runs the demo on dir and port 0 until it prints
// that it serves, and returns what it printed and a function that stops
// it and checks that it shut down cleanly.
func runDemoUntilServing(t *testing.T, dir string) (*demoPrinted, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	// finished is closed once the demo has returned, with its error in
	// demoErr: whoever waits for it (the loop below, then stop) sees it,
	// however often.
	var demoErr error
	var early bool // it stopped before serving, and the test said so
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		demoErr = run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--data-dir", dir,
			"--samples", demoSamples}, out, io.Discard)
	}()
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(time.Minute): // a bound on a hang, not a timing check
			t.Errorf("demo did not return after Ctrl-C:\n%s", out.String())
			return
		}
		if early {
			return
		}
		if demoErr != nil {
			t.Errorf("demo returned %v", demoErr)
		}
		if !strings.Contains(out.String(), "fhirbill demo: stopped") {
			t.Errorf("demo did not say it stopped:\n%s", out.String())
		}
	})
	t.Cleanup(stop)

	deadline := time.After(3 * time.Minute)
	for !strings.Contains(out.String(), "Serving until Ctrl-C.") {
		select {
		case <-finished:
			early = true
			t.Fatalf("demo stopped early: %v\n%s", demoErr, out.String())
		case <-deadline:
			t.Fatalf("demo did not start serving in time:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	p := &demoPrinted{out: out.String()}
	t.Logf("demo printed:\n%s", p.out)
	for _, m := range reInvoiceURL.FindAllStringSubmatch(p.out, -1) {
		if u := m[0]; !slices.Contains(p.invoices, u) {
			p.invoices, p.base = append(p.invoices, u), m[1]
		}
	}
	for _, u := range reClaimURL.FindAllString(p.out, -1) {
		if !slices.Contains(p.claimSearches, u) {
			p.claimSearches = append(p.claimSearches, u)
		}
	}
	if m := reStaff.FindStringSubmatch(p.out); m != nil {
		p.staff = m[1]
	}
	if m := rePatient.FindStringSubmatch(p.out); m != nil {
		p.patient = m[1]
	}
	if m := rePatientID.FindStringSubmatch(p.out); m != nil {
		p.patientID = m[1]
	}
	if len(p.invoices) != len(demoWant) || len(p.claimSearches) != 2 ||
		p.staff == "" || p.patient == "" || p.patientID == "" {
		t.Fatalf("the demo printed %d Invoice URLs (want %d), %d Claim searches (want 2), staff token %t, "+
			"patient token %t, its patient %q", len(p.invoices), len(demoWant), len(p.claimSearches),
			p.staff != "", p.patient != "", p.patientID)
	}
	return p, stop
}

// checkDemoAnswers follows what the demo printed, as a user would.
func checkDemoAnswers(t *testing.T, p *demoPrinted) {
	t.Helper()
	byID := map[string]string{} // Invoice id → sample Encounter id
	for enc := range demoWant {
		byID[ehr.LocalID(demoConnection, "Encounter", enc)+"-patient"] = enc
	}
	owner := map[string]string{} // Invoice URL → Patient id
	for _, u := range p.invoices {
		id := u[strings.LastIndex(u, "/")+1:]
		want, ok := demoWant[byID[id]]
		if !ok {
			t.Errorf("printed %s, which is no sample visit's Invoice", u)
			continue
		}
		status, body := demoGet(t, u, p.staff)
		if status != http.StatusOK {
			t.Errorf("GET %s with the staff token: got %d, want 200", u, status)
			continue
		}
		r, err := resource.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		inv := r.Proto().(*invpb.Invoice)
		owner[u] = strings.TrimPrefix(resource.ReferenceString(inv.GetSubject()), "Patient/")
		ri, err := readInvoice(inv)
		if err != nil {
			t.Fatal(err)
		}
		var owed []string
		for _, l := range ri.lines {
			if l[pcBase].IsZero() || l[pcAllowed].IsZero() {
				t.Errorf("%s: a line without base and allowed price components: %v", byID[id], l)
			}
			owed = append(owed, money(l[pcBase].Sub(l[pcDiscount]).Sub(l[pcInsurer])))
		}
		if !slices.Equal(owed, want.owed) || money(ri.gross) != want.gross || money(ri.net) != want.net {
			t.Errorf("%s: lines owe %v, totalGross %s, totalNet %s; want %v, %s, %s",
				byID[id], owed, money(ri.gross), money(ri.net), want.owed, want.gross, want.net)
		}
		if bad := ri.check(); len(bad) > 0 {
			t.Errorf("%s does not add up: %v", byID[id], bad)
		}
	}

	wantClaims := map[string]int{}
	for _, w := range demoWant {
		if w.insurer != "" {
			wantClaims[w.insurer]++
		}
	}
	for _, u := range p.claimSearches {
		insurer := u[strings.Index(u, "insurer=")+len("insurer="):]
		status, body := demoGet(t, u, p.staff)
		var b struct {
			Type  string
			Entry []struct {
				Resource struct {
					ResourceType, Status string
					Insurer              struct{ Reference string }
					CareTeam             []struct{ Provider json.RawMessage }
				}
			}
		}
		if status != http.StatusOK || json.Unmarshal(body, &b) != nil || b.Type != "searchset" {
			t.Errorf("GET %s: got %d %.300s, want 200 and a searchset", u, status, body)
			continue
		}
		if len(b.Entry) != wantClaims[insurer] {
			t.Errorf("%s: %d Claims, want %d", u, len(b.Entry), wantClaims[insurer])
		}
		for _, e := range b.Entry {
			c := e.Resource
			if c.ResourceType != "Claim" || c.Status != "active" || c.Insurer.Reference != insurer {
				t.Errorf("%s: got a %s (%s) to %s, want active Claims to %s", u, c.ResourceType, c.Status,
					c.Insurer.Reference, insurer)
			}
			for _, m := range c.CareTeam {
				checkDemoRenderingProvider(t, p, m.Provider)
			}
			if len(c.CareTeam) == 0 {
				t.Errorf("%s: a Claim without careTeam", u)
			}
		}
	}

	mine := 0
	for _, u := range p.invoices {
		want := http.StatusNotFound
		if owner[u] == p.patientID {
			want = http.StatusOK
			mine++
		}
		if status, _ := demoGet(t, u, p.patient); status != want {
			t.Errorf("GET %s with the patient token (Patient/%s): got %d, want %d",
				u, p.patientID, status, want)
		}
	}
	status, body := demoGet(t, p.base+"/Invoice", p.patient)
	var b struct{ Entry []json.RawMessage }
	if status != http.StatusOK || json.Unmarshal(body, &b) != nil || len(b.Entry) != mine || mine != 2 {
		t.Errorf("Invoice search with the patient token: got %d, %d entries; want 200, %d (2)",
			status, len(b.Entry), mine)
	}
	if status, _ := demoGet(t, p.invoices[0], ""); status != http.StatusUnauthorized {
		t.Errorf("GET %s without a token: got %d, want 401", p.invoices[0], status)
	}
}

// checkDemoRenderingProvider checks a Claim's careTeam provider: a plain
// reference to the doctor of the sample EHR, pulled into fhirbill (a
// local id, not a URL at the test EHR, whose port changes every run),
// who carries the NPI the claim edits checked.
func checkDemoRenderingProvider(t *testing.T, p *demoPrinted, provider json.RawMessage) {
	t.Helper()
	var ref struct {
		Reference  string
		Identifier json.RawMessage
	}
	if err := json.Unmarshal(provider, &ref); err != nil {
		t.Fatal(err)
	}
	want := "Practitioner/" + ehr.LocalID(demoConnection, "Practitioner", "pr-exemplar")
	if ref.Reference != want || ref.Identifier != nil {
		t.Errorf("careTeam provider %s, want only the reference %s", provider, want)
		return
	}
	status, body := demoGet(t, p.base+"/"+ref.Reference, p.staff)
	var dr struct {
		Identifier []struct{ System, Value string }
		Meta       struct{ Source string }
	}
	if status != http.StatusOK || json.Unmarshal(body, &dr) != nil {
		t.Errorf("GET %s: got %d %.300s, want 200 and the Practitioner", ref.Reference, status, body)
		return
	}
	npi := ""
	for _, id := range dr.Identifier {
		if id.System == "http://hl7.org/fhir/sid/us-npi" {
			npi = id.Value
		}
	}
	if npi != "1497758544" || dr.Meta.Source != "urn:fhirbill:ehr:"+demoConnection {
		t.Errorf("%s: NPI %q, meta.source %q; want clinic.json's 1497758544, pulled from the test EHR",
			ref.Reference, npi, dr.Meta.Source)
	}
}

// demoGet GETs u with the bearer token tok ("" for none).
func demoGet(t *testing.T, u, tok string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// demoVersions reads, with no demo running, the version of every
// resource the demo's store holds of the types it writes.
func demoVersions(t *testing.T, dir string) map[string]string {
	t.Helper()
	rep, versions := reportAndVersions(t, store.Config{DataDir: dir, Database: store.DefaultDatabase})
	if rep.Invoices != len(demoWant) || len(rep.Mismatched) != 0 {
		t.Errorf("the store holds %d Invoices (want %d), %d that do not add up", rep.Invoices, len(demoWant),
			len(rep.Mismatched))
	}
	env := openStore(t, store.Config{DataDir: dir, Database: store.DefaultDatabase})
	defer env.close()
	for _, typ := range []string{"Claim", "Practitioner", "OperationDefinition", "CodeSystem"} {
		rs, err := env.api.SearchResources(t.Context(), typ, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			versions[typ+"/"+r.ID()] = r.Meta().GetVersionId().GetValue()
		}
	}
	if n := len(versions); n < 50 {
		t.Errorf("only %d resources in the store", n)
	}
	return versions
}

// TestDemo_ResetRefusedWhileInUse: --reset does not empty a data
// directory whose store another demo (or serve) holds open.
func TestDemo_ResetRefusedWhileInUse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, demoMarker), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	release, err := store.LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	err = run(t.Context(), []string{"demo", "--reset", "--data-dir", dir, "--samples", demoSamples},
		io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "in use by another fhirbill process") {
		t.Errorf("demo --reset on a store in use: got %v, want it refused", err)
	}
	if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
		t.Errorf("demo --reset emptied a store in use: %v", err)
	}
}

// TestDemo_FailsFast: the sample data is the demo's own, so a resource
// the sync skips, or billing that bills nothing, is a bug the demo
// reports at once, with the reasons, instead of serving a partial demo
// (or waiting for one). A sample bundle the test EHR cannot load as a
// FHIR server would (a conditional reference that matches nothing it
// holds yet) stops it before anything starts.
func TestDemo_FailsFast(t *testing.T) {
	if os.Getenv("MONGODB_URI") != "" {
		t.Setenv("MONGODB_URI", "") // the demo runs on the embedded store only
	}
	for _, c := range []struct {
		name    string
		file    string // of the samples, changed by edit
		edit    func(t *testing.T, b map[string]any)
		wantErr []string
	}{
		{name: "SkippedEncounter", file: "ehr/eamon.json",
			edit: func(t *testing.T, b map[string]any) { demoEntry(t, b, "Encounter")["status"] = "bogus" },
			wantErr: []string{"the sync skipped 1 of the sample EHR's resources",
				"Encounter/enc-eamon-20250520: refused by fhirbill"}},
		{name: "NothingPriced", file: "reference.json",
			edit: func(t *testing.T, b map[string]any) {
				var kept []any
				for _, e := range b["entry"].([]any) {
					r := e.(map[string]any)["resource"].(map[string]any)
					if r["resourceType"] != "ChargeItemDefinition" {
						kept = append(kept, e)
					}
				}
				b["entry"] = kept
			},
			wantErr: []string{"the demo billed nothing"}},
		{name: "ConditionalReference", file: "ehr/ada.json",
			edit: func(t *testing.T, b map[string]any) {
				enc := demoEntry(t, b, "Encounter")
				p := enc["participant"].([]any)[0].(map[string]any)["individual"].(map[string]any)
				// ada.json loads before clinic.json, which holds the doctor.
				p["reference"] = "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1497758544"
			},
			wantErr: []string{"sample EHR bundles: ada.json: ",
				"Encounter.participant[0].individual: the conditional reference matches no Practitioner"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			samples := copyDemoSamples(t)
			path := filepath.Join(samples, c.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var b map[string]any
			if err := json.Unmarshal(data, &b); err != nil {
				t.Fatal(err)
			}
			c.edit(t, b)
			if data, err = json.Marshal(b); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}

			out := &syncBuffer{}
			err = run(t.Context(), []string{"demo", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
				"--samples", samples}, out, io.Discard)
			t.Logf("the demo failed with: %v", err)
			for _, want := range c.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("demo: %v, want an error with %q\n%s", err, want, out.String())
				}
			}
			if strings.Contains(out.String(), "Serving until Ctrl-C.") {
				t.Errorf("the demo served:\n%s", out.String())
			}
		})
	}
}

// demoEntry returns the first resource of typ in Bundle b.
func demoEntry(t *testing.T, b map[string]any, typ string) map[string]any {
	t.Helper()
	for _, e := range b["entry"].([]any) {
		if r := e.(map[string]any)["resource"].(map[string]any); r["resourceType"] == typ {
			return r
		}
	}
	t.Fatalf("no %s in the Bundle", typ)
	return nil
}

// copyDemoSamples copies the sample data to a directory of the test's.
func copyDemoSamples(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(demoSamples)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDemo_SampleEHRHoldsPlainReferences: what the test EHR holds of the
// sample bundles, as an EHR holds its data at rest, has no conditional
// reference and no urn left: every reference is Type/id of a resource it
// holds.
func TestDemo_SampleEHRHoldsPlainReferences(t *testing.T) {
	srv := ehrtest.New(nil)
	if _, _, err := srv.LoadDir(filepath.Join(demoSamples, "ehr")); err != nil {
		t.Fatal(err)
	}
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				ref, ok := val.(string)
				if !ok || k != "reference" {
					walk(at, val)
					continue
				}
				typ, id, ok := strings.Cut(ref, "/")
				if !ok || strings.ContainsAny(id, "/?:") || srv.Resource(typ, id) == nil {
					t.Errorf("%s: reference %q is not Type/id of a resource the EHR holds", at, ref)
				}
			}
		case []any:
			for _, val := range x {
				walk(at, val)
			}
		}
	}
	n := 0
	for _, typ := range []string{"Patient", "Coverage", "Encounter", "Condition", "Procedure", "Organization",
		"Practitioner"} {
		for _, id := range srv.IDs(typ) {
			var r map[string]any
			if err := json.Unmarshal(srv.Resource(typ, id), &r); err != nil {
				t.Fatal(err)
			}
			walk(typ+"/"+id, r)
			n++
		}
	}
	if n != 25 {
		t.Errorf("the test EHR holds %d resources of the sample bundles, want 25", n)
	}
}
