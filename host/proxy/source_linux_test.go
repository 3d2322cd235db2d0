// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// dialFrom connects to a route from a chosen loopback source address.
func dialFrom(t *testing.T, p *Proxy, route, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", p.Addr(route).String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bothPaths runs f on the event engine and on the goroutine path.
func bothPaths(t *testing.T, f func(t *testing.T, goroutines bool)) {
	for _, gor := range []bool{false, true} {
		name := "engine"
		if gor {
			name = "goroutines"
		}
		t.Run(name, func(t *testing.T) { f(t, gor) })
	}
}

// One source address cannot take every slot and wait place of a TCP
// ingress route: by default it holds max_connections/16 (here 1), the
// rest of its connections are refused at once with reason source_limit,
// and a client from another address is served.
func TestPerSourceLimitLeavesSlotsToOtherSources(t *testing.T) {
	bothPaths(t, func(t *testing.T, gor bool) {
		up := startServer(t, echo)
		log, logs := testLogger(t)
		p, _ := startProxy(t, &Config{Logger: log, goroutines: gor, Routes: []Route{{Name: "attest", Direction: Ingress,
			Listen: "tcp://127.0.0.1:0", Destination: up.url(), MaxConnections: 4}}})
		r := p.routes[0]
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for range 8 { // idle connections from one address
			held = append(held, dialFrom(t, p, "attest", "127.0.0.1"))
		}
		waitMetric(t, p.m.errors.WithLabelValues("attest", reasonSource), 7)
		if n, w := len(r.sem), r.waiting.Load(); n != 1 || w != 0 {
			t.Fatalf("one source holds %d slots and %d wait places, want 1 and 0", n, w)
		}
		v := dialFrom(t, p, "attest", "127.0.0.2")
		defer v.Close()
		_ = v.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := v.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 5)
		if _, err := io.ReadFull(v, b); err != nil {
			t.Fatalf("client from another address not served: %v", err)
		}
		p.FlushLogs(5 * time.Second)
		if !strings.Contains(logs.String(), "too many connections from one source") {
			t.Errorf("refusal not logged:\n%s", logs.String())
		}
		// Closing the held connections gives the source its count back.
		for _, c := range held {
			c.Close()
		}
		held = nil
		waitUntil(t, "the source's connections uncounted", func() bool {
			if gor {
				r.srcMu.Lock()
				defer r.srcMu.Unlock()
			} else {
				r.e.mu.Lock()
				defer r.e.mu.Unlock()
			}
			_, ok := r.src.n[ipSrcKey(mustAddr("127.0.0.1"))]
			return !ok
		})
	})
}

// max_connections_per_source: -1 turns the limit off (a load balancer in
// front makes every client one source): one address fills the slots and
// the wait queue again, and nothing is refused as source_limit.
func TestPerSourceLimitOff(t *testing.T) {
	bothPaths(t, func(t *testing.T, gor bool) {
		up := startServer(t, echo)
		log, _ := testLogger(t)
		p, _ := startProxy(t, &Config{Logger: log, goroutines: gor, Routes: []Route{{Name: "attest", Direction: Ingress,
			Listen: "tcp://127.0.0.1:0", Destination: up.url(), MaxConnections: 4, MaxConnectionsPerSource: PerSourceUnlimited}}})
		r := p.routes[0]
		for range 8 {
			c := dialFrom(t, p, "attest", "127.0.0.1")
			defer c.Close()
		}
		waitUntil(t, "one source holds every slot and wait place", func() bool {
			return len(r.sem) == 4 && r.waiting.Load() == 4
		})
		if n := metricValue(p.m.errors.WithLabelValues("attest", reasonSource)); n != 0 {
			t.Fatalf("%v connections refused as source_limit with the limit off", n)
		}
	})
}

// A client waiting for a slot that resets, or closes without sending
// anything, gives its wait place back at once (it used to keep it until
// the connect timeout, and be dialled through when a slot came); one that
// sent its request and then half-closed keeps its place and is served.
func TestWaitingClientThatLeavesFreesItsPlace(t *testing.T) {
	up := startServer(t, echo)
	log, _ := testLogger(t)
	cfg := &Config{Logger: log, ConnectTimeout: 10 * time.Second, Routes: []Route{{Name: "attest", Direction: Ingress,
		Listen: "tcp://127.0.0.1:0", Destination: up.url(), MaxConnections: 1, MaxConnectionsPerSource: PerSourceUnlimited}}}
	p, _ := startProxy(t, cfg)
	r := p.routes[0]
	held := dialRoute(t, p, "attest")
	defer held.Close()
	waitUntil(t, "slot taken", func() bool { return len(r.sem) == 1 })

	reset := dialRoute(t, p, "attest")
	waitUntil(t, "queued", func() bool { return r.waiting.Load() == 1 })
	_ = reset.(*net.TCPConn).SetLinger(0)
	reset.Close()
	waitUntil(t, "the reset client's wait place freed", func() bool { return r.waiting.Load() == 0 })

	fin := dialRoute(t, p, "attest")
	waitUntil(t, "queued", func() bool { return r.waiting.Load() == 1 })
	fin.Close()
	waitUntil(t, "the closed client's wait place freed", func() bool { return r.waiting.Load() == 0 })
	waitMetric(t, p.m.errors.WithLabelValues("attest", reasonCopy), 2)

	half := dialRoute(t, p, "attest")
	defer half.Close()
	_ = half.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := half.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := half.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "queued", func() bool { return r.waiting.Load() == 1 })
	time.Sleep(100 * time.Millisecond) // its EPOLLRDHUP has been seen
	if w := r.waiting.Load(); w != 1 {
		t.Fatalf("a half-closed client with a request lost its wait place (waiting %d)", w)
	}
	held.Close() // its slot goes to the waiting client
	got, err := io.ReadAll(half)
	if err != nil || string(got) != "ping" {
		t.Fatalf("half-closed waiting client got %q, %v; want the echo of its request", got, err)
	}
}
