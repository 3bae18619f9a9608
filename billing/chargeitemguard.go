package billing

import (
	"context"
	"strings"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// CheckChargeItemWrite vets a client's update (next) or delete (next nil)
// of a stored ChargeItem. A ChargeItem billing made (its id is one
// chargeItemID gives, "ci-" and a hash) changes only through billing:
// $claim and $issue bill what it says, so a client's edit (another code,
// quantity or subject) would be billed on a visit that never had it, and
// a delete would leave the Invoice's line pointing nowhere. Staff fix the
// inputs (the Encounter, its Procedures and Conditions, the prices) and
// $bill again, which rewrites the ChargeItems of a draft. A write that
// changes nothing passes. Refusals are 409 Conflict naming the ChargeItem.
func CheckChargeItemWrite(old, next *resource.Resource) error {
	if !billedChargeItemID(old.ID()) {
		return nil
	}
	if same, err := sameBesidesMeta(old, next); err != nil || same {
		return err
	}
	return conflict("ChargeItem", "ChargeItem/%s is a charge billing captured, which changes only "+
		"through billing: correct the Encounter, its Procedures or Conditions and $bill again; "+
		"it is not deleted", old.ID())
}

// CheckChargeItemCreate vets a client's create of a ChargeItem: one at an
// id billing gives a captured charge ("ci-" and a hash) is refused with
// 409 naming the ChargeItem, as its updates are
// ([CheckChargeItemWrite]): billing creates it when it bills the
// Encounter, and one a client made there would be taken for billing's.
func CheckChargeItemCreate(_ context.Context, r *resource.Resource) error {
	if !billedChargeItemID(r.ID()) {
		return nil
	}
	return conflict("ChargeItem", "ChargeItem/%s is an id billing gives the charges it captures "+
		"(ci- and a hash); $bill creates it, a client does not", r.ID())
}

// billedChargeItemID reports whether id is one chargeItemID gives: "ci-"
// and 32 lower-case hex digits.
func billedChargeItemID(id string) bool {
	h, ok := strings.CutPrefix(id, "ci-")
	return ok && hashedID(h)
}
