// Package ehrtest is a small EHR for tests and for trying fhirbill: a FHIR
// R4 server of Encounter, Condition, Procedure, Patient and Coverage (and
// whatever else its bundles hold), kept in memory, that enforces SMART
// Backend Services for real
// (https://hl7.org/fhir/smart-app-launch/backend-services.html): it
// verifies each client assertion's signature against the client's
// registered public key, its exp, aud, iss and sub, and refuses a replayed
// jti. Its searches page and filter on _lastUpdated. It holds its data as
// an EHR holds it at rest: a Bundle it loads has its urn:uuid references
// rewritten to Type/id, and a transaction's conditional references
// (Practitioner?identifier=...) resolved to the one resource they match,
// or the Bundle is refused ([Server.LoadBundle]). Bundles without
// Coverage (Synthea writes none) get Coverages derived from their claims'
// contained ones: payer (by identifier, [SystemSyntheaPayer]) and period,
// so that a patient's payer follows the date of service. It can be told to
// misbehave: 429 with Retry-After, 500s, slow answers, tokens that expire
// early.
//
// `fhirbill testehr --bundles DIR` runs it on Synthea bundles. It is test
// tooling: it must not be imported by fhirbill's serving code.
package ehrtest
