// Package resource parses, validates and prints FHIR R4 resources with
// google/fhir/go's jsonformat, knows every R4 resource type, and defines the
// errors and OperationOutcome shared by the store and the REST layer.
//
// It is the lowest package of fhir/: it must not import any other fhirbill
// package.
package resource
