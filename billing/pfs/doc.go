// Package pfs prices services on the Medicare Physician Fee Schedule (PFS),
// the resource-based relative value scale (RBRVS) that CMS publishes every
// year.
//
// It owns three things:
//
//   - parsers for the CMS files: the national relative value file
//     (PPRRVU, [ParseRVU]), the geographic practice cost indices
//     (Addendum E, [ParseGPCI]) and the counties of each payment locality
//     ([ParseCounties]);
//   - an in-memory [Schedule] built from them, with lookups by code and
//     modifier, by locality, and from a state and county to a locality;
//   - the payment rules: [Price] for one service in one locality and
//     setting, and [Adjust] for the lines of one encounter (bilateral,
//     multiple-procedure and assistant-at-surgery rules, units).
//
// The formula is the one CMS documents for the fee schedule:
//
//	fee = (work RVU × work GPCI + PE RVU × PE GPCI + MP RVU × MP GPCI) × CF
//
// All arithmetic is exact decimal arithmetic ([github.com/shopspring/decimal]);
// amounts are rounded half up to the cent at the points each function's
// comment names, and nowhere else. Every [Fee] carries a [Trail] that prints
// the whole computation on one line, so a reader can redo the sum by hand.
//
// The package is pure: it reads from an [io.Reader] the caller opens and
// never does I/O of its own. It must not import HTTP, Echo, MongoDB,
// fhir/store or fhir/rest; a test enforces that.
package pfs
