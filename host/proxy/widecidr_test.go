// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// A wide IP or CIDR entry ({0.0.0.0/0, 80}) allows the addresses it covers
// (rule 1) but must not switch rule 2 off for the name routes on its port:
// a DNS answer may lead to a special address only when an entry names it
// narrowly, the address itself or a prefix inside its special range.
func TestWideCIDRKeepsRule2(t *testing.T) {
	cfg := &Config{
		AllowList: []AllowEntry{
			{Address: "0.0.0.0/0", Port: 80}, {Address: "::/0", Port: 80},
			{Address: "api.partner.test", Port: 80},
			{Address: "127.0.0.0/8", Port: 8080}, {Address: "169.254.169.254", Port: 8080},
			{Address: "64:ff9b::/96", Port: 8080}, {Address: "127.0.0.0/7", Port: 9090},
			{Address: "64:ff9b::7f00:0/104", Port: 9090},
		},
		Routes: []Route{{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://api.partner.test:80"}},
	}
	c, err := validate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip   string
		port int
		want string // "" allowed, else substring
	}{
		{"169.254.169.254", 80, "a link-local (instance metadata) address"},
		{"127.0.0.1", 80, "a loopback address"},
		{"::1", 80, "a loopback address"},
		{"fd00:ec2::254", 80, "a link-local (instance metadata) address"},
		{"::ffff:169.254.169.254", 80, "a link-local (instance metadata) address"},
		{"64:ff9b::a9fe:a9fe", 80, "169.254.169.254 embedded (NAT64)"},
		{"198.51.100.7", 80, ""}, // ordinary addresses: rule 1 as before
		{"2001:db8::1", 80, ""},
		// Narrow entries: the address itself, or a prefix inside its range.
		{"127.0.0.9", 8080, ""},
		{"169.254.169.254", 8080, ""},
		{"169.254.169.253", 8080, "a link-local (instance metadata) address"},
		{"64:ff9b::7f00:1", 8080, "127.0.0.1 embedded (NAT64)"}, // /96 is every NAT64 address
		{"64:ff9b::7f00:1", 9090, ""},
		{"127.0.0.1", 9090, "a loopback address"}, // /7 is wider than 127/8
	}
	for _, tt := range tests {
		got := c.allow.checkResolved("api.partner.test", netip.MustParseAddr(tt.ip), tt.port)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("checkResolved(%s, %d) = %q, want %q", tt.ip, tt.port, got, tt.want)
		}
	}
}

// A wide prefix does not make a name that always resolves to loopback or
// the metadata service usable: New still refuses the name entry.
func TestFixedNameWithWideCIDRRefused(t *testing.T) {
	for _, wide := range []string{"0.0.0.0/0", "::/0", "127.0.0.0/7"} {
		cfg, err := ParseConfig([]byte("allowlist:\n  - {address: localhost, port: 8443}\n  - {address: '" + wide + "', port: 8443}\n" +
			"routes:\n  - {name: r, direction: egress, listen: 'tcp://127.0.0.1:0', destination: 'tcp://localhost:8443'}\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(cfg)
		if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "allowlist[0]: ") ||
			!strings.Contains(err.Error(), "which a name entry never allows") {
			t.Errorf("localhost with %s listed: %v", wide, err)
		}
	}
}
