package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	"dokkumcp.dev/identity/server"
	"dokkumcp.dev/platform/auth"
)

// fastKeys shortens the key schedule so that a rotation completes in under
// a second. The publish delay covers the verifiers' MaxAge below plus the
// reload interval, as the flag's documentation requires.
func fastKeys(rotation time.Duration) func(*server.Config) {
	return func(cfg *server.Config) {
		cfg.KeyReloadInterval = 50 * time.Millisecond
		cfg.KeyPublishDelay = 600 * time.Millisecond
		cfg.KeyRotationInterval = rotation
		// The load test fetches tokens as fast as it can.
		cfg.TokenClientRate = 0
		cfg.TokenAddressRate = 0
	}
}

const fastVerifierMaxAge = 500 * time.Millisecond

func (s *testServer) fastVerifier(audience string) *auth.Verifier {
	return auth.NewVerifier(auth.VerifierConfig{
		Issuer:            s.URL,
		Audience:          audience,
		JWKSURL:           s.URL + "/oauth2/jwks",
		MaxAge:            fastVerifierMaxAge,
		RefreshInterval:   50 * time.Millisecond,
		RevocationRefresh: 50 * time.Millisecond,
	})
}

// tokenKeyID returns the kid header of a JWT without verifying it.
func tokenKeyID(t *testing.T, token string) string {
	t.Helper()
	header, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		t.Fatalf("token header is not base64url: %v", err)
	}
	var h struct {
		KeyID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("token header is not JSON: %v", err)
	}
	return h.KeyID
}

// jwksKeyIDs returns the kids the server publishes.
func (s *testServer) jwksKeyIDs(t *testing.T) []string {
	t.Helper()
	var set auth.JWKS
	getJSON(t, s.URL+"/oauth2/jwks", &set)
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// waitForSigningKey polls until the server signs with kid.
func (s *testServer) waitForSigningKey(t *testing.T, id, secret, kid string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for tokenKeyID(t, s.token(t, id, secret, mcpURL)) != kid {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not sign with key %s within 15s", kid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestKeyRotationUnderLoad(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{configure: fastKeys(0)})
	id, secret := srv.createClient(t, "t-42", "deployer")
	admin := srv.identityClient(srv.token(t, "operator", srv.Secrets["operator"], audienceIdentity))
	verifier := srv.fastVerifier(mcpURL)
	firstToken := srv.token(t, id, secret, mcpURL)
	firstKID := tokenKeyID(t, firstToken)

	var (
		stop      = make(chan struct{})
		workers   sync.WaitGroup
		verified  atomic.Int64
		failuresM sync.Mutex
		failures  []string
	)
	fail := func(msg string) {
		failuresM.Lock()
		failures = append(failures, msg)
		failuresM.Unlock()
	}
	for range 6 {
		workers.Go(func() {
			cfg := srv.clientConfig(id, secret, mcpURL, 0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, err := cfg.Token(context.Background())
				if err != nil {
					fail("token: " + err.Error())
					continue
				}
				if _, err := verifier.Verify(context.Background(), tok.AccessToken); err != nil {
					fail("verify: " + err.Error())
					continue
				}
				verified.Add(1)
			}
		})
	}

	kids := []string{firstKID}
	for round := 1; round <= 2; round++ {
		resp, err := admin.RotateSigningKey(context.Background(), connect.NewRequest(&identityv1.RotateSigningKeyRequest{}))
		if err != nil {
			t.Fatalf("RotateSigningKey round %d: %v", round, err)
		}
		kid := resp.Msg.GetKid()
		if !resp.Msg.GetCreated() || kid == "" || kid == kids[len(kids)-1] {
			t.Fatalf("RotateSigningKey round %d = %v, want a new key", round, resp.Msg)
		}
		if published := srv.jwksKeyIDs(t); !slices.Contains(published, kid) {
			t.Errorf("round %d: JWKS %v lacks the pending key %s", round, published, kid)
		}
		again, err := admin.RotateSigningKey(context.Background(), connect.NewRequest(&identityv1.RotateSigningKeyRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if again.Msg.GetCreated() || again.Msg.GetKid() != kid {
			t.Errorf("round %d: second RotateSigningKey = %v, want the pending key %s again", round, again.Msg, kid)
		}

		srv.waitForSigningKey(t, id, secret, kid)
		kids = append(kids, kid)
	}
	// Let the workers run on the second new key for a moment.
	before := verified.Load()
	deadline := time.Now().Add(10 * time.Second)
	for verified.Load() < before+20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	workers.Wait()

	if len(failures) > 0 {
		t.Errorf("%d token fetches or verifications failed across two rotations; first: %s", len(failures), failures[0])
	}
	if verified.Load() < 20 {
		t.Errorf("only %d tokens verified, want a steady load", verified.Load())
	}
	// Keys stay published while tokens they signed are valid.
	published := srv.jwksKeyIDs(t)
	for _, kid := range kids {
		if !slices.Contains(published, kid) {
			t.Errorf("JWKS %v lacks key %s, which signed tokens that are still valid", published, kid)
		}
	}
	if _, err := srv.verifier(mcpURL).Verify(context.Background(), firstToken); err != nil {
		t.Errorf("a token signed before both rotations no longer verifies: %v", err)
	}
}

func TestScheduledKeyRotation(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{configure: fastKeys(time.Second)})
	id, secret := srv.createClient(t, "t-42", "viewer")
	first := tokenKeyID(t, srv.token(t, id, secret, mcpURL))

	deadline := time.Now().Add(15 * time.Second)
	for {
		published := srv.jwksKeyIDs(t)
		if kid := tokenKeyID(t, srv.token(t, id, secret, mcpURL)); kid != first {
			if !slices.Contains(published, first) && !slices.Contains(srv.jwksKeyIDs(t), first) {
				t.Errorf("JWKS %v dropped the previous key %s right after the rotation", published, first)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server still signs with %s after 15s with --key-rotation-interval 1s", first)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
