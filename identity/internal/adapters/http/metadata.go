package http

import (
	"encoding/json"
	"net/http"

	"dokkumcp.dev/platform/auth"
)

// JWKSHandler serves the public signing keys.
func JWKSHandler(jwks auth.JWKS) http.Handler {
	body, _ := json.Marshal(jwks)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		// Verifiers refetch on an unknown kid, so a short cache time only
		// delays the retirement of a key, never the use of a new one.
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Write(body)
	})
}

// Metadata is the RFC 8414 authorization server metadata.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
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
