package main

import (
	"bytes"
	"testing"
)

// TestApply_TransientAnswer: $apply's answer is a priced ChargeItem that
// is not stored, so it carries no meta.versionId or meta.lastUpdated,
// which name a stored version. GET is refused with 405, as R4 defines
// ChargeItemDefinition/$apply with affectsState true
// (http://hl7.org/fhir/R4/chargeitemdefinition-operation-apply.html, "not
// an idempotent operation"), and operations that affect state are
// invoked with POST (http://hl7.org/fhir/R4/operations.html); the answer
// says so rather than that fhirbill changes data, which it does not.
func TestApply_TransientAnswer(t *testing.T) {
	srv := billedVisit(t)
	ci := chargeItemOf(t, bill(t, srv, "e1"), "99213")
	body := []byte(`{"resourceType":"Parameters","parameter":[{"name":"chargeItem",
	  "valueReference":{"reference":"ChargeItem/` + ci + `"}}]}`)

	res := mustDo(t, srv, 200, "POST", "/ChargeItemDefinition/price-99213/$apply", body)
	got := res.JSON()
	if got["id"] != ci || !bytes.Contains(res.Body, []byte(`"priceOverride":{"currency":"USD","value":150.00}`)) {
		t.Errorf("$apply: %s, want ChargeItem/%s priced 150.00", res.Body, ci)
	}
	if v, u := field(got, "meta", "versionId"), field(got, "meta", "lastUpdated"); v != nil || u != nil {
		t.Errorf("the transient answer has meta.versionId %v, lastUpdated %v; want neither", v, u)
	}

	res = mustDo(t, srv, 405, "GET", "/ChargeItemDefinition/price-99213/$apply?chargeItem=ChargeItem/"+ci, nil)
	if !bytes.Contains(res.Body, []byte("affectsState")) || bytes.Contains(res.Body, []byte("changes data")) {
		t.Errorf("GET $apply: %s, want it to say why POST", res.Body)
	}
}
