// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"strconv"
	"testing"
)

// The CMS layer must cost next to nothing: each Seal and Open benchmark has
// a floor beside it, the bare RSA-OAEP operation on the same key with the
// same 32-byte message, measured in the same run (docs/PERFORMANCE.md).

var benchSizes = []int{2048, 4096}

func BenchmarkSeal(b *testing.B) {
	for _, bits := range benchSizes {
		b.Run(strconv.Itoa(bits), func(b *testing.B) {
			spki, _ := PublicKeyDER(&testKey(b, bits).PublicKey)
			pt := make([]byte, 32)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Seal(spki, pt, rand.Reader); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRSAOAEPEncrypt(b *testing.B) {
	for _, bits := range benchSizes {
		b.Run(strconv.Itoa(bits), func(b *testing.B) {
			pub := &testKey(b, bits).PublicKey
			msg := make([]byte, 32)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, bits := range benchSizes {
		b.Run(strconv.Itoa(bits), func(b *testing.B) {
			key := testKey(b, bits)
			spki, _ := PublicKeyDER(&key.PublicKey)
			blob, err := Seal(spki, make([]byte, 32), rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Open(key, blob); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRSAOAEPDecrypt(b *testing.B) {
	for _, bits := range benchSizes {
		b.Run(strconv.Itoa(bits), func(b *testing.B) {
			key := testKey(b, bits)
			ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, make([]byte, 32), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rsa.DecryptOAEP(sha256.New(), nil, key, ct, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
