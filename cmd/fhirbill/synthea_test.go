package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
	"github.com/fhirbill/fhirbill/fhir/store"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
)

// TestSynthea_EndToEnd is must-show 1 of issue 7, through the commands a
// user runs: import the CMS 2025 fee schedule, load the seed, run the
// test EHR on the Synthea bundles, sync (which bills), report. At least
// 95 % of the finished encounters are billed, every unbilled one is
// listed with a reason, every Invoice adds up; loading the seed, syncing
// and billing again store no new version of anything.
func TestSynthea_EndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the Synthea run bills 759 encounters twice, minutes on the embedded store")
	}
	if _, err := os.Stat(syntheaDir); err != nil {
		t.Skipf("Synthea bundles not found at %s (the shared test data sits beside the repository): %v", syntheaDir, err)
	}
	if _, err := os.Stat(cmsDir); err != nil {
		t.Skipf("the CMS 2025 fee schedule is not in %s (../shared/testdata is absent): %v", cmsDir, err)
	}
	cfg := storetest.Config(t)
	flags := []string{"--database", cfg.Database, "--mongodb-uri", cfg.URI, "--log-level", "warn"}
	if cfg.URI == "" {
		// A directory of the test's own: the commands open and close the
		// store in turn for minutes, and the shared temporary directory
		// storetest uses is swept by other test runs on a shared machine.
		cfg.DataDir = t.TempDir()
		flags = append(flags, "--data-dir", cfg.DataDir)
	}
	fhirbill := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(t.Context(), append(args, flags...), &out, io.Discard); err != nil {
			t.Fatalf("fhirbill %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}

	fhirbill("import", "pfs", "--year", "2025", "--dir", cmsDir)
	if out := fhirbill("seed", seedFile); !strings.Contains(out, "unchanged 0") {
		t.Errorf("first seed: %s", out)
	}
	if out := fhirbill("seed", seedFile); !strings.Contains(out, "created 0, updated 0") {
		t.Errorf("loading the seed again changed something: %s", out)
	}

	conns := startSyntheaEHR(t)
	out := fhirbill("sync", "--ehr-config", conns, "--ehr", "synthea")
	t.Logf("first sync:\n%s", lastLines(out, 12))

	finished := finishedEncounters(t)
	report := fhirbill("report", "--unbilled", "0")
	t.Logf("report:\n%s", report)
	rep, before := reportAndVersions(t, cfg)

	if rep.Finished != finished {
		t.Errorf("%d finished Encounters in the store, the bundles hold %d", rep.Finished, finished)
	}
	if rep.Billed*100 < 95*rep.Finished {
		t.Errorf("billed %d of %d finished encounters, want at least 95 %%", rep.Billed, rep.Finished)
	}
	if len(rep.Unbilled) != rep.Finished-rep.Billed {
		t.Errorf("%d unbilled listed, want %d", len(rep.Unbilled), rep.Finished-rep.Billed)
	}
	for _, u := range rep.Unbilled {
		if len(u.Reasons) == 0 || !strings.Contains(report, "Encounter/"+u.ID+": ") {
			t.Errorf("Encounter/%s is not billed and not listed with a reason", u.ID)
		}
	}
	if len(rep.Mismatched) != 0 || !strings.Contains(report, "do not equal the sum of their lines: 0") {
		t.Errorf("Invoices that do not add up: %v", rep.Mismatched)
	}
	if rep.Invoices != rep.Finished {
		t.Errorf("%d Invoices for %d finished Encounters", rep.Invoices, rep.Finished)
	}
	for _, name := range patientNames(t) {
		if strings.Contains(report, name) {
			t.Errorf("the report shows a patient's name")
		}
	}

	// Syncing again pulls nothing; billing every Encounter again stores
	// nothing: every resource keeps its version.
	if out := fhirbill("sync", "--ehr-config", conns, "--ehr", "synthea"); !strings.Contains(out, "pulled 0") {
		t.Errorf("second sync:\n%s", lastLines(out, 5))
	}
	rebill(t, cfg)
	_, after := reportAndVersions(t, cfg)
	if !maps.Equal(before, after) {
		changed := 0
		for k, v := range after {
			if before[k] != v {
				changed++
				if changed <= 5 {
					t.Errorf("%s: version %s, then %s", k, before[k], v)
				}
			}
		}
		t.Errorf("%d resources changed (of %d, %d before)", changed, len(after), len(before))
	}
}

// startSyntheaEHR starts the test EHR on the Synthea bundles with client
// "fhirbill" registered under a key made for the test, and writes a
// connections file naming it "synthea".
func startSyntheaEHR(t *testing.T) string {
	t.Helper()
	srv := ehrtest.New(nil)
	ehrtest.Start(t, srv)
	if _, _, err := srv.LoadDir(syntheaDir); err != nil {
		t.Fatal(err)
	}
	pk, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.RegisterClient(ehrtest.Client{ID: "fhirbill", Key: &pk.PublicKey, KeyID: ehr.Thumbprint(&pk.PublicKey)})
	conns, _ := json.Marshal(map[string]any{"connections": []any{map[string]any{
		"name": "synthea", "base": srv.Base(), "client_id": "fhirbill", "key_file": keyFile, "page_size": 100}}})
	file := filepath.Join(dir, "connections.json")
	if err := os.WriteFile(file, conns, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// reportAndVersions opens the store, builds the report and reads the
// version of every resource billing and the sync wrote.
func reportAndVersions(t *testing.T, cfg store.Config) (*billingReport, map[string]string) {
	t.Helper()
	env := openStore(t, cfg)
	defer env.close()
	rep, err := buildReport(t.Context(), env.api)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, typ := range []string{"Encounter", "Condition", "Procedure", "Patient", "Coverage", "Organization",
		"Practitioner", "Invoice", "ChargeItem", "Account", "ConceptMap", "ChargeItemDefinition",
		"InsurancePlan"} {
		rs, err := env.api.SearchResources(t.Context(), typ, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			versions[typ+"/"+r.ID()] = r.Meta().GetVersionId().GetValue()
		}
	}
	return rep, versions
}

// rebill bills every finished Encounter again, as $bill would, and checks
// that nothing is stored.
func rebill(t *testing.T, cfg store.Config) {
	t.Helper()
	env := openStore(t, cfg)
	defer env.close()
	b, err := startBilling(t.Context(), env.api, env.st, "USD", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	encs, err := env.api.SearchResources(t.Context(), "Encounter", nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for _, e := range encs {
		res, err := b.Bill(t.Context(), e.ID())
		if err != nil {
			t.Errorf("billing Encounter/%s again: %v", e.ID(), err)
			continue
		}
		if res.Changed {
			changed++
		}
	}
	if changed != 0 {
		t.Errorf("billing again changed %d of %d Encounters", changed, len(encs))
	}
}

// openStore opens the test's store and API; the caller closes it before
// the next command opens the store.
func openStore(t *testing.T, cfg store.Config) *offline {
	t.Helper()
	f := storeFlags{MongoDBURI: cfg.URI, Database: cfg.Database, DataDir: cfg.DataDir, LogLevel: "warn"}
	env, err := openAPI(t.Context(), f, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// finishedEncounters counts the finished Encounters of the bundles, read
// independently of fhirbill.
func finishedEncounters(t *testing.T) int {
	t.Helper()
	n := 0
	eachResource(t, func(r map[string]any) {
		if r["resourceType"] == "Encounter" && r["status"] == "finished" {
			n++
		}
	})
	return n
}

// patientNames lists the family names of the bundles' patients.
func patientNames(t *testing.T) []string {
	t.Helper()
	var out []string
	eachResource(t, func(r map[string]any) {
		if r["resourceType"] != "Patient" {
			return
		}
		names, _ := r["name"].([]any)
		for _, n := range names {
			if f, _ := n.(map[string]any)["family"].(string); len(f) > 3 {
				out = append(out, f)
			}
		}
	})
	return out
}

func eachResource(t *testing.T, f func(map[string]any)) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(syntheaDir, "*.json"))
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct{ Resource map[string]any }
		}
		if err := json.Unmarshal(data, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			f(e.Resource)
		}
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
