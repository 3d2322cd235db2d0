// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// stuckResolver ignores its context: each lookup returns only when release
// is closed (a custom Resolver that does not honour cancellation).
type stuckResolver struct {
	started chan struct{}
	release chan struct{}
	running atomic.Int64
}

func (s *stuckResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	s.running.Add(1)
	defer s.running.Add(-1)
	s.started <- struct{}{}
	<-s.release
	return nil, &net.DNSError{Err: "released", Name: "api.partner.test"}
}

// serveAsync listens and serves p in the background; the returned stop
// cancels Serve and reports how long it took to return (or fails after
// limit).
func serveAsync(t *testing.T, p *Proxy, limit time.Duration) (stop func() time.Duration) {
	t.Helper()
	if err := p.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	for !p.serving.Load() {
		time.Sleep(time.Millisecond)
	}
	return func() time.Duration {
		start := time.Now()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(limit):
			t.Fatalf("Serve did not return within %v", limit)
		}
		return time.Since(start)
	}
}

// TestServeBoundsWaitForStuckLookup: Serve waits for the DNS lookups it
// cancels, but a Resolver that ignores its context must not hang the
// shutdown: Serve gives them lookupStopWait, then returns and says once how
// many lookups it left running.
func TestServeBoundsWaitForStuckLookup(t *testing.T) {
	log, logs := testLogger(t)
	res := &stuckResolver{started: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(res.release)
	p, err := New(&Config{Resolver: res, Logger: log, ConnectTimeout: 50 * time.Millisecond, goroutines: true,
		AllowList: []AllowEntry{{Address: "api.partner.test", Port: 443}},
		Routes:    []Route{{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://api.partner.test:443"}}})
	if err != nil {
		t.Fatal(err)
	}
	p.lookups.wait = 200 * time.Millisecond
	stop := serveAsync(t, p, 10*time.Second)
	c := dialRoute(t, p, "r")
	<-res.started
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.Read(make([]byte, 1)) // the connection gives up after ConnectTimeout
	c.Close()
	took := stop()
	if took < p.lookups.wait {
		t.Errorf("Serve returned after %v, before waiting %v for the lookup", took, p.lookups.wait)
	}
	if res.running.Load() != 1 {
		t.Fatalf("%d lookups running, want the stuck one", res.running.Load())
	}
	const msg = "shutting down: lookups still running after cancellation, not waiting for them"
	if n := strings.Count(logs.String(), msg); n != 1 || !strings.Contains(logs.String(), "lookups=1") {
		t.Errorf("%d lines %q (with lookups=1), want 1:\n%s", n, msg, logs)
	}
}

// TestLocalAddrRefreshEndsWithServe: the goroutine that reads the host's
// interface addresses again (started by a rule 2 check finding them older
// than localAddrRefresh) runs within Serve's lifetime, as DNS lookups do:
// Serve waits for it, and once Serve has returned a check starts none.
func TestLocalAddrRefreshEndsWithServe(t *testing.T) {
	p, err := New(&Config{Logger: nil,
		Routes: []Route{{Name: "r", Direction: Ingress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	al := p.c.allow
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	al.now = func() time.Time { return time.Unix(0, now.Load()) }
	var reads, running atomic.Int64
	al.readLocal = func() ([]net.Addr, error) {
		reads.Add(1)
		running.Add(1)
		defer running.Add(-1)
		time.Sleep(300 * time.Millisecond)
		return nil, nil
	}
	stop := serveAsync(t, p, 10*time.Second)
	now.Add(int64(localAddrRefresh))
	al.isLocal(netip.MustParseAddr("192.0.2.1"))
	for reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	stop()
	if n := running.Load(); n != 0 {
		t.Errorf("%d interface address reads still running after Serve returned", n)
	}
	now.Add(int64(localAddrRefresh))
	al.isLocal(netip.MustParseAddr("192.0.2.1"))
	time.Sleep(50 * time.Millisecond)
	if n := reads.Load(); n != 1 {
		t.Errorf("%d interface address reads, want 1: one started after Serve returned", n)
	}
}
