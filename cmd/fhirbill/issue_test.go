package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestInvoiceIssue_VoidedEncounterRefused: $issue refuses, with 422
// naming Encounter.status, the draft Invoice of an Encounter voided
// since it was billed (entered-in-error, cancelled, or deleted), and the
// Invoice stays draft; $claim refuses that Encounter already (only a
// finished one is billed). Nor may a client's PUT issue an Invoice
// billing made (409 naming Invoice.status, pointing to $issue), since a
// write check cannot look at the Encounter. Before, $issue of e41's
// draft answered 200 after PUT Encounter/e41 with status
// entered-in-error. With the visit finished again, $issue answers 200.
func TestInvoiceIssue_VoidedEncounterRefused(t *testing.T) {
	srv := billingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	visit := officeVisit("e41", "2025-03-12", true)
	for _, r := range visit {
		put(t, srv, r)
	}
	bill(t, srv, "e41")
	encounter := visit[2]
	draft := func(t *testing.T) []byte {
		t.Helper()
		inv := mustDo(t, srv, 200, "GET", "/Invoice/e41-patient", nil).Body
		if !bytes.Contains(inv, []byte(`"status":"draft"`)) {
			t.Fatalf("Invoice/e41-patient is no longer draft: %s", inv)
		}
		return inv
	}
	refused := func(t *testing.T) {
		t.Helper()
		res := mustDo(t, srv, 422, "POST", "/Invoice/e41-patient/$issue", nil)
		if !bytes.Contains(res.Body, []byte(`"expression":["Encounter.status"]`)) {
			t.Errorf("$issue refusal %s does not name Encounter.status", res.Body)
		}
		draft(t)
	}

	for _, c := range []struct{ name, status string }{
		{"EnteredInError", "entered-in-error"}, {"Cancelled", "cancelled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			put(t, srv, strings.Replace(encounter, `"status":"finished"`, `"status":"`+c.status+`"`, 1))
			refused(t)
			mustDo(t, srv, 422, "POST", "/Encounter/e41/$claim", nil)
		})
	}
	t.Run("Deleted", func(t *testing.T) {
		mustDo(t, srv, 204, "DELETE", "/Encounter/e41", nil)
		refused(t)
	})

	put(t, srv, encounter)
	inv := draft(t)
	res := mustDo(t, srv, 409, "PUT", "/Invoice/e41-patient",
		bytes.Replace(inv, []byte(`"status":"draft"`), []byte(`"status":"issued"`), 1))
	if !bytes.Contains(res.Body, []byte(`"expression":["Invoice.status"]`)) || !bytes.Contains(res.Body, []byte("$issue")) {
		t.Errorf("PUT draft to issued: %s, want a refusal naming Invoice.status and $issue", res.Body)
	}
	draft(t)
	res = mustDo(t, srv, 200, "POST", "/Invoice/e41-patient/$issue", nil)
	if !bytes.Contains(res.Body, []byte(`"status":"issued"`)) {
		t.Errorf("$issue of the finished visit's Invoice: %s", res.Body)
	}
}
