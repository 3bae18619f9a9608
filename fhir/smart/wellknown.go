package smart

import (
	"encoding/json"
	"net/http"

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
	TokenEndpoint         string   `json:"token_endpoint"`
	GrantTypes            []string `json:"grant_types_supported"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	TokenAuthSigningAlgs  []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	Scopes                []string `json:"scopes_supported"`
	ResponseTypes         []string `json:"response_types_supported,omitempty"`
	Capabilities          []string `json:"capabilities"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported,omitempty"`
}

// Configuration returns the smart-configuration document. Without an
// external authorization server it describes the built-in backend-services
// endpoint; with one, that server's endpoints for user-facing apps (the
// built-in endpoint still serves registered backend clients). issuer is
// given only with an external OpenID Connect issuer, as the spec asks
// (issuer is required with sso-openid-connect, omitted otherwise).
func (s *Server) Configuration() any {
	c := configuration{
		JWKSURI:              s.base + JWKSPath,
		TokenEndpoint:        s.tokenURL(),
		GrantTypes:           []string{"client_credentials"},
		TokenAuthMethods:     []string{"private_key_jwt"},
		TokenAuthSigningAlgs: Algorithms,
		Scopes: []string{"system/*.cruds", "system/*.rs", "system/*.read", "system/*.write",
			"user/*.cruds", "user/*.rs", "patient/*.rs", "patient/*.read"},
		Capabilities: []string{"client-confidential-asymmetric", "permission-v1", "permission-v2"},
	}
	if s.cfg.Issuer != "" && s.cfg.AuthorizeURL != "" && s.cfg.TokenURL != "" {
		c.Issuer = s.cfg.Issuer
		c.JWKSURI = s.cfg.JWKSURL
		c.AuthorizationEndpoint = s.cfg.AuthorizeURL
		c.TokenEndpoint = s.cfg.TokenURL
		c.GrantTypes = []string{"authorization_code", "client_credentials"}
		c.ResponseTypes = []string{"code"}
		c.CodeChallengeMethods = []string{"S256"}
		c.Scopes = append(c.Scopes, "openid", "fhirUser", "launch", "launch/patient", "offline_access")
		c.Capabilities = append(c.Capabilities, "launch-ehr", "launch-standalone",
			"context-ehr-patient", "context-standalone-patient", "permission-patient", "permission-user",
			"sso-openid-connect", "client-public")
	}
	return c
}

// Security returns the JSON of CapabilityStatement.rest.security: the
// SMART-on-FHIR service and the oauth-uris extension
// (https://hl7.org/fhir/smart-app-launch/conformance.html#declaring-support-for-oauth2-endpoints).
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
		"description": "Bearer tokens per SMART App Launch 2.x; scopes v1 and v2; " +
			"patient tokens see their compartment only.",
	}
	b, _ := json.Marshal(sec)
	return b
}

// Mount serves the discovery documents and the token endpoint on api.
func (s *Server) Mount(api *rest.Server) {
	conf, _ := json.Marshal(s.Configuration())
	api.Mount(http.MethodGet, ConfigurationPath, jsonHandler(conf))
	api.Mount(http.MethodGet, JWKSPath, jsonHandler(s.jwks))
	api.Mount(http.MethodPost, TokenPath, http.HandlerFunc(s.handleToken))
}

func jsonHandler(b []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
}
