package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/smart"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// TestPushBilling_NeedsBillAccess is F17: a finished Encounter a client
// stores is billed by the commit hook as a $bill by that client would be,
// so only when the client may invoke $bill on it (read the Encounter,
// create and update ChargeItems, the Invoice and the Account). A client
// that may only write Encounters leaves it unbilled, and the log says so
// at Info with the Encounter's id and the client's.
func TestPushBilling_NeedsBillAccess(t *testing.T) {
	var auth *smart.Server
	srv := billingServerWith(t, func(base string, st *store.Store, reg *search.Registry) rest.Config {
		a, err := smart.New(t.Context(), smart.Config{Base: base, Registry: reg, Replay: st})
		if err != nil {
			t.Fatalf("smart.New: %v", err)
		}
		auth = a
		return rest.Config{Base: base, Authorizer: a, Security: a.Security()}
	})
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b := billing.NewBiller(billing.Config{Records: records{api: srv.API, st: srv.Store}, FeeSchedules: newFeeSchedules(srv.Store), Logger: logger})
	srv.API.AddCommitHook(pushBilling(srv.API, b, logger))

	as := func(client, scope string) []string {
		tok, err := auth.IssueToken(context.Background(), smart.TokenRequest{Subject: client, Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		return []string{"Authorization", "Bearer " + tok}
	}
	admin := as("admin", "system/*.cruds")
	for _, r := range billingFixtures {
		var head struct{ ResourceType, ID string }
		decode(t, []byte(r), &head)
		if res := srv.Do("PUT", "/"+head.ResourceType+"/"+head.ID, []byte(r), admin...); res.Status != 201 {
			t.Fatalf("PUT %s/%s: %d %s", head.ResourceType, head.ID, res.Status, res.Body)
		}
	}
	clinical := "system/Encounter.cu system/Condition.cu system/Procedure.cu"
	push := func(enc, date string, hdr []string) {
		t.Helper()
		for _, r := range officeVisit(enc, date, true) {
			var head struct{ ResourceType, ID string }
			decode(t, []byte(r), &head)
			if res := srv.Do("PUT", "/"+head.ResourceType+"/"+head.ID, []byte(r), hdr...); res.Status != 201 {
				t.Fatalf("PUT %s/%s: %d %s", head.ResourceType, head.ID, res.Status, res.Body)
			}
		}
	}

	t.Run("EncounterScopesOnly", func(t *testing.T) {
		push("e1", "2025-03-10", as("ehr-narrow", clinical))
		if res := srv.Do("POST", "/Encounter/e1/$bill", nil, as("ehr-narrow", clinical)...); res.Status != 403 {
			t.Fatalf("$bill by the same client: got %d, want 403", res.Status)
		}
		if res := srv.Do("GET", "/Invoice/e1-patient", nil, admin...); res.Status != 404 {
			t.Errorf("Invoice/e1-patient: got %d, want 404: the push billed what its writer may not bill", res.Status)
		}
		for _, q := range []string{"/ChargeItem?context=Encounter/e1&_summary=count", "/Account?_summary=count"} {
			if res := srv.Do("GET", q, nil, admin...); !strings.Contains(string(res.Body), `"total":0`) {
				t.Errorf("GET %s: %s, want none", q, res.Body)
			}
		}
		lines := logLines(logs.String(), "pushed encounter not billed")
		if len(lines) != 1 {
			t.Fatalf("log lines saying the encounter was not billed: %v\n%s", lines, logs.String())
		}
		l := lines[0]
		if l["level"] != "INFO" || l["encounter_id"] != "e1" || l["client_id"] != "ehr-narrow" {
			t.Errorf("log line %v: want level INFO, encounter_id e1, client_id ehr-narrow", l)
		}
	})

	t.Run("WithBillScopes", func(t *testing.T) {
		push("e2", "2025-03-11", as("ehr-biller", clinical+" system/Encounter.r system/ChargeItem.cu system/Invoice.cu system/Account.cu"))
		res := srv.Do("GET", "/Invoice/e2-patient", nil, admin...)
		if res.Status != 200 {
			t.Fatalf("Invoice/e2-patient: got %d, want 200: the push of a client that may bill was not billed", res.Status)
		}
		if len(logLines(logs.String(), "pushed encounter billed")) != 1 {
			t.Errorf("log lines saying the encounter was billed:\n%s", logs.String())
		}
	})
}
