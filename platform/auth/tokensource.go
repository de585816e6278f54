package auth

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ServiceCredentials are a service identity's OAuth client credentials.
type ServiceCredentials struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Resource is the audience of the tokens (RFC 8707), for example
	// "urn:dokkumcp:tenancy".
	Resource string
}

// NewServiceTokenFunc returns a TokenFunc that fetches client-credentials
// tokens for one audience and reuses each until shortly before it expires.
func NewServiceTokenFunc(creds ServiceCredentials, httpClient *http.Client) TokenFunc {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	cfg := clientcredentials.Config{
		ClientID:       creds.ClientID,
		ClientSecret:   creds.ClientSecret,
		TokenURL:       creds.TokenURL,
		EndpointParams: url.Values{"resource": {creds.Resource}},
		AuthStyle:      oauth2.AuthStyleInHeader,
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, httpClient)
	source := oauth2.ReuseTokenSourceWithExpiry(nil, cfg.TokenSource(ctx), time.Minute)
	return func(context.Context) (string, error) {
		token, err := source.Token()
		if err != nil {
			return "", err
		}
		return token.AccessToken, nil
	}
}
