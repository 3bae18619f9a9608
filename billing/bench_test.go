package billing_test

import (
	"testing"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/billing/pfs"
	"github.com/fhirbill/fhirbill/fhir/resource"

	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
)

// benchRow builds an RVU row with the values of PPRRVU25_JAN1.csv, so the
// benchmark runs without the CMS files.
func benchRow(code, work, nonfacPE, facPE, mp string, mult, bilat, asst pfs.Indicator) pfs.RVU {
	return pfs.RVU{
		Code: code, Status: pfs.StatusActive,
		Work: dec(work), NonFacilityPE: dec(nonfacPE), FacilityPE: dec(facPE), MP: dec(mp),
		MultProc: mult, Bilateral: bilat, AssistSurgery: asst, CF: dec("32.3465"),
	}
}

// BenchmarkEncounter prices a 10-line encounter in Los Angeles (facility):
// Price for each line, Adjust over the encounter, ApplyCostSharing.
func BenchmarkEncounter(b *testing.B) {
	rows := []pfs.RVU{
		benchRow("47562", "10.47", "6.97", "6.97", "2.62", 2, 0, 2),
		benchRow("49505", "7.96", "5.99", "5.99", "1.99", 2, 1, 2),
		benchRow("11042", "1.01", "2.73", "0.68", "0.13", 2, 0, 1),
		benchRow("11043", "2.7", "3.85", "1.5", "0.42", 2, 0, 1),
		benchRow("20610", "0.79", "1.04", "0.44", "0.13", 2, 1, 1),
		benchRow("64483", "1.9", "5.24", "1.27", "0.16", 2, 1, 1),
		benchRow("99213", "1.3", "1.35", "0.57", "0.1", 0, 0, 0),
		benchRow("93010", "0.17", "0.06", "0.06", "0.01", 0, 0, 0),
		benchRow("71046", "0.22", "0.08", "0.08", "0.01", 0, 0, 0),
		benchRow("97110", "0.45", "0.43", "0.43", "0.01", 5, 0, 0),
	}
	rows[8].Modifier = "26"
	mods := [][]string{nil, {"50"}, nil, nil, {"51"}, nil, {"25"}, nil, {"26"}, nil}
	g := pfs.GPCI{Locality: pfs.Locality{MAC: "1182", Number: 18}, State: "CA",
		Work: dec("1.042"), PE: dec("1.194"), MP: dec("0.69")}
	cf := dec("32.3465")
	date := day("2025-03-14")
	acc := billing.Accumulator{DeductibleMet: dec("250"), OutOfPocketMet: dec("300")}

	lines := make([]pfs.Line, len(rows))
	allowed := make([]billing.Allowed, len(rows))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i, r := range rows {
			lines[i] = pfs.Line{Fee: pfs.Price(r, g, cf, true), Modifiers: mods[i], Units: 1}
		}
		adjusted := pfs.Adjust(lines)
		for i, l := range adjusted {
			allowed[i] = billing.Allowed{Date: date, Amount: l.Fee.Amount}
		}
		allowed[6].VisitType = "office"
		shares, _ := billing.ApplyCostSharing(plan, acc, allowed)
		if len(shares) != len(rows) {
			b.Fatal("lost a line")
		}
	}
}

// BenchmarkScrub measures the claim edits on the two-line clean claim of
// TestScrub, without I/O.
func BenchmarkScrub(b *testing.B) {
	r, err := resource.Parse([]byte(cleanClaim))
	if err != nil {
		b.Fatal(err)
	}
	c := r.Proto().(*claimpb.Claim)
	refs := claimRefs(b)
	b.ReportAllocs()
	for b.Loop() {
		if edits := billing.Scrub(c, refs, "USD"); len(edits) != 0 {
			b.Fatalf("edits %v", edits)
		}
	}
}
