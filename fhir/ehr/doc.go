// Package ehr connects fhirbill to EHRs: it pulls Encounters and what they
// reference (Conditions, Procedures, the Patient, Coverage, and the
// Organizations, Locations and Practitioners billing reads) from a FHIR
// server as a SMART Backend Services client
// (https://hl7.org/fhir/smart-app-launch/backend-services.html), and bills
// the finished Encounters that arrive, pulled or pushed.
//
// A [Connection] names an EHR: its base URL, client id, private key and
// scopes. [TokenSource] gets and caches access tokens with a signed client
// assertion. [Syncer] runs a pull: Encounter?_lastUpdated=gt[watermark],
// page by page, each page stored (through the REST layer's validated
// writes) before the watermark moves, under a lease so that one replica
// pulls a given EHR at a time. A resource pulled gets an id derived from
// the connection and its id at the EHR, so a second pull updates rather
// than duplicates; the EHR's id is kept as an identifier and meta.source
// names the connection. References to what it pulled become local ids;
// the others stay absolute URLs at the EHR.
//
// Requests go only to the configured base URL and token URL, whatever a
// Bundle's links or a discovery document say. Private keys, assertions
// and tokens are never logged, stored or served.
//
// The package must not import billing: billing reaches it as a
// [BillFunc] that cmd/fhirbill wires.
package ehr
