package billing

import "testing"

// TestClaimID_OneClaimPerVisitAndCoverage: Claim ids are built from the
// EHR's Encounter and Coverage ids, so two visits whose ids read alike
// once joined by "-claim-" must still get two Claims. Before, Encounter
// "a-claim-b" to Coverage "cov-c" and Encounter "a" to Coverage
// "b-claim-cov-c" shared Claim/a-claim-b-claim-cov-c, and each $claim
// overwrote the other patient's Claim. An unambiguous id keeps its
// readable form.
func TestClaimID_OneClaimPerVisitAndCoverage(t *testing.T) {
	id := func(enc, rev, cov string) string { return claimID(enc, invoiceBaseID(enc)+rev, cov) }
	for _, pair := range [][2][3]string{
		{{"a-claim-b", "", "cov-c"}, {"a", "", "b-claim-cov-c"}},
		{{"a-claim", "", "b"}, {"a", "", "claim-b"}},
		{{"e1", "-r2", "cov1"}, {"e1", "", "cov1-r2"}},
	} {
		x, y := id(pair[0][0], pair[0][1], pair[0][2]), id(pair[1][0], pair[1][1], pair[1][2])
		if x == y {
			t.Errorf("%v and %v share Claim/%s", pair[0], pair[1], x)
		}
		for _, got := range []string{x, y} {
			if !operationClaimID(got) {
				t.Errorf("Claim/%s is not known as an id the claim operations give", got)
			}
		}
	}
	for _, c := range []struct{ enc, rev, cov, want string }{
		{"e1", "", "cov1", "e1-claim-cov1"},
		{"e1", "-r2", "cov1", "e1-claim-cov1-r2"},
	} {
		if got := id(c.enc, c.rev, c.cov); got != c.want {
			t.Errorf("claimID(%s%s, %s) = %s, want %s", c.enc, c.rev, c.cov, got, c.want)
		}
	}
}
