// SPDX-License-Identifier: Apache-2.0

package keywrap

import (
	"crypto/aes"
	"testing"
)

// BenchmarkUnwrap measures Unwrap of a wrapped 256-bit key (40 bytes: the
// symmetric import of RSA_AES_KEY_WRAP) under a 256-bit KEK.
// BenchmarkUnwrapFloor is its floor: the AES key schedule and the 24 block
// decryptions RFC 3394 needs for it (docs/PERFORMANCE.md).
func BenchmarkUnwrap(b *testing.B) {
	kek := make([]byte, 32)
	c, err := Wrap(kek, make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Unwrap(kek, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnwrapFloor is BenchmarkUnwrap's floor.
func BenchmarkUnwrapFloor(b *testing.B) {
	kek := make([]byte, 32)
	var blk [16]byte
	for b.Loop() {
		c, err := aes.NewCipher(kek)
		if err != nil {
			b.Fatal(err)
		}
		for range 6 * 4 {
			c.Decrypt(blk[:], blk[:])
		}
	}
}
