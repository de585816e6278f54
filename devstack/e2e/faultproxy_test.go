package e2e_test

import (
	"io"
	"net"
	"sync"
	"testing"
)

// faultProxy is a fault injector: a TCP proxy that forwards to a target until
// Cut makes the target unreachable, and again after Restore. It exists
// because a real Vault cannot be made unreachable on demand without losing
// its in-memory state: stopping the dev server would lose its SSH CA, and
// every host would have to trust a new one.
type faultProxy struct {
	listener net.Listener
	target   string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newFaultProxy listens on a free loopback port and forwards to target
// (host:port) until the test ends.
func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the fault proxy: %v", err)
	}
	p := &faultProxy{listener: listener, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.close)
	return p
}

// Addr returns the proxy's listen address.
func (p *faultProxy) Addr() string { return p.listener.Addr().String() }

// Cut closes every forwarded connection and closes new ones as soon as they
// are accepted, so clients fail fast as if the target were down.
func (p *faultProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for conn := range p.conns {
		_ = conn.Close()
	}
}

// Restore forwards new connections to the target again.
func (p *faultProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *faultProxy) close() {
	_ = p.listener.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *faultProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = client.Close()
			continue
		}
		p.conns[client] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.forward(client)
	}
}

// forward copies bytes both ways between client and a new connection to the
// target until either side closes or Cut closes both.
func (p *faultProxy) forward(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)

	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		_ = server.Close()
		return
	}
	p.conns[server] = struct{}{}
	p.mu.Unlock()
	defer p.untrack(server)

	// When one direction ends, closing both connections ends the other.
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
	<-done
}

func (p *faultProxy) untrack(conn net.Conn) {
	p.mu.Lock()
	delete(p.conns, conn)
	p.mu.Unlock()
	_ = conn.Close()
}
