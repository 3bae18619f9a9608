package billing

import (
	"context"
	"strings"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// CheckAccountWrite vets a client's update (next) or delete (next nil) of
// a stored Account. The plan year's accumulator billing keeps (its id is
// one accountID gives) changes only through billing: [Biller.Bill] writes
// each Invoice's deductible and out-of-pocket amounts into it,
// Invoice/$cancel takes them out, and Claim/[id]/$remit puts in what the
// payer applied. A client's entry would have the next visit find the
// deductible met, and a delete would lose what the payer decided. A write
// that changes nothing passes. Refusals are 409 Conflict naming the
// Account.
func CheckAccountWrite(old, next *resource.Resource) error {
	if !accumulatorID(old.ID()) {
		return nil
	}
	if same, err := sameBesidesMeta(old, next); err != nil || same {
		return err
	}
	return conflict("Account", "Account/%s is the plan year's deductible and out-of-pocket accumulator, "+
		"which changes only through billing ($bill, $cancel and $remit); it is not deleted", old.ID())
}

// CheckAccountCreate vets a client's create of an Account: one at an id
// billing gives a plan year's accumulator ("accum-<coverage>-<plan year
// start>", or its hashed form) is refused with 409 naming the Account, as
// its updates are ([CheckAccountWrite]): billing creates it when it first
// bills the plan year, and one a client made first would be counted as
// what the patient already paid.
func CheckAccountCreate(_ context.Context, r *resource.Resource) error {
	if !accumulatorID(r.ID()) {
		return nil
	}
	return conflict("Account", "Account/%s is where billing keeps a plan year's deductible and "+
		"out-of-pocket accumulator; billing creates it, a client does not", r.ID())
}

// accumulatorID reports whether id is one accountID gives: "accum-", then
// a coverage id, "-" and a date (yyyymmdd), or the hash derivedID makes
// of them.
func accumulatorID(id string) bool {
	rest, ok := strings.CutPrefix(id, "accum-")
	if !ok {
		return false
	}
	if hashedID(rest) {
		return true
	}
	cov, date := rest[:max(len(rest)-9, 0)], rest[max(len(rest)-9, 0):]
	if cov == "" || !strings.HasPrefix(date, "-") {
		return false
	}
	_, err := time.Parse("20060102", date[1:])
	return err == nil
}
