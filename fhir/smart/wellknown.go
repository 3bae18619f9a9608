package smart

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/fhirbill/fhirbill/fhir/rest"
)

// The paths of the discovery documents, under the base URL.
const (
	ConfigurationPath = "/.well-known/smart-configuration"
	JWKSPath          = "/.well-known/jwks.json"
)

// configuration is the SMART discovery document
// (https://hl7.org/fhir/smart-app-launch/conformance.html#metadata).
type configuration struct {
	Issuer                string   `json:"issuer,omitempty"`
	JWKSURI               string   `json:"jwks_uri,omitempty"`
	AuthorizationEndpoint string   `json:"authorization_endpoint,omitempty"`
	GrantTypes            []string `json:"grant_types_supported"`
	TokenEndpoint         string   `json:"token_endpoint"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	TokenAuthSigningAlgs  []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	Scopes                []string `json:"scopes_supported"`
	ResponseTypes         []string `json:"response_types_supported,omitempty"`
	Capabilities          []string `json:"capabilities"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
}

// resourceCapabilities are what fhirbill, as the resource server, does
// with the scopes of any token.
var resourceCapabilities = []string{"permission-v1", "permission-v2"}

// Configuration returns the smart-configuration document.
//
// Without an external server whose endpoints are configured it describes
// the built-in backend-services endpoint: client_credentials with
// private_key_jwt, system/ scopes. With one, it describes that server for
// user-facing apps: its endpoints, capabilities and grant types, the
// patient/ and user/ scopes fhirbill enforces, and, as the spec asks when
// sso-openid-connect is among the capabilities, its issuer and JWKS. The
// built-in endpoint still serves registered backend clients at
// [Server.TokenURL].
//
// code_challenge_methods_supported is always ["S256"]: the spec makes it
// required, and an authorization server SMART apps use supports PKCE.
func (s *Server) Configuration() any {
	c := configuration{
		JWKSURI:              s.base + JWKSPath,
		TokenEndpoint:        s.TokenURL(),
		GrantTypes:           []string{"client_credentials"},
		TokenAuthMethods:     []string{"private_key_jwt"},
		TokenAuthSigningAlgs: Algorithms,
		Scopes:               []string{"system/*.cruds", "system/*.rs", "system/*.read", "system/*.write"},
		Capabilities:         append([]string{"client-confidential-asymmetric"}, resourceCapabilities...),
		CodeChallengeMethods: []string{"S256"},
	}
	ext := s.cfg.External
	if ext == nil || ext.AuthorizeURL == "" {
		return c
	}
	caps := ext.Capabilities
	if len(caps) == 0 {
		caps = DefaultExternalCapabilities
	}
	c.AuthorizationEndpoint = ext.AuthorizeURL
	c.TokenEndpoint = ext.TokenURL
	c.GrantTypes = ext.GrantTypes
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{"authorization_code"}
	}
	// The external server's client authentication is its own business.
	c.TokenAuthMethods, c.TokenAuthSigningAlgs = nil, nil
	c.ResponseTypes = []string{"code"}
	c.Capabilities = append(slices.Clone(caps), resourceCapabilities...)
	c.Capabilities = append(c.Capabilities, "permission-patient", "permission-user")
	c.Scopes = []string{"openid", "fhirUser", "launch", "launch/patient", "offline_access",
		"patient/*.rs", "patient/*.read", "user/*.cruds", "user/*.rs", "user/*.read", "user/*.write"}
	c.JWKSURI = ""
	if slices.Contains(caps, "sso-openid-connect") {
		c.Issuer, c.JWKSURI = ext.Issuer, ext.JWKSURL
	}
	return c
}

// Security returns the JSON of CapabilityStatement.rest.security: the
// SMART-on-FHIR service and the oauth-uris extension
// (https://hl7.org/fhir/smart-app-launch/conformance.html; the spec keeps
// this declaration only for older clients, smart-configuration is the
// source).
func (s *Server) Security() []byte {
	c := s.Configuration().(configuration)
	uris := []map[string]string{{"url": "token", "valueUri": c.TokenEndpoint}}
	if c.AuthorizationEndpoint != "" {
		uris = append(uris, map[string]string{"url": "authorize", "valueUri": c.AuthorizationEndpoint})
	}
	sec := map[string]any{
		"extension": []any{map[string]any{
			"url":       "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
			"extension": uris,
		}},
		"service": []any{map[string]any{
			"coding": []any{map[string]string{
				"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
				"code":   "SMART-on-FHIR",
			}},
			"text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
		}},
		"description": "Bearer tokens per SMART App Launch 2.x (see " + s.base + ConfigurationPath +
			"); scopes v1 and v2; patient tokens see their compartment only.",
	}
	b, _ := json.Marshal(sec)
	return b
}

// Mount serves the discovery documents and the token endpoint on api.
func (s *Server) Mount(api *rest.Server) {
	conf, _ := json.Marshal(s.Configuration())
	api.Mount(http.MethodGet, ConfigurationPath, jsonHandler(conf))
	api.Mount(http.MethodGet, JWKSPath, jsonHandler(s.jwks))
	// The token endpoint answers every method as OAuth does (405 but for
	// POST), never falling through to the FHIR API's 401.
	methods := []string{http.MethodPost, http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPatch}
	for _, m := range methods {
		api.Mount(m, TokenPath, http.HandlerFunc(s.handleToken))
	}
}

func jsonHandler(b []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
}
