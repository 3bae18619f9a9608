package main

import (
	"fmt"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// BenchmarkClaim measures $claim end to end over HTTP on the embedded
// store (or MONGODB_URI), on the office visit of
// TestClaim_OfficeVisitEndToEnd, two lines.
//
// Unchanged builds the Claim of an Encounter whose Claim is stored: every
// read, search, the scrub and nothing stored. New builds the Claim of a
// fresh billed Encounter each time (stored and billed outside the timer).
func BenchmarkClaim(b *testing.B) {
	b.Run("Unchanged", func(b *testing.B) {
		srv := billedVisit(b)
		claimOf(b, srv, "e1", nil)
		b.ReportAllocs()
		for b.Loop() {
			claimOf(b, srv, "e1", nil)
		}
	})
	b.Run("New", func(b *testing.B) {
		benchFreshVisits(b, func(srv *resttest.Server, id string) { bill(b, srv, id) },
			func(srv *resttest.Server, id string) { claimOf(b, srv, id, nil) })
	})
}

// BenchmarkSubmit measures Claim/$submit over HTTP of the Claim $claim
// built for the office visit. Again submits the same Claim again: the
// identifier search, the scrub, and nothing stored. New submits the
// Claim of a fresh billed Encounter (built outside the timer): a Claim
// read, the scrub and the ClaimResponse stored.
func BenchmarkSubmit(b *testing.B) {
	b.Run("Again", func(b *testing.B) {
		srv := billedVisit(b)
		claimOf(b, srv, "e1", nil)
		body := srv.Do("GET", "/Claim/e1-claim-cov1", nil).Body
		b.ReportAllocs()
		for b.Loop() {
			if res := srv.Do("POST", "/Claim/$submit", body); res.Status != 200 {
				b.Fatalf("$submit: %d %s", res.Status, res.Body)
			}
		}
	})
	b.Run("New", func(b *testing.B) {
		var body []byte
		benchFreshVisits(b, func(srv *resttest.Server, id string) {
			bill(b, srv, id)
			claimOf(b, srv, id, nil)
			body = srv.Do("GET", "/Claim/"+id+"-claim-cov1", nil).Body
		}, func(srv *resttest.Server, id string) {
			if res := srv.Do("POST", "/Claim/$submit", body); res.Status != 200 {
				b.Fatalf("$submit: %d %s", res.Status, res.Body)
			}
		})
	})
}

// benchFreshVisits times timed on a fresh office visit (officeVisit, of
// TestBill_OfficeVisitEndToEnd) each iteration: the visit is stored, and
// prepare run on it, outside the timer.
func benchFreshVisits(b *testing.B, prepare, timed func(srv *resttest.Server, id string)) {
	srv := billingServer(b)
	for _, r := range billingFixtures {
		put(b, srv, r)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		b.StopTimer()
		n++
		id := fmt.Sprintf("b%d", n)
		for _, r := range officeVisit(id, "2025-03-10", true) {
			put(b, srv, r)
		}
		if prepare != nil {
			prepare(srv, id)
		}
		b.StartTimer()
		timed(srv, id)
	}
}
