// SPDX-License-Identifier: Apache-2.0

package es384

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"math/big"
	"testing"
)

func benchInput(b *testing.B) (*ecdsa.PrivateKey, *PublicKey, []byte, *big.Int, *big.Int) {
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	d := sha512.Sum384([]byte("bench"))
	r, s, err := ecdsa.Sign(rand.Reader, priv, d[:])
	if err != nil {
		b.Fatal(err)
	}
	return priv, mustKey(b, &priv.PublicKey), d[:], r, s
}

// BenchmarkStdlib is the floor: crypto/ecdsa.Verify.
func BenchmarkStdlib(b *testing.B) {
	priv, _, d, r, s := benchInput(b)
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.Verify(&priv.PublicKey, d, r, s) {
			b.Fatal("no")
		}
	}
}

// BenchmarkVerify is this package's Verify on the same input.
func BenchmarkVerify(b *testing.B) {
	_, k, d, r, s := benchInput(b)
	sig := sig96(r, s)
	b.ReportAllocs()
	for b.Loop() {
		if !Verify(k, d, sig) {
			b.Fatal("no")
		}
	}
}
