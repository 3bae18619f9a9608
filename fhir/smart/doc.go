// Package smart is fhirbill's SMART on FHIR authorization
// (https://hl7.org/fhir/smart-app-launch/): it checks bearer tokens
// (signature against the issuer's JWKS, pinned algorithms, iss, aud, exp,
// nbf, iat), reads SMART v1 and v2 scopes, including v2 scopes restricted
// by a query (scopes-and-launch-context.html), limits a token with a
// patient launch context to that patient's compartment and an insurer
// client to its own claims, and serves /.well-known/smart-configuration
// and a token endpoint for backend-services clients (backend-services.html:
// client_credentials with private_key_jwt, each assertion's jti used once
// across replicas).
//
// Tokens come from the built-in issuer (the base URL: the token endpoint,
// and [Server.IssueToken] for trials and demos) or from one external
// authorization server ([External]) that user-facing SMART apps use.
//
// It implements [rest.Authorizer]; fhir/rest asks it once per interaction
// and carries the filters it returns into store queries. It must not
// import billing or fhir/store: the replay store is an interface.
package smart
