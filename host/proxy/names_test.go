// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestFixedNamesRefused: an allow-list name that always resolves to
// loopback or the metadata service can never allow a connection; New
// (start-up and --check) refuses it and says what to list instead, unless
// an IP entry lists those addresses on the port.
func TestFixedNamesRefused(t *testing.T) {
	route := "routes:\n  - {name: r, direction: egress, listen: 'tcp://127.0.0.1:0', destination: 'tcp://kms.example.com:443'}\n"
	for _, name := range []string{"localhost", "LOCALHOST.", "app.localhost", "localhost.localdomain", "ip6-loopback", "instance-data.ec2.internal"} {
		cfg, err := ParseConfig([]byte("allowlist:\n  - {address: kms.example.com, port: 443}\n  - {address: " + name + ", port: 8443}\n" + route))
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(cfg)
		if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "allowlist[1]: ") ||
			!strings.Contains(err.Error(), "which a name entry never allows") || !strings.Contains(err.Error(), "list the address itself") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// With the loopback address listed, the name entry is usable.
	cfg, _ := ParseConfig([]byte("allowlist:\n  - {address: localhost, port: 8443}\n  - {address: 127.0.0.1, port: 8443}\n" +
		"routes:\n  - {name: r, direction: egress, listen: 'tcp://127.0.0.1:0', destination: 'tcp://localhost:8443'}\n"))
	if _, err := New(cfg); err != nil {
		t.Errorf("localhost with 127.0.0.1 listed: %v", err)
	}
}

// TestCheckNames: a name whose every answer is refused for names is
// refused; one with a usable answer, or one that does not resolve now, is
// not.
func TestCheckNames(t *testing.T) {
	res := &fakeResolver{}
	res.set("parent.internal", "127.0.1.1", "::1")
	res.set("imds.internal", "169.254.169.254")
	res.set("mixed.example", "127.0.0.1", "203.0.113.7")
	res.set("listed.internal", "10.0.0.5", "127.0.0.1")
	cfg, err := ParseConfig([]byte(`allowlist:
  - {address: parent.internal, port: 443}
  - {address: imds.internal, port: 80}
  - {address: mixed.example, port: 443}
  - {address: listed.internal, port: 5432}
  - {address: gone.example, port: 443}
routes:
  - {name: r, direction: egress, listen: 'tcp://127.0.0.1:0', destination: 'tcp://mixed.example:443'}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Resolver = res
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = p.CheckNames(context.Background())
	var ce ConfigErrors
	if !errors.As(err, &ce) || len(ce) != 2 {
		t.Fatalf("CheckNames: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{`"parent.internal" resolves only to addresses the allow-list refuses for a name: 127.0.1.1 (loopback), ::1 (loopback)`,
		`"imds.internal" resolves only to addresses the allow-list refuses for a name: 169.254.169.254 (link-local (instance metadata))`} {
		if !strings.Contains(msg, want) {
			t.Errorf("CheckNames: %s\nwant %s", msg, want)
		}
	}
	for _, ok := range []string{"mixed.example", "listed.internal", "gone.example"} {
		if strings.Contains(msg, ok) {
			t.Errorf("%s refused: %s", ok, msg)
		}
	}
}
