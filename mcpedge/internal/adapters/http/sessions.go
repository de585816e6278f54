package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"

	"dokkumcp.dev/platform/auth"
)

// SessionBindings ties each legacy SSE session to the principal that opened
// its stream, so a session id learned by another caller is useless: message
// POSTs are accepted only from the same tenant and subject.
type SessionBindings struct {
	mu     sync.Mutex
	owners map[string]string
}

// NewSessionBindings returns an empty set of bindings.
func NewSessionBindings() *SessionBindings {
	return &SessionBindings{owners: map[string]string{}}
}

func ownerKey(p *auth.Principal) string {
	return p.TenantID + "\x00" + p.Subject
}

// NewSessionID generates a session id for the stream request r and binds it
// to r's principal. It has the shape of mcp-go's SSE session id generator.
func (b *SessionBindings) NewSessionID(_ context.Context, r *http.Request) (string, error) {
	principal, ok := auth.PrincipalFrom(r.Context())
	if !ok {
		return "", errNoPrincipal
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	id := hex.EncodeToString(raw)

	b.mu.Lock()
	b.owners[id] = ownerKey(principal)
	b.mu.Unlock()
	return id, nil
}

// Forget drops a session's binding when the session ends.
func (b *SessionBindings) Forget(id string) {
	b.mu.Lock()
	delete(b.owners, id)
	b.mu.Unlock()
}

// Len returns the number of bound sessions.
func (b *SessionBindings) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.owners)
}

// RequireOwner wraps the message handler: a POST for a session that does
// not exist or belongs to another principal gets the same 404, so session
// ids cannot be probed.
func (b *SessionBindings) RequireOwner(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		principal, ok := auth.PrincipalFrom(r.Context())
		id := r.URL.Query().Get("sessionId")

		b.mu.Lock()
		owner, known := b.owners[id]
		b.mu.Unlock()

		if !ok || !known || owner != ownerKey(principal) {
			writeJSONRPCError(w, http.StatusNotFound, codeInvalidRequest,
				"session not found: open a new SSE stream with GET /sse and post to the endpoint it announces")
			return
		}
		next.ServeHTTP(w, r)
	})
}

var errNoPrincipal = errors.New("no authenticated principal on the SSE stream request")
