package main

import (
	"bytes"
	"testing"
)

// TestAccount_AccumulatorOnlyThroughBilling: the plan year's accumulator
// Account (Account/accum-<coverage>-<plan year start>, or its hashed
// form) changes only through billing ($bill, $cancel, $remit). A client's
// update or delete that changes it is a 409 naming the Account, in every
// interaction, and so is a client's create at such an id; a write of the
// same content passes, and Accounts at other ids stay the client's.
// Before, DELETE answered 204 and lost the deductible the payer applied,
// and a PUT with a fake entry had the next visit find the deductible met.
func TestAccount_AccumulatorOnlyThroughBilling(t *testing.T) {
	srv := billedVisit(t)
	const path = "/Account/accum-cov1-20250101"
	stored := mustDo(t, srv, 200, "GET", path, nil).Body
	fake := bytes.Replace(stored, []byte(`"extension":[`), []byte(`"extension":[`+
		`{"url":"https://fhirbill.dev/fhir/StructureDefinition/accumulator","extension":[`+
		`{"url":"invoice","valueReference":{"reference":"Invoice/fake"}},`+
		`{"url":"deductible","valueMoney":{"value":100.00,"currency":"USD"}},`+
		`{"url":"outOfPocket","valueMoney":{"value":100.00,"currency":"USD"}}]},`), 1)
	inactive := bytes.Replace(stored, []byte(`"status":"active"`), []byte(`"status":"inactive"`), 1)
	if bytes.Equal(fake, stored) || bytes.Equal(inactive, stored) {
		t.Fatalf("the accumulator has no extension or is not active: %s", stored)
	}
	at := func(id string) []byte { return bytes.ReplaceAll(stored, []byte("accum-cov1-20250101"), []byte(id)) }
	tx := func(method, url string, res []byte) []byte {
		e := `{"request":{"method":"` + method + `","url":"` + url + `"}`
		if res != nil {
			e += `,"resource":` + string(res)
		}
		return []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + e + `}]}`)
	}

	for _, c := range []struct {
		name, method, path string
		body               []byte
	}{
		{"FakeEntry", "PUT", path, fake},
		{"Inactive", "PUT", path, inactive},
		{"Delete", "DELETE", path, nil},
		{"ConditionalDelete", "DELETE", "/Account?_id=accum-cov1-20250101", nil},
		{"DeleteInTransaction", "POST", "/", tx("DELETE", "Account/accum-cov1-20250101", nil)},
		// Creates at the ids billing gives accumulators: another plan
		// year, another Coverage, the hashed form of a long id
		// (derivedID), and a conditional update that creates.
		{"CreateNextPlanYear", "PUT", "/Account/accum-cov1-20260101", at("accum-cov1-20260101")},
		{"CreateInTransaction", "POST", "/", tx("PUT", "Account/accum-cov2-20250101", at("accum-cov2-20250101"))},
		{"CreateHashed", "PUT", "/Account/accum-0123456789abcdef0123456789abcdef",
			at("accum-0123456789abcdef0123456789abcdef")},
		{"ConditionalCreate", "PUT", "/Account?_id=accum-cov9-20250101", at("accum-cov9-20250101")},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.path != "/" {
				refused(t, srv, c.method, c.path, c.body, "Account")
				return
			}
			// A transaction's refusal names the entry, then the element.
			res := mustDo(t, srv, 409, c.method, c.path, c.body)
			if !bytes.Contains(res.Body, []byte(`"expression":["Bundle.entry[0]","Account"]`)) {
				t.Errorf("%s, want the refusal to name Bundle.entry[0] and Account", res.Body)
			}
		})
	}

	if got := mustDo(t, srv, 200, "GET", path, nil).Body; !bytes.Equal(got, stored) {
		t.Errorf("a refused write changed the accumulator:\n%s", got)
	}
	for _, id := range []string{"accum-cov1-20260101", "accum-cov2-20250101", "accum-0123456789abcdef0123456789abcdef",
		"accum-cov9-20250101"} {
		mustDo(t, srv, 404, "GET", "/Account/"+id, nil)
	}

	// The same content again changes nothing and passes.
	mustDo(t, srv, 200, "PUT", path, stored)
	// An Account at an id billing does not give stays the client's.
	for _, id := range []string{"house", "accum-notes", "accum-cov1-2025"} {
		mustDo(t, srv, 201, "PUT", "/Account/"+id, at(id))
		mustDo(t, srv, 204, "DELETE", "/Account/"+id, nil)
	}

	// Billing still writes it: the next visit adds its entry.
	for _, r := range officeVisit("e2", "2025-03-11", false) {
		put(t, srv, r)
	}
	bill(t, srv, "e2")
	acc := mustDo(t, srv, 200, "GET", path, nil).Body
	if !bytes.Contains(acc, []byte(`"Invoice/e1-patient"`)) || !bytes.Contains(acc, []byte(`"Invoice/e2-patient"`)) {
		t.Errorf("the accumulator after billing e2 lacks e1's or e2's entry: %s", acc)
	}
}
