// Package profiles owns the conformance resources fhirbill is built on,
// written by the project as FHIR R4 JSON and embedded in the binary: for now
// the SearchParameter definitions of every supported search parameter
// (https://hl7.org/fhir/R4/searchparameter.html).
//
// Each definition reuses the official HL7 canonical URL when it has the same
// code and meaning as the standard parameter. The package holds data only:
// fhir/search loads and enforces the definitions. It must not import
// fhir/store, fhir/rest or billing.
package profiles
