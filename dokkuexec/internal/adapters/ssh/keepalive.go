package ssh

import "time"

// keepaliveRequest is the global request OpenSSH's client sends for
// ServerAliveInterval. Servers that do not know it reply with failure,
// which proves them alive as well as success would.
const keepaliveRequest = "keepalive@openssh.com"

// keepalive sends a keepalive request on conn every KeepaliveInterval
// until the connection ends. A request that gets no reply within one
// interval means that the host or the network path is gone without the TCP
// connection noticing, so keepalive closes the connection: its sessions
// fail, and the next command dials again.
func (e *Executor) keepalive(pool *hostPool, conn *pooledConn, hostID string) {
	interval := e.opts.KeepaliveInterval
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-conn.closed:
			return
		case <-ticker.C:
		}

		// SendRequest blocks until the reply or the connection's end, so
		// it runs apart and the wait below bounds it. Closing the
		// connection ends it.
		replied := make(chan error, 1)
		go func() {
			_, _, err := conn.client.SendRequest(keepaliveRequest, true, nil)
			replied <- err
		}()
		timeout := time.NewTimer(interval)
		select {
		case err := <-replied:
			timeout.Stop()
			if err != nil {
				e.drop(pool, conn)
				return
			}
		case <-timeout.C:
			e.opts.Logger.Warn("ssh keepalive unanswered; closing the connection", "host_id", hostID, "timeout_ms", interval.Milliseconds())
			e.drop(pool, conn)
			<-replied
			return
		case <-conn.closed:
			timeout.Stop()
			<-replied
			return
		}
	}
}
