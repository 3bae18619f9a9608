// Package rest serves the FHIR R4 RESTful API (https://hl7.org/fhir/R4/http.html)
// over Echo: the interactions on every resource type, batch and transaction
// Bundles, search, history and the CapabilityStatement.
//
// Handlers return errors and never write error bodies: one error handler
// (errors.go) turns every error into an OperationOutcome with the right
// status. The package must not import billing; billing operations reach it
// through [Server.RegisterOperation].
package rest
