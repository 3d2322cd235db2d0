// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// BenchmarkSign measures Sign of a 256-byte RAW message with the first
// algorithm of every signing spec. BenchmarkSignBare is its floor: the bare
// library calls on the same key (hash, then rsa.SignPSS, ecdsa.SignASN1 or
// the secp256k1 Sign and Serialize). The target is Sign/SignBare <= 1.1
// (docs/PERFORMANCE.md).
func BenchmarkSign(b *testing.B) {
	msg := make([]byte, 256)
	for _, spec := range signingSpecs {
		k := benchKey(b, spec)
		alg := spec.SigningAlgorithms()[0]
		b.Run(string(spec), func(b *testing.B) {
			for b.Loop() {
				if _, err := k.Sign(alg, RAW, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignBare is BenchmarkSign's floor.
func BenchmarkSignBare(b *testing.B) {
	msg := make([]byte, 256)
	for _, spec := range signingSpecs {
		k := benchKey(b, spec)
		h := hashOf(string(spec.SigningAlgorithms()[0]))
		b.Run(string(spec), func(b *testing.B) {
			for b.Loop() {
				if k.ed != nil { // pure Ed25519 hashes inside
					_ = ed25519.Sign(k.ed, msg)
					continue
				}
				d := h.New()
				d.Write(msg)
				digest := d.Sum(nil)
				var err error
				switch {
				case k.rsa != nil:
					_, err = rsa.SignPSS(rand.Reader, k.rsa, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
				case k.ec != nil:
					_, err = ecdsa.SignASN1(rand.Reader, k.ec, digest)
				default:
					_ = secpecdsa.Sign(k.k1, digest).Serialize()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify measures Verify beside the bare verification.
func BenchmarkVerify(b *testing.B) {
	msg := make([]byte, 256)
	for _, spec := range []Spec{RSA2048, ECCNISTP256, ECCSECGP256K1} {
		k := benchKey(b, spec)
		alg := spec.SigningAlgorithms()[0]
		h := hashOf(string(alg))
		sig, err := k.Sign(alg, RAW, msg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(spec)+"/keyspec", func(b *testing.B) {
			for b.Loop() {
				if err := k.Verify(alg, RAW, msg, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(spec)+"/bare", func(b *testing.B) {
			for b.Loop() {
				d := h.New()
				d.Write(msg)
				digest := d.Sum(nil)
				ok := true
				switch {
				case k.rsa != nil:
					ok = rsa.VerifyPSS(&k.rsa.PublicKey, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
				case k.ec != nil:
					ok = ecdsa.VerifyASN1(&k.ec.PublicKey, digest, sig)
				default:
					s, err := secpecdsa.ParseDERSignature(sig)
					ok = err == nil && s.Verify(digest, k.k1pub)
				}
				if !ok {
					b.Fatal("bad signature")
				}
			}
		})
	}
}

// BenchmarkGenerateMac measures GenerateMac of 256 bytes beside crypto/hmac.
func BenchmarkGenerateMac(b *testing.B) {
	msg := make([]byte, 256)
	k := benchKey(b, HMAC256)
	b.Run("keyspec", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.GenerateMac(HMAC_SHA_256, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			m := hmac.New(hashOf("SHA_256").New, k.hmac)
			m.Write(msg)
			m.Sum(nil)
		}
	})
}

// BenchmarkDeriveSharedSecret measures DeriveSharedSecret on P-256,
// including the peer key's parsing and validation.
func BenchmarkDeriveSharedSecret(b *testing.B) {
	k := benchKey(b, ECCNISTP256)
	peer, _ := testKey(b, ECCNISTP256).PublicKey()
	for b.Loop() {
		if _, err := k.DeriveSharedSecret(ECDH, peer); err != nil {
			b.Fatal(err)
		}
	}
}
