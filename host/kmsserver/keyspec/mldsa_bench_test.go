// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"testing"

	"filippo.io/mldsa"
)

// BenchmarkMLDSA measures Sign and Verify of a 256-byte RAW message with
// ML_DSA_SHAKE_256 beside the bare filippo.io/mldsa calls on the same key
// (docs/PERFORMANCE.md). Signing is hedged, so its cost varies with the
// rejection loop's iterations; Verify's does not.
func BenchmarkMLDSA(b *testing.B) {
	msg := make([]byte, 256)
	for _, spec := range []Spec{MLDSA44, MLDSA65, MLDSA87} {
		sk, err := mldsa.NewPrivateKey(mldsaParams[spec], make([]byte, 32)) // fixed: same work in every run
		if err != nil {
			b.Fatal(err)
		}
		k, err := fromMLDSA(spec, specs[spec], sk)
		if err != nil {
			b.Fatal(err)
		}
		sig, err := sk.SignDeterministic(msg, nil) // deterministic: the same set-up work in every run
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(spec)+"/Sign/keyspec", func(b *testing.B) {
			for b.Loop() {
				if _, err := k.Sign(ML_DSA_SHAKE_256, RAW, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(spec)+"/Sign/bare", func(b *testing.B) {
			for b.Loop() {
				if _, err := k.mldsa.Sign(nil, msg, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(spec)+"/Verify/keyspec", func(b *testing.B) {
			for b.Loop() {
				if err := k.Verify(ML_DSA_SHAKE_256, RAW, msg, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(spec)+"/Verify/bare", func(b *testing.B) {
			for b.Loop() {
				if err := mldsa.Verify(k.mldsaPub, msg, sig, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
