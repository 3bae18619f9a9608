package ehr_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/ehr"
)

func TestSync_RetryAfterHonoured(t *testing.T) {
	srv, conn := newEHR(t, "retry")
	addVisits(t, srv, "p1", 12)
	l := newLocal(t, nil, nil)
	s := newSyncer(t, l, conn, nil, nil)

	srv.TooManyRequests(1, time.Second)
	sum, err := s.Sync(t.Context(), "retry", nil)
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if reqs[0].Status != http.StatusTooManyRequests {
		t.Fatalf("first request answered %d, want 429", reqs[0].Status)
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
		t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
	}
	if sum.Pulled["Encounter"] != 12 || sum.Created != 12*3+3 {
		t.Errorf("pulled %v, created %d; want 12 Encounters and 39 resources", sum.Pulled, sum.Created)
	}

	// 500s are retried with backoff; the second sync then finds nothing new.
	addVisits(t, srv, "p2", 2)
	srv.ServerErrors(3)
	sum, err = s.Sync(t.Context(), "retry", nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Pulled["Encounter"] != 2 {
		t.Errorf("after 500s: pulled %d Encounters, want 2", sum.Pulled["Encounter"])
	}
}

func TestSync_TokenExpiresMidSync(t *testing.T) {
	srv, conn := newEHR(t, "expiry")
	addVisits(t, srv, "p1", 30)
	srv.ExpireTokensAfter(250 * time.Millisecond)
	srv.Slow(40 * time.Millisecond)
	l := newLocal(t, nil, nil)
	s := newSyncer(t, l, conn, nil, nil)

	sum, err := s.Sync(t.Context(), "expiry", nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Pulled["Encounter"] != 30 || len(sum.Skipped) != 0 {
		t.Errorf("pulled %d Encounters, skipped %v; want 30 and none", sum.Pulled["Encounter"], sum.Skipped)
	}
	var unauthorized int
	for _, r := range srv.Requests() {
		if r.Status == http.StatusUnauthorized {
			unauthorized++
		}
	}
	if unauthorized == 0 || srv.TokenRequests() < 2 {
		t.Errorf("%d answers 401, %d tokens: the token did not expire mid-sync", unauthorized, srv.TokenRequests())
	}
}

func TestSync_CancelledAndResumedEqualsUninterrupted(t *testing.T) {
	srv, conn := newEHR(t, "resume")
	addVisits(t, srv, "p1", 25)
	addVisits(t, srv, "p2", 15)

	whole := newLocal(t, nil, nil)
	if _, err := newSyncer(t, whole, conn, nil, nil).Sync(t.Context(), "resume", nil); err != nil {
		t.Fatal(err)
	}

	parts := newLocal(t, nil, nil)
	s := newSyncer(t, parts, conn, nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	first, err := s.Sync(ctx, "resume", func(p ehr.Summary) {
		if p.Pages == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sync: err = %v, want context.Canceled", err)
	}
	rest, err := s.Sync(t.Context(), "resume", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Pulled["Encounter"] != 20 || first.Pulled["Encounter"]+rest.Pulled["Encounter"] != 40 {
		t.Errorf("pulled %d then %d Encounters; want 20 then 20", first.Pulled["Encounter"], rest.Pulled["Encounter"])
	}
	if rest.Updated != 0 {
		t.Errorf("the resumed sync updated %d resources; nothing should be stored twice", rest.Updated)
	}

	for _, typ := range []string{"Encounter", "Condition", "Procedure", "Patient", "Coverage"} {
		want := bodies(t, whole, typ)
		got := bodies(t, parts, typ)
		if len(got) != len(want) || len(want) == 0 {
			t.Errorf("%s: %d resumed, %d uninterrupted", typ, len(got), len(want))
		}
		for id, b := range want {
			if got[id] != b {
				t.Errorf("%s/%s differs between the resumed and the uninterrupted sync", typ, id)
			}
		}
	}
}

// bodies returns every resource of typ by id, without meta.lastUpdated,
// and fails on any version but 1.
func bodies(t *testing.T, l *local, typ string) map[string]string {
	t.Helper()
	rs, err := l.API.SearchResources(t.Context(), typ, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rs {
		if v := r.Meta().GetVersionId().GetValue(); v != "1" {
			t.Errorf("%s/%s at version %s: stored twice", typ, r.ID(), v)
		}
		r.Stamp(1, time.Unix(0, 0))
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out[r.ID()] = string(b)
	}
	return out
}

func TestSync_NarrowerScopeSkipsAndReports(t *testing.T) {
	srv, conn := newEHR(t, "narrow", "system/Encounter.read", "system/Condition.read",
		"system/Patient.read", "system/Coverage.read", "system/Organization.read")
	addVisits(t, srv, "p1", 3)
	l := newLocal(t, nil, nil)
	s := newSyncer(t, l, conn, nil, nil)

	sum, err := s.Sync(t.Context(), "narrow", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Tokens("narrow").Scope(); strings.Contains(got, "Procedure") {
		t.Errorf("granted scope %q includes Procedure", got)
	}
	if sum.Pulled["Encounter"] != 3 || sum.Pulled["Procedure"] != 0 {
		t.Errorf("pulled %v", sum.Pulled)
	}
	if n := sum.SkipReasons()["the EHR answered 403 Forbidden"]; n != 1 || len(sum.Skipped) != 1 {
		t.Errorf("skips %v: want the Procedure search reported as a 403", sum.Skipped)
	}
}

func TestSync_Lease(t *testing.T) {
	srv, conn := newEHR(t, "lease")
	addVisits(t, srv, "p1", 1)
	l := newLocal(t, nil, nil)
	s := newSyncer(t, l, conn, nil, nil)

	ok, err := l.Store.AcquireLease(t.Context(), "ehr-sync/lease", "other-replica", time.Minute, time.Now())
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if _, err := s.Sync(t.Context(), "lease", nil); !errors.Is(err, ehr.ErrBusy) {
		t.Fatalf("sync while another replica holds the lease: %v, want ErrBusy", err)
	}
	if err := l.Store.ReleaseLease(t.Context(), "ehr-sync/lease", "other-replica"); err != nil {
		t.Fatal(err)
	}
	if sum, err := s.Sync(t.Context(), "lease", nil); err != nil || sum.Pulled["Encounter"] != 1 {
		t.Fatalf("sync after release: %v %v", sum, err)
	}
}
