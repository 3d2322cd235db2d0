// SPDX-License-Identifier: Apache-2.0

package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"testing"
)

// BenchmarkAttestation is one emulated document (1024-byte public key),
// to compare with BenchmarkECDSAP384SignFloor: signing is the floor.
func BenchmarkAttestation(b *testing.B) {
	e, _ := newTest(b, nil)
	pk := make([]byte, 294) // an RSA-2048 SPKI
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Attestation(nil, nil, pk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkECDSAP384SignFloor is the floor: one P-384 signature.
func BenchmarkECDSAP384SignFloor(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	h := sha512.Sum384([]byte("x"))
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, k, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtendPCR is one extension of PCR16 with 48 bytes (in memory).
func BenchmarkExtendPCR(b *testing.B) {
	e, _ := newTest(b, nil)
	d := make([]byte, 48)
	for b.Loop() {
		if _, err := e.ExtendPCR(16, d); err != nil {
			b.Fatal(err)
		}
	}
}
