package main

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// TestChargeItemWrite_OnlyThroughBilling: a ChargeItem billing made (id
// "ci-" and a hash, billing/capture.go chargeItemID) changes only through
// billing. After $issue of the office visit (TestBill_OfficeVisitEndToEnd:
// 99213 and 93000, quantity 1 each, Patient/p1), a client's PUT of its
// visit ChargeItem with code 99215, quantity 3 and subject Patient/p2, its
// DELETE, and a create at such an id (a fresh one, or the visit's once
// deleted in the store) are each a 409 naming the ChargeItem; a PUT of it
// unchanged passes. Before, the PUT was stored (200) and $claim billed
// 99215 x 3 on a visit coded 99213, the DELETE was a 204 that left $claim
// at 409, and the re-create (201) at the same id with code 33533 was
// billed by $claim. The Claim here bills what billing captured: 99213 and
// 93000, quantity 1.
func TestChargeItemWrite_OnlyThroughBilling(t *testing.T) {
	srv := billedVisit(t)
	put(t, srv, `{"resourceType":"Patient","id":"p2"}`)
	first := bill(t, srv, "e1")
	visit := first.ChargeItems[0]["id"].(string)
	mustDo(t, srv, 200, "POST", "/Invoice/e1-patient/$issue", nil)
	stored := mustDo(t, srv, 200, "GET", "/ChargeItem/"+visit, nil).Body
	if !bytes.Contains(stored, []byte(`"code":"99213"`)) || !bytes.Contains(stored, []byte(`"quantity":{"value":1}`)) {
		t.Fatalf("the visit's ChargeItem is not 99213 x 1: %s", stored)
	}
	edited := bytes.Replace(stored, []byte(`"code":"99213"`), []byte(`"code":"99215"`), 1)
	edited = bytes.Replace(edited, []byte(`"quantity":{"value":1}`), []byte(`"quantity":{"value":3}`), 1)
	edited = bytes.Replace(edited, []byte(`"subject":{"reference":"Patient/p1"}`),
		[]byte(`"subject":{"reference":"Patient/p2"}`), 1)
	if bytes.Count(edited, []byte("99215"))+bytes.Count(edited, []byte(`"value":3`))+
		bytes.Count(edited, []byte("Patient/p2")) != 3 {
		t.Fatalf("the edit did not apply: %s", edited)
	}
	fresh := "ci-0123456789abcdef0123456789abcdef"
	other := bytes.Replace(bytes.Replace(stored, []byte(visit), []byte(fresh), 1),
		[]byte(`"code":"99213"`), []byte(`"code":"33533"`), 1)
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + string(edited) +
		`,"request":{"method":"PUT","url":"ChargeItem/` + visit + `"}}]}`

	for _, c := range []struct {
		name, method, path string
		body               []byte
	}{
		{"Edit", "PUT", "/ChargeItem/" + visit, edited},
		{"EditInTransaction", "POST", "/", []byte(tx)},
		{"Delete", "DELETE", "/ChargeItem/" + visit, nil},
		{"CreateAtBillingID", "PUT", "/ChargeItem/" + fresh, other},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := mustDo(t, srv, 409, c.method, c.path, c.body)
			if c.name != "EditInTransaction" && !bytes.Contains(res.Body, []byte(`"expression":["ChargeItem"]`)) {
				t.Errorf("the refusal does not name the ChargeItem: %s", res.Body)
			}
		})
	}
	mustDo(t, srv, 200, "PUT", "/ChargeItem/"+visit, stored)
	if got := mustDo(t, srv, 200, "GET", "/ChargeItem/"+visit, nil).Body; !bytes.Equal(got, stored) {
		t.Errorf("the ChargeItem changed after the refused writes:\n%s", got)
	}
	mustDo(t, srv, 404, "GET", "/ChargeItem/"+fresh, nil)
	assertClaimItems(t, srv, "e1", []string{"99213 x 1", "93000 x 1"})

	// Deleted in the store (as data stored before this rule may be), the
	// id stays billing's: a client's create there is refused.
	deleteInStore(t, srv, "ChargeItem", visit)
	recreated := bytes.Replace(stored, []byte(`"code":"99213"`), []byte(`"code":"33533"`), 1)
	res := mustDo(t, srv, 409, "PUT", "/ChargeItem/"+visit, recreated)
	if !bytes.Contains(res.Body, []byte(`"expression":["ChargeItem"]`)) {
		t.Errorf("the refusal does not name the ChargeItem: %s", res.Body)
	}
	mustDo(t, srv, 410, "GET", "/ChargeItem/"+visit, nil)
}

// assertClaimItems checks that $claim of enc bills want, each item as
// "<code> x <quantity>", in order.
func assertClaimItems(t *testing.T, srv *resttest.Server, enc string, want []string) {
	t.Helper()
	var got []string
	for _, it := range asList(claimOf(t, srv, enc, nil).Claim["item"]) {
		m := it.(map[string]any)
		got = append(got, fmt.Sprintf("%s x %v", codes([]any{m["productOrService"]})[0], field(m, "quantity", "value")))
	}
	if !slices.Equal(got, want) {
		t.Errorf("$claim %s items %q, want %q", enc, got, want)
	}
}
