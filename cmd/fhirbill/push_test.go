package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestServe_BillsPushedEncounter posts the README's office visit to a
// running `fhirbill serve` as an EHR would: the finished Encounter in the
// transaction is billed before the answer, with no $bill asked for.
func TestServe_BillsPushedEncounter(t *testing.T) {
	if _, err := os.Stat(cmsDir); err != nil {
		t.Skipf("the CMS 2025 fee schedule files are not in %s (../shared/testdata is absent)", cmsDir)
	}
	// serve runs on the embedded store in dir (startServe), so the fee
	// schedule goes there too, never to a MONGODB_URI's database.
	t.Setenv("MONGODB_URI", "")
	dir := t.TempDir()
	if err := run(t.Context(), []string{"import", "pfs", "--year", "2025", "--dir", cmsDir, "--data-dir", dir}, io.Discard, io.Discard); err != nil {
		t.Fatalf("import pfs: %v", err)
	}
	base, stop := startServe(t, dir)
	defer stop()

	body, err := os.ReadFile("../../testdata/billing/office-visit.json")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base, "application/fhir+json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("transaction: got %d, want 200", resp.StatusCode)
	}

	resp, err = http.Get(base + "/Invoice/e1-patient")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var inv struct {
		Status     string `json:"status"`
		TotalGross struct {
			Value json.Number `json:"value"`
		} `json:"totalGross"`
		TotalNet struct {
			Value json.Number `json:"value"`
		} `json:"totalNet"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&inv); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("Invoice/e1-patient: got %d (%v), want 200: the pushed Encounter was not billed", resp.StatusCode, err)
	}
	// The totals of the README's walkthrough, computed by hand in
	// TestBill_OfficeVisitEndToEnd: gross 150.00 + 60.00, and the patient
	// owes the 100.00 deductible plus 20 % of the rest of the allowed.
	if inv.Status != "draft" || inv.TotalGross.Value != "210.00" || inv.TotalNet.Value != "102.73" {
		t.Errorf("Invoice: status %s, totalGross %s, totalNet %s; want draft, 210.00, 102.73",
			inv.Status, inv.TotalGross.Value, inv.TotalNet.Value)
	}
}
