// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"testing"
)

// TestParsePublicKeyMatchesSeal: ParsePublicKey refuses exactly the keys
// Seal refuses, so a service can validate a Recipient key up front.
func TestParsePublicKeyMatchesSeal(t *testing.T) {
	priv := testKey(t, 2048)
	good, err := PublicKeyDER(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: priv.N, E: 3})
	if err != nil {
		t.Fatal(err)
	}
	// crypto/x509 reads exponents up to 2^63-1; crypto/rsa encrypts only
	// to exponents up to 2^31-1.
	huge, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: priv.N, E: 1<<32 + 1})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		der []byte
		ok  bool
	}{
		"rsa-2048": {good, true},
		"e=3":      {weak, false},
		"e=2^32+1": {huge, false},
		"garbage":  {[]byte{0x30, 0x00}, false},
	} {
		pub, perr := ParsePublicKey(tc.der)
		_, serr := Seal(tc.der, []byte("x"), nil)
		if tc.ok != (perr == nil) || (perr == nil) != (serr == nil) {
			t.Errorf("%s: ParsePublicKey %v, Seal %v, want ok=%v", name, perr, serr, tc.ok)
		}
		if !tc.ok && (!errors.Is(perr, ErrUnsupportedKey) || !errors.Is(serr, ErrUnsupportedKey)) {
			t.Errorf("%s: ParsePublicKey %v, Seal %v: want both to match ErrUnsupportedKey", name, perr, serr)
		}
		if !tc.ok && pub != nil {
			t.Errorf("%s: a key returned beside %v", name, perr)
		}
		if tc.ok && (pub == nil || pub.N.Cmp(priv.N) != 0) {
			t.Errorf("%s: wrong key", name)
		}
	}
}
