// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"crypto/ecdsa"
	"crypto/sha512"
	"math/big"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// benchDoc is the real document the benchmarks use: a 2026 document with an
// indefinite-length payload map, a 4-certificate bundle and a high-S
// signature.
const benchDoc = "2026-01-03_tempo_base_indefinite"

func benchData(b *testing.B) []byte {
	return awsvectors.ReadFile(b, "attestation", "real", benchDoc+".cbor")
}

// BenchmarkECDSAP384Verify is the floor: one standard-library ECDSA P-384
// verification (the document's own COSE signature, digest precomputed).
func BenchmarkECDSAP384Verify(b *testing.B) {
	rd, err := parseRaw(benchData(b), kindEnclave)
	if err != nil {
		b.Fatal(err)
	}
	leaf, _, err := parseCertificates(rd)
	if err != nil {
		b.Fatal(err)
	}
	pub := leaf.PublicKey.(*ecdsa.PublicKey)
	h := sha512.New384()
	h.Write(sigStructurePrefix)
	h.Write(bstrHead(nil, len(rd.payload)))
	h.Write(rd.payload)
	digest := h.Sum(nil)
	r := new(big.Int).SetBytes(rd.signature[:48])
	s := new(big.Int).SetBytes(rd.signature[48:])
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !ecdsa.Verify(pub, digest, r, s) {
				b.Fatal("signature does not verify")
			}
		}
	})
}

// BenchmarkVerifyCold is the package-level Verify at the document's time:
// five ECDSA verifications (four chain links and the COSE signature).
func BenchmarkVerifyCold(b *testing.B) {
	data := benchData(b)
	opts := Options{AtDocumentTime: true, CurrentTime: time.Date(2026, 1, 3, 21, 0, 0, 0, time.UTC)}
	if _, err := Verify(data, opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Verify(data, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifierWarm is Verifier.Verify on a document whose exact chain
// was verified before: one ECDSA verification (the COSE signature).
func BenchmarkVerifierWarm(b *testing.B) {
	data := benchData(b)
	opts := Options{AtDocumentTime: true, CurrentTime: time.Date(2026, 1, 3, 21, 0, 0, 0, time.UTC)}
	v := newVerifier(b, nil)
	if _, err := v.Verify(data, opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(data, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParse is the strict decoding with certificate parsing.
func BenchmarkParse(b *testing.B) {
	data := benchData(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
