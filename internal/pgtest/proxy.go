// SPDX-License-Identifier: Apache-2.0

package pgtest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy forwards loopback TCP connections to the database and can cut
// them all and refuse new ones, to simulate a database outage.
type Proxy struct {
	l     net.Listener
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

// NewProxy starts a proxy to the host of connURL; it is closed when the
// test ends.
func NewProxy(t testing.TB, connURL string) *Proxy {
	t.Helper()
	u, err := url.Parse(connURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	target := u.Host
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{l: l}
	t.Cleanup(func() { l.Close(); p.SetDown(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			d, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			go func() { io.Copy(d, c); d.Close() }()
			go func() { io.Copy(c, d); c.Close() }()
		}
	}()
	return p
}

// SetDown cuts every connection and refuses new ones (true), or accepts
// connections again (false).
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// URL returns connURL with its host replaced by the proxy's address.
func (p *Proxy) URL(t testing.TB, connURL string) string {
	t.Helper()
	u, err := url.Parse(connURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.Host = p.l.Addr().String()
	return u.String()
}
