// Package billing is the billing domain of fhirbill: it turns priced
// services into what each party owes.
//
// This package owns the money helpers ([ParseMoney], [RoundCent], [Sum])
// and cost sharing ([ApplyCostSharing]: deductible, copay, coinsurance and
// the out-of-pocket limit of a plan year). Fee schedule pricing lives in
// the subpackage [github.com/fhirbill/fhirbill/billing/pfs].
//
// Money is always [decimal.Decimal], never float64. Each line's amounts are
// rounded half up to the cent once, and totals are sums of rounded lines, so
// the numbers on an Invoice add up (DESIGN.md, "Invoice semantics").
//
// billing is pure domain code: it takes values and returns values. It must
// not import HTTP, Echo, the MongoDB driver, fhir/store or fhir/rest; what
// it needs from storage it states as small interfaces that cmd/fhirbill
// implements. A test enforces the import rule.
package billing
