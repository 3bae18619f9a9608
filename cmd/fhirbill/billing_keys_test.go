package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// mustDo sends a request that must answer want.
func mustDo(
	t testing.TB,
	srv *resttest.Server,
	want int,
	method, path string,
	body []byte,
) *resttest.Response {
	t.Helper()
	var hdr []string
	if body != nil {
		hdr = []string{"Content-Type", "application/fhir+json"}
	}
	res := srv.Do(method, path, body, hdr...)
	if res.Status != want {
		t.Fatalf("%s %s: got %d, want %d: %s", method, path, res.Status, want, res.Body)
	}
	return res
}

// TestBill_DeletedResourceAtBillingKey: a resource deleted at one of
// billing's natural keys counts as absent, and billing writes over it,
// naming the delete's version as the one it replaces (the store keeps a
// delete as a version). Before, every later $bill or $claim answered 409
// "kept changing" forever, since billing named version 0 ("must not
// exist") where a deleted version stood.
func TestBill_DeletedResourceAtBillingKey(t *testing.T) {
	srv := billingServer(t)
	for _, r := range billingFixtures {
		put(t, srv, r)
	}

	t.Run("InvoiceDeletedBeforeBilling", func(t *testing.T) {
		// A client may not create an Invoice at the id billing derives
		// for e8's (409, see TestInvoiceCreate_ReservedForBilling); one
		// deleted in the store, as one made there before that rule could
		// be, is absent all the same.
		deleteInStore(t, srv, "Invoice", "e8-patient")
		for _, r := range officeVisit("e8", "2025-03-12", true) {
			put(t, srv, r)
		}
		// The totals of TestBill_OfficeVisitEndToEnd (the first visit of
		// the plan year): 210.00 gross, 102.73 owed.
		inv := bill(t, srv, "e8").Invoice
		net := field(inv, "totalNet", "value")
		if inv["id"] != "e8-patient" || net != json.Number("102.73") {
			t.Errorf("Invoice %v totalNet %v, want e8-patient, 102.73", inv["id"], net)
		}
	})

	t.Run("ChargeItemAndAccountDeleted", func(t *testing.T) {
		first := bill(t, srv, "e8")
		ci := first.ChargeItems[0]["id"].(string)
		// A client may delete neither a ChargeItem billing made nor the
		// accumulator (409, see TestChargeItemWrite_OnlyThroughBilling and
		// TestAccount_AccumulatorOnlyThroughBilling); ones deleted in the
		// store, as before those rules, are absent all the same, and
		// $bill of the draft writes them again.
		deleteInStore(t, srv, "ChargeItem", ci)
		deleteInStore(t, srv, "Account", "accum-cov1-20250101")
		again := bill(t, srv, "e8")
		if again.ChargeItems[0]["id"] != ci {
			t.Errorf("first ChargeItem %v, want %s written again", again.ChargeItems[0]["id"], ci)
		}
		mustDo(t, srv, 200, "GET", "/ChargeItem/"+ci, nil)
		written := mustDo(t, srv, 200, "GET", "/Account/accum-cov1-20250101", nil)
		if !bytes.Contains(written.Body, []byte(`"Invoice/e8-patient"`)) {
			t.Errorf("the Account written again lacks Invoice/e8-patient: %s", written.Body)
		}
	})

	t.Run("ClaimDeletedBeforeClaiming", func(t *testing.T) {
		// A client may not create a Claim at the id $claim gives (409,
		// see TestClaimCreate_ReservedForOperations); one deleted in the
		// store, as a Claim made there before that rule could be, is
		// absent all the same.
		deleteInStore(t, srv, "Claim", "e8-claim-cov1")
		c := claimOf(t, srv, "e8", nil).Claim
		if c["id"] != "e8-claim-cov1" || c["status"] != "active" {
			t.Errorf("Claim %v status %v, want e8-claim-cov1 active", c["id"], c["status"])
		}
	})
}

// deleteInStore writes a delete of typ/id straight to the store, past the
// API's rules: the state that data stored before a rule may be in.
func deleteInStore(t *testing.T, srv *resttest.Server, typ, id string) {
	t.Helper()
	var prev int64
	cur, err := srv.Store.Read(t.Context(), typ, id)
	switch {
	case err == nil:
		prev = cur.Version
	case !errors.Is(err, resource.ErrNotFound):
		t.Fatal(err)
	}
	if err := srv.Store.Put(t.Context(), store.Write{Prev: prev, Record: &store.Record{
		Type: typ, ID: id, Version: prev + 1, Updated: time.Now().UTC().Truncate(time.Millisecond),
		Deleted: true, Method: "DELETE"}}); err != nil {
		t.Fatal(err)
	}
}

// TestInvoiceWrite_BilledInvoiceKeepsItsEncounter: an Invoice billing
// made is never deleted, and the rule holds on what a client cannot edit
// away: the stored version names its Encounter (identifier of system
// .../sid/encounter), and a client's update may not drop or change that
// identifier. Before, a PUT of the draft without the identifier (200)
// made the next DELETE pass (204), and billing was wedged.
func TestInvoiceWrite_BilledInvoiceKeepsItsEncounter(t *testing.T) {
	srv := billedVisit(t)
	stored := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).Body
	noIdent := regexp.MustCompile(`,?"identifier":\[[^\]]*\]`).ReplaceAll(stored, nil)
	otherEnc := bytes.Replace(stored, []byte(`"value":"e1"`), []byte(`"value":"e2"`), 1)
	if bytes.Equal(noIdent, stored) || bytes.Equal(otherEnc, stored) {
		t.Fatalf("the billed Invoice has no encounter identifier: %s", stored)
	}
	for _, c := range []struct {
		name, method string
		body         []byte
	}{
		{"DropIdentifier", "PUT", noIdent},
		{"OtherEncounter", "PUT", otherEnc},
		{"Delete", "DELETE", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := mustDo(t, srv, 409, c.method, "/Invoice/e1-patient", c.body)
			if !bytes.Contains(res.Body, []byte(`"code":"business-rule"`)) {
				t.Errorf("no business-rule issue: %s", res.Body)
			}
		})
	}
	// Nor may a client edit the draft otherwise: it changes only through
	// billing (TestInvoiceWrite_BilledOnlyThroughBilling).
	edited := bytes.Replace(stored, []byte(`"status":"draft"`),
		[]byte(`"status":"draft","note":[{"text":"checked"}]`), 1)
	mustDo(t, srv, 409, "PUT", "/Invoice/e1-patient", edited)
}

// mustJSON prints v as JSON.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
