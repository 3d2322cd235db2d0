// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

// teredoAddr returns the Teredo address (RFC 4380) of client behind server: the
// server's IPv4 in bits 32-63, the client's IPv4 XOR 0xffffffff in the last
// 32 bits (flags and port zero).
func teredoAddr(server, client string) string {
	s, c := netip.MustParseAddr(server).As4(), netip.MustParseAddr(client).As4()
	var b [16]byte
	b[0], b[1] = 0x20, 0x01
	copy(b[4:8], s[:])
	for i := range c {
		b[12+i] = c[i] ^ 0xff
	}
	return netip.AddrFrom16(b).String()
}

// TestNameResolvingToEmbeddedIPv4Refused: an allow-listed name whose DNS
// answer is an IPv6 form that carries loopback, the metadata service or an
// address of the host (Teredo 2001::/32 in either of its IPv4 addresses,
// the local-use NAT64 prefix 64:ff9b:1::/48, as the forms rule 2 knew
// already) is refused by CheckNames and at connection time, with
// ErrNotAllowed and the embedded address named.
func TestNameResolvingToEmbeddedIPv4Refused(t *testing.T) {
	own := localNonLoopback(t).String()
	const ordinary = "198.51.100.7"
	tests := []struct {
		addr, want string
	}{
		{"64:ff9b::7f00:1", "127.0.0.1 embedded (NAT64)"}, // known before
		{"64:ff9b:1::7f00:1", "127.0.0.1 embedded (local-use NAT64)"},
		{"64:ff9b:1:abcd::a9fe:a9fe", "169.254.169.254 embedded (local-use NAT64)"},
		{"64:ff9b:1::" + own, own + " embedded (local-use NAT64)"},
		{teredoAddr("127.0.0.1", ordinary), "127.0.0.1 embedded (Teredo server)"},
		{teredoAddr("169.254.169.254", ordinary), "169.254.169.254 embedded (Teredo server)"},
		{teredoAddr(own, ordinary), own + " embedded (Teredo server)"},
		{teredoAddr(ordinary, "127.0.0.1"), "127.0.0.1 embedded (Teredo client)"},
		{teredoAddr(ordinary, "169.254.169.254"), "169.254.169.254 embedded (Teredo client)"},
		{teredoAddr(ordinary, own), own + " embedded (Teredo client)"},
	}
	for _, tt := range tests {
		res := &fakeResolver{}
		res.set("api.partner.test", tt.addr)
		p, err := New(&Config{Resolver: res, Logger: slog.New(slog.DiscardHandler),
			AllowList: []AllowEntry{{Address: "api.partner.test", Port: 443}},
			Routes:    []Route{{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://api.partner.test:443"}}})
		if err != nil {
			t.Fatal(err)
		}
		err = p.CheckNames(context.Background())
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckNames, %s resolving to %s: %v, want *ConfigError, ErrNotAllowed, %q", "api.partner.test", tt.addr, err, tt.want)
		}
		_, err = p.allowedAddrs(p.routes[0], []netip.Addr{netip.MustParseAddr(tt.addr)}, func() *slog.Logger { return p.log })
		if !errors.Is(err, ErrNotAllowed) {
			t.Errorf("connection to %s: %v, want ErrNotAllowed", tt.addr, err)
		}
		if why := p.c.allow.checkResolved("api.partner.test", netip.MustParseAddr(tt.addr), 443); !strings.Contains(why, tt.want) {
			t.Errorf("checkResolved(%s) = %q, want %q", tt.addr, why, tt.want)
		}
	}
}

// TestCheckResolvedTeredoAndLocalNAT64: the new forms with ordinary IPv4 addresses in
// them are left to rule 3, and an entry naming the embedded form narrowly
// allows it (rule 1) while a wide one does not.
func TestCheckResolvedTeredoAndLocalNAT64(t *testing.T) {
	al, errs := compileAllowList([]AllowEntry{
		{Address: "api.partner.test", Port: 22},
		{Address: "2001::/32", Port: 80}, // every Teredo address: wide
		{Address: "64:ff9b:1::/48", Port: 80},
		{Address: "64:ff9b:1::7f00:0/104", Port: 8443},              // 127.0.0.0/8 in local-use NAT64
		{Address: teredoAddr("192.0.2.1", "127.0.0.1"), Port: 8443}, // this one address
		{Address: "2001:0:7f00::/40", Port: 9090},                   // Teredo servers in 127.0.0.0/8
	})
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		ip   string
		port int
		want string // "" allowed, else substring
	}{
		{"64:ff9b:1::c633:6407", 22, ""},
		{teredoAddr("192.0.2.1", "198.51.100.7"), 22, ""},
		{"2001:db8::1", 22, ""}, // documentation prefix, not Teredo
		{"64:ff9b:1::7f00:1", 80, "127.0.0.1 embedded (local-use NAT64)"},
		{teredoAddr("192.0.2.1", "127.0.0.1"), 80, "127.0.0.1 embedded (Teredo client)"},
		{"64:ff9b:1::7f00:1", 8443, ""},
		{teredoAddr("192.0.2.1", "127.0.0.1"), 8443, ""},
		{teredoAddr("192.0.2.1", "127.0.0.2"), 8443, "127.0.0.2 embedded (Teredo client)"},
		{teredoAddr("127.0.0.1", "198.51.100.7"), 9090, ""},
		// Both embedded addresses special: the entry must be narrow for both.
		{teredoAddr("127.0.0.1", "169.254.169.254"), 9090, "169.254.169.254 embedded (Teredo client)"},
	}
	for _, tt := range tests {
		got := al.checkResolved("api.partner.test", netip.MustParseAddr(tt.ip), tt.port)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("checkResolved(%s, %d) = %q, want %q", tt.ip, tt.port, got, tt.want)
		}
	}
}
