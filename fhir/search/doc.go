// Package search owns FHIR R4 search: the search parameter definitions
// (loaded as data from SearchParameter resources), the normalized values
// extracted from a resource at write time, and the typed query parsed from a
// search request. See https://hl7.org/fhir/R4/search.html.
//
// It knows nothing about storage: fhir/store turns an [Index] into stored
// fields and a [Query] into a database filter. It must not import fhir/store,
// fhir/rest or billing.
package search
