package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"

	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/smart"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// TestClaim_InsurerQueries runs the searches an insurer makes, on the
// submitted Claim of TestClaim_OfficeVisitEndToEnd: every Claim search
// parameter at once with the _include of its patient, insurer, billing
// provider and Coverage, and every ClaimResponse parameter.
func TestClaim_InsurerQueries(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	if res := srv.Do("POST", "/Claim/$submit", srv.Do("GET", "/Claim/e1-claim-cov1", nil).Body); res.Status != 200 {
		t.Fatalf("$submit: %d %s", res.Status, res.Body)
	}

	res := srv.Do("GET", "/Claim?insurer=Organization/medicare&patient=Patient/p1&created=ge2020-01-01"+
		"&status=active&use=claim&provider=Organization/clinic&encounter=Encounter/e1&coverage=Coverage/cov1"+
		"&identifier=https://fhirbill.dev/fhir/sid/encounter|e1"+
		"&_include=Claim:patient&_include=Claim:insurer&_include=Claim:provider&_include=Claim:coverage", nil)
	got := entries(t, res)
	want := []string{"match Claim/e1-claim-cov1", "include Coverage/cov1", "include Organization/clinic",
		"include Organization/medicare", "include Patient/p1"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("Claim search\n got %v\nwant %v", got, want)
	}
	// Another insurer's claims are not these.
	if got := entries(t, srv.Do("GET", "/Claim?insurer=Organization/clinic", nil)); len(got) != 0 {
		t.Errorf("Claims to Organization/clinic: %v", got)
	}

	res = srv.Do("GET", "/ClaimResponse?request=Claim/e1-claim-cov1&patient=Patient/p1&insurer=Organization/medicare"+
		"&outcome=queued&created=ge2020-01-01", nil)
	if got := entries(t, res); strings.Join(got, ",") != "match ClaimResponse/e1-claim-cov1-response" {
		t.Errorf("ClaimResponse search: %v", got)
	}
	if got := entries(t, srv.Do("GET", "/ClaimResponse?outcome=complete", nil)); len(got) != 0 {
		t.Errorf("complete ClaimResponses before the payer answered: %v", got)
	}
}

// entries lists a searchset's entries as "mode Type/id", matches first,
// includes sorted.
func entries(t *testing.T, res *resttest.Response) []string {
	t.Helper()
	if res.Status != 200 {
		t.Fatalf("search: %d %s", res.Status, res.Body)
	}
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
			Search struct{ Mode string } `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(res.Body, &b); err != nil {
		t.Fatal(err)
	}
	var match, inc []string
	for _, e := range b.Entry {
		s := e.Search.Mode + " " + e.Resource.ResourceType + "/" + e.Resource.ID
		switch e.Search.Mode {
		case "match":
			match = append(match, s)
		case "include":
			inc = append(inc, s)
		}
	}
	sort.Strings(inc)
	return append(match, inc...)
}

// TestClaim_InsurerAccess checks that SMART scopes cover the claim
// operations, with real signed tokens: an insurer's client (mapped to
// Organization/medicare) remits on the claims sent to it and on no
// other insurer's, and needs ClaimResponse write access to do it;
// $submit needs Claim and ClaimResponse write access.
func TestClaim_InsurerAccess(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k1", USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	if err != nil {
		t.Fatal(err)
	}
	payer := "system/Claim.rs system/ClaimResponse.cruds system/Coverage.rs"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var auth *smart.Server
	srv := billingServerWith(t, func(base string, st *store.Store, reg *search.Registry) rest.Config {
		auth, err = smart.New(ctx, smart.Config{Base: base, Replay: st, Registry: reg, Clients: []smart.Client{
			{ID: "medicare", JWKS: jwks, Scope: payer, Insurer: "medicare"},
			{ID: "other-payer", JWKS: jwks, Scope: payer, Insurer: "other"},
			{ID: "biller", JWKS: jwks, Scope: "system/*.*"},
		}})
		if err != nil {
			t.Fatalf("smart.New: %v", err)
		}
		return rest.Config{Base: base, Authorizer: auth, Security: auth.Security()}
	})
	as := func(client, scopes string) []string {
		tok, err := auth.IssueToken(context.Background(), smart.TokenRequest{Subject: client, Scope: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return []string{"Authorization", "Bearer " + tok}
	}
	biller := as("biller", "system/*.*")
	for _, r := range append(append([]string{}, billingFixtures...), officeVisit("e1", "2025-03-10", true)...) {
		var head struct{ ResourceType, ID string }
		_ = json.Unmarshal([]byte(r), &head)
		if res := srv.Do("PUT", "/"+head.ResourceType+"/"+head.ID, []byte(r), biller...); res.Status != 201 {
			t.Fatalf("PUT %s/%s: %d %s", head.ResourceType, head.ID, res.Status, res.Body)
		}
	}
	for _, p := range []string{"/Encounter/e1/$bill", "/Encounter/e1/$claim"} {
		if res := srv.Do("POST", p, nil, biller...); res.Status != 200 {
			t.Fatalf("%s: %d %s", p, res.Status, res.Body)
		}
	}
	claim := srv.Do("GET", "/Claim/e1-claim-cov1", nil, biller...).Body
	if res := srv.Do("POST", "/Claim/$submit", claim, as("biller", "system/Claim.cruds")...); res.Status != 403 {
		t.Errorf("$submit without ClaimResponse write access: %d %s, want 403", res.Status, res.Body)
	}
	if res := srv.Do("POST", "/Claim/$submit", claim, as("biller", "system/Claim.cruds system/ClaimResponse.cu")...); res.Status != 200 {
		t.Errorf("$submit with Claim and ClaimResponse write access: %d %s, want 200", res.Status, res.Body)
	}

	answer := []byte(adjudication("complete",
		[6]string{"1", "98.19", "38.55", "50.00", "0.00", "9.64"},
		[6]string{"2", "15.45", "12.36", "0.00", "0.00", "3.09"}))
	remitPath := "/Claim/e1-claim-cov1/$remit"
	if res := srv.Do("POST", remitPath, answer, as("other-payer", payer)...); res.Status != 404 {
		t.Errorf("another insurer's $remit: %d %s, want 404", res.Status, res.Body)
	}
	if res := srv.Do("POST", remitPath, answer, as("medicare", "system/Claim.rs")...); res.Status != 403 {
		t.Errorf("$remit without ClaimResponse write access: %d %s, want 403", res.Status, res.Body)
	}
	if v := srv.Do("GET", "/Invoice/e1-patient", nil, biller...).JSON(); field(v, "meta", "versionId") != "1" {
		t.Fatalf("a refused $remit changed the Invoice: version %v", field(v, "meta", "versionId"))
	}
	if res := srv.Do("POST", remitPath, answer, as("medicare", payer)...); res.Status != 200 || !bytes.Contains(res.Body, []byte(`"value":62.73`)) {
		t.Errorf("the insurer's $remit: %d %s, want 200 and totalNet 62.73", res.Status, res.Body)
	}
	// The insurer finds its claim, and its Coverage with it.
	got := entries(t, srv.Do("GET", "/Claim?patient=Patient/p1&_include=Claim:coverage", nil, as("medicare", payer)...))
	if strings.Join(got, ", ") != "match Claim/e1-claim-cov1, include Coverage/cov1" {
		t.Errorf("the insurer's search: %v", got)
	}
	if got := entries(t, srv.Do("GET", "/Claim", nil, as("other-payer", payer)...)); len(got) != 0 {
		t.Errorf("another insurer sees %v", got)
	}
}
