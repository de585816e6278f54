package http

import (
	"context"
	"encoding/json"
	"net/http"

	"dokkumcp.dev/platform/auth"
)

// JWKSHandler serves the published signing keys, read at each request from
// jwks.
func JWKSHandler(jwks func(context.Context) auth.JWKS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(jwks(r.Context()))
		w.Header().Set("Content-Type", "application/jwk-set+json")
		// A key is published for the whole publish delay before it signs,
		// which is far longer than this cache time. Verifiers also refetch on
		// an unknown kid, so a short cache time only delays the retirement
		// of a key.
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Write(body)
	})
}

// Metadata is the RFC 8414 authorization server metadata.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	// TokenEndpointAuthSigningAlgValuesSupported lists the algorithms of
	// private_key_jwt client assertions.
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	// RevocationEndpointAuthMethodsSupported and
	// IntrospectionEndpointAuthMethodsSupported list the same methods as
	// the token endpoint.
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
}

// MetadataHandler serves the server metadata.
func MetadataHandler(metadata Metadata) http.Handler {
	body, _ := json.Marshal(metadata)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(body)
	})
}
