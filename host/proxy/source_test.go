// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestSrcKey(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"192.0.2.1", "192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},                 // IPv4: the /32
		{"192.0.2.1", "::ffff:192.0.2.1", true},           // a dual-stack listener's IPv4 client
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true}, // IPv6: the /64
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
	} {
		if got := ipSrcKey(mustAddr(c.a)) == ipSrcKey(mustAddr(c.b)); got != c.same {
			t.Errorf("%s and %s one source: %v, want %v", c.a, c.b, got, c.same)
		}
	}
	if a, b := cidSrcKey(3), cidSrcKey(3); cidSrcKey(3) == cidSrcKey(4) || a != b {
		t.Error("vsock CIDs are not told apart")
	}
}

// The per-source limit is on by default on TCP ingress routes only (a
// sixteenth of max_connections, at least 1); -1 turns it off; a positive
// value applies to any tcp or vsock route.
func TestPerSourceLimitDefaults(t *testing.T) {
	allow := []AllowEntry{{Address: "127.0.0.1", Port: 80}}
	for _, c := range []struct {
		name string
		r    Route
		want int // 0: no limit
	}{
		{"ingress tcp default", Route{Direction: Ingress, Listen: "tcp://0.0.0.0:0", Destination: "vsock://16:5000"}, DefaultMaxConnections / 16},
		{"ingress tcp small", Route{Direction: Ingress, Listen: "tcp://0.0.0.0:0", Destination: "vsock://16:5000", MaxConnections: 4}, 1},
		{"ingress tcp off", Route{Direction: Ingress, Listen: "tcp://0.0.0.0:0", Destination: "vsock://16:5000", MaxConnectionsPerSource: -1}, 0},
		{"ingress tcp explicit", Route{Direction: Ingress, Listen: "tcp://0.0.0.0:0", Destination: "vsock://16:5000", MaxConnectionsPerSource: 5}, 5},
		{"ingress unix", Route{Direction: Ingress, Listen: "unix:///tmp/x.sock", Destination: "vsock://16:5000"}, 0},
		{"egress default", Route{Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://127.0.0.1:80"}, 0},
		{"egress explicit", Route{Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://127.0.0.1:80", MaxConnectionsPerSource: 2}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.r.Name = "r"
			p, err := New(&Config{AllowList: allow, Routes: []Route{c.r}})
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			if s := p.routes[0].src; s != nil {
				got = s.max
			}
			if got != c.want {
				t.Fatalf("per-source limit %d, want %d", got, c.want)
			}
		})
	}
}

func TestPerSourceLimitConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name, want string
		r          Route
	}{
		{"below -1", "max_connections_per_source: -2 out of range",
			Route{Direction: Ingress, Listen: "tcp://0.0.0.0:0", Destination: "vsock://16:5000", MaxConnectionsPerSource: -2}},
		{"too large", "max_connections_per_source: 1048577 out of range",
			Route{Direction: Ingress, Listen: "tcp://0.0.0.0:0", Destination: "vsock://16:5000", MaxConnectionsPerSource: MaxConnectionsLimit + 1}},
		{"unix listener", "max_connections_per_source needs a tcp or vsock listen address",
			Route{Direction: Ingress, Listen: "unix:///tmp/x.sock", Destination: "vsock://16:5000", MaxConnectionsPerSource: 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.r.Name = "r"
			_, err := New(&Config{Routes: []Route{c.r}})
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want ErrInvalidConfig with %q", err, c.want)
			}
		})
	}
}
