package main

import (
	"bytes"
	"testing"
)

// TestInvoiceWrite_IssuedToBalanced: past draft a client's PUT may change
// the status from issued to balanced (README, "Bill a visit"), and
// nothing else. Before, every Invoice holding a Reference (a subject: any
// real one) was refused with 409 "changes only by status" even when only
// the status changed, since the stored and the sent versions were
// compared as protos, which hold a reference in different fields when
// read from the store and when parsed from a client.
func TestInvoiceWrite_IssuedToBalanced(t *testing.T) {
	srv := billingServer(t)
	put(t, srv, `{"resourceType":"Patient","id":"p1"}`)
	inv := func(status, net string) []byte {
		return []byte(`{"resourceType":"Invoice","id":"bal","status":"` + status + `",
		  "subject":{"reference":"Patient/p1"},"recipient":{"reference":"Patient/p1"},
		  "totalNet":{"value":` + net + `,"currency":"USD"}}`)
	}
	mustDo(t, srv, 201, "PUT", "/Invoice/bal", inv("draft", "10.50"))
	mustDo(t, srv, 200, "PUT", "/Invoice/bal", inv("issued", "10.50"))

	// Another amount with the status is still refused.
	res := mustDo(t, srv, 409, "PUT", "/Invoice/bal", inv("balanced", "0.00"))
	if !bytes.Contains(res.Body, []byte(`"expression":["Invoice"]`)) {
		t.Errorf("the refusal does not name the Invoice: %s", res.Body)
	}
	res = mustDo(t, srv, 200, "PUT", "/Invoice/bal", inv("balanced", "10.50"))
	if !bytes.Contains(res.Body, []byte(`"status":"balanced"`)) {
		t.Errorf("PUT answered %s, want the balanced Invoice", res.Body)
	}
}
