package ehr_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
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
	if sum.Pulled["Encounter"] != 12 || sum.Created != 12*3+4 {
		t.Errorf("pulled %v, created %d; want 12 Encounters and 40 resources", sum.Pulled, sum.Created)
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

// TestSync_NarrowerScopeSkipsAndReports: an EHR that grants neither
// Procedure.read nor Practitioner.read answers those searches 403; each
// is reported as a skip, and the Encounters' references to their doctor
// stay absolute URLs at the EHR, where the Practitioner is, while the
// clinic, pulled, is named by its local id.
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
	got := s.Tokens("narrow").Scope()
	if strings.Contains(got, "Procedure") || strings.Contains(got, "Practitioner") {
		t.Errorf("granted scope %q includes Procedure or Practitioner", got)
	}
	if sum.Pulled["Encounter"] != 3 || sum.Pulled["Procedure"] != 0 || sum.Pulled["Practitioner"] != 0 {
		t.Errorf("pulled %v", sum.Pulled)
	}
	var refs []string
	for _, sk := range sum.Skipped {
		if sk.Reason == "the EHR answered 403 Forbidden" {
			refs = append(refs, sk.Ref)
		}
	}
	if want := []string{"Procedure?encounter (3 ids)", "Practitioner?_id (1 ids)"}; !slices.Equal(refs, want) ||
		len(sum.Skipped) != len(want) {
		t.Errorf("skips %v: want the Procedure and Practitioner searches reported as 403s", sum.Skipped)
	}

	enc := encounterRefs(t, l, "narrow", "p1-enc-000")
	if want := srv.Base() + "/Practitioner/dr-1"; enc.individual != want {
		t.Errorf("Encounter.participant[0].individual %q, want the EHR's %s", enc.individual, want)
	}
	if want := "Organization/" + ehr.LocalID("narrow", "Organization", "org-p1"); enc.serviceProvider != want {
		t.Errorf("Encounter.serviceProvider %q, want %s", enc.serviceProvider, want)
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

// countStatus counts the EHR's answers of one status.
func countStatus(srv interface{ Requests() []ehrtest.Request }, status int) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Status == status {
			n++
		}
	}
	return n
}

// TestSync_FaultsCombined runs the test EHR as `testehr --fail-429 3
// --retry-after 2s --fail-500 2 --token-life 3s` does, the waits scaled
// down: the token dies while the first request waits out three 429s and
// two 500s, so the sixth attempt of that request meets a 401. The one
// renewal a 401 gets must not use up the retries the faults left, and
// the retries and the renewal are logged at debug, without the token.
func TestSync_FaultsCombined(t *testing.T) {
	srv, conn := newEHR(t, "combined")
	addVisits(t, srv, "p1", 12)
	srv.TooManyRequests(3, time.Second)
	srv.ServerErrors(2)
	srv.ExpireTokensAfter(100 * time.Millisecond) // less than the three 429s' waits
	var logs logBuffer
	l := newLocal(t, nil, nil)
	s, err := ehr.NewSyncer(ehr.Config{
		Connections: []*ehr.Connection{conn}, Records: l.API, State: l.Store, Logger: logs.logger(),
		Retry: ehr.Retry{
			Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond,
			MaxRetryAfter: 150 * time.Millisecond, // the 429s' Retry-After: 1
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	sum, err := s.Sync(t.Context(), "combined", nil)
	if err != nil {
		t.Fatalf("sync: %v\n%s", err, logs.String())
	}
	if sum.Pulled["Encounter"] != 12 || len(sum.Skipped) != 0 {
		t.Errorf("pulled %v, skipped %v; want 12 Encounters and no skip", sum.Pulled, sum.Skipped)
	}
	if got := countStatus(srv, http.StatusUnauthorized); got == 0 {
		t.Errorf("no 401: the token did not die during the waits, the test proves nothing")
	}

	out := logs.String()
	if got := strings.Count(out, `"msg":"ehr request retried"`); got < 5 {
		t.Errorf("%d retries logged, want at least 5 (three 429s, two 500s):\n%s", got, out)
	}
	renewed := `"msg":"ehr token renewed","ehr":"combined","reason":"refused"`
	if !strings.Contains(out, renewed) {
		t.Errorf("the renewal after the 401 is not logged:\n%s", out)
	}
	for _, sec := range srv.Secrets() {
		if strings.Contains(out, sec) {
			t.Fatal("the log holds a token or an assertion")
		}
	}
}

// TestSync_TokenRenewedBeforeRetry: a token whose expires_in runs out
// while a request waits out a 429 is renewed from the cache before the
// retry, so the EHR never sees it expired.
func TestSync_TokenRenewedBeforeRetry(t *testing.T) {
	srv, conn := newEHR(t, "renew")
	addVisits(t, srv, "p1", 2)
	srv.SetTokenTTL(time.Second) // honest: expires_in 1, renewed from 0.8 s
	srv.TooManyRequests(2, time.Second)
	l := newLocal(t, nil, nil)
	s, err := ehr.NewSyncer(ehr.Config{
		Connections: []*ehr.Connection{conn}, Records: l.API, State: l.Store,
		Retry: ehr.Retry{Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}

	sum, err := s.Sync(t.Context(), "renew", nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Pulled["Encounter"] != 2 {
		t.Errorf("pulled %v, want 2 Encounters", sum.Pulled)
	}
	if got := countStatus(srv, http.StatusUnauthorized); got != 0 {
		t.Errorf("the EHR answered 401 %d times: an expired token was sent", got)
	}
	if srv.TokenRequests() < 2 {
		t.Errorf("%d tokens issued: the token was not renewed before the retry", srv.TokenRequests())
	}
}

// TestSync_TokenRefusedAfterRenewal: an EHR that refuses every token gets
// one new token, then the sync fails saying the token had been renewed.
func TestSync_TokenRefusedAfterRenewal(t *testing.T) {
	srv, conn := newEHR(t, "refused")
	addVisits(t, srv, "p1", 1)
	srv.ExpireTokensAfter(time.Nanosecond)
	l := newLocal(t, nil, nil)
	s := newSyncer(t, l, conn, nil, nil)

	_, err := s.Sync(t.Context(), "refused", nil)
	var se *ehr.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized ||
		!strings.Contains(err.Error(), "renewed once") {
		t.Fatalf("sync against an EHR refusing every token: got %v, want a 401 after a renewal", err)
	}
	if got := srv.TokenRequests(); got != 2 {
		t.Errorf("%d tokens asked for, want 2: the first and one renewal", got)
	}
}
