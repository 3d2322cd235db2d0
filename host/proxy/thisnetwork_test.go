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

// Rule 2 refuses every address of 0.0.0.0/8 ("this network", RFC 1122
// 3.2.1.3, RFC 6890), not only 0.0.0.0: Linux connects 0.0.0.0 to the
// host itself, and since Linux 5.3 the rest of 0.0.0.0/8 is assignable to
// an interface. Its IPv6 forms are refused the same way, and a wide entry
// does not let them through; an entry within 0.0.0.0/8 does.
func TestThisNetworkRefusedForNames(t *testing.T) {
	cfg := &Config{
		AllowList: []AllowEntry{
			{Address: "api.partner.test", Port: 80},
			{Address: "0.0.0.0/0", Port: 80}, {Address: "::/0", Port: 80},
			{Address: "0.1.2.3", Port: 8080}, {Address: "0.0.0.0/8", Port: 9090},
			{Address: "0.0.0.0/7", Port: 7070},
		},
		Routes: []Route{{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://api.partner.test:80"}},
	}
	c, err := validate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const kind = "a this-network (0.0.0.0/8) address"
	tests := []struct {
		ip   string
		port int
		want string // "" allowed, else substring
	}{
		{"0.1.2.3", 80, kind},
		{"0.0.0.1", 80, kind},
		{"0.255.255.255", 80, kind},
		{"::ffff:0.1.2.3", 80, kind},
		{"0.0.0.0", 80, "an unspecified address"}, // refused before
		{"64:ff9b::1:203", 80, kind + " (0.1.2.3 embedded (NAT64))"},
		{"64:ff9b:1::1:203", 80, kind + " (0.1.2.3 embedded (local-use NAT64))"},
		{"2002:1:203::1", 80, kind + " (0.1.2.3 embedded (6to4))"},
		{"::1:203", 80, kind + " (0.1.2.3 embedded (IPv4-compatible))"},
		{teredoAddr("0.1.2.3", "198.51.100.7"), 80, kind + " (0.1.2.3 embedded (Teredo server))"},
		{teredoAddr("198.51.100.7", "0.1.2.3"), 80, kind + " (0.1.2.3 embedded (Teredo client))"},
		{"0.1.2.3", 7070, kind}, // /7 is wider than 0.0.0.0/8
		// Allowed: just outside the range, or listed within it.
		{"1.0.0.1", 80, ""},
		{"0.1.2.3", 8080, ""},
		{"0.9.9.9", 9090, ""},
		{"0.0.0.0", 9090, ""},
	}
	for _, tt := range tests {
		got := c.allow.checkResolved("api.partner.test", netip.MustParseAddr(tt.ip), tt.port)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("checkResolved(%s, %d) = %q, want %q", tt.ip, tt.port, got, tt.want)
		}
	}

	// At connection time and in CheckNames: ErrNotAllowed, the kind named.
	res := &fakeResolver{}
	res.set("api.partner.test", "0.1.2.3")
	p, err := New(&Config{Resolver: res, Logger: slog.New(slog.DiscardHandler),
		AllowList: []AllowEntry{{Address: "api.partner.test", Port: 443}},
		Routes:    []Route{{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://api.partner.test:443"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckNames(context.Background()); !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "this-network") {
		t.Errorf("CheckNames, api.partner.test resolving to 0.1.2.3: %v, want ErrNotAllowed naming this-network", err)
	}
	if _, err := p.allowedAddrs(p.routes[0], []netip.Addr{netip.MustParseAddr("0.1.2.3")}, func() *slog.Logger { return p.log }); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("connection to 0.1.2.3: %v, want ErrNotAllowed", err)
	}
}
