// SPDX-License-Identifier: Apache-2.0

package transport

import (
	"errors"
	"testing"
)

// FuzzParseAddr: no panic; every error wraps ErrBadAddress; every accepted
// address round-trips through String.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"vsock://3:8000", "vsock://any:1", "tcp://127.0.0.1:80", "tcp://[::1]:443",
		"tcp://kms.eu-west-1.amazonaws.com:443", "unix:///run/x.sock", "unix://rel", "tcp://:1", "vsock://03:1", "127.0.0.1:7700", "[::1]:1", ":1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddr(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("ParseAddr(%q): %v does not wrap ErrBadAddress", s, err)
			}
			return
		}
		b, err := ParseAddr(a.String())
		if err != nil || b != a {
			t.Fatalf("round trip of %q: %q → %#v, %v", s, a.String(), b, err)
		}
	})
}
