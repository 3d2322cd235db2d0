// SPDX-License-Identifier: Apache-2.0

package attestation_test

import (
	"crypto/rand"
	"sync"
	"testing"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
)

// BenchmarkVerifierSemiCold is Verifier.Verify on documents from leaves it
// has not seen, under a CA bundle it has verified: the common case of a
// key service serving a fleet, where each enclave has its own leaf under
// shared zonal and instance CAs. Eight leaves take turns with a chain
// cache of one entry, so every verification misses the chain cache and
// hits the CA cache: two ECDSA verifications (the leaf's certificate and
// the COSE signature), both on the fast path. The floor is
// BenchmarkECDSAP384Verify in the same binary.
func BenchmarkVerifierSemiCold(b *testing.B) {
	f := attestationtest.New(b, t0)
	var docs [][]byte
	for range 8 {
		if err := f.Chain.RotateLeaf(rand.Reader, t0); err != nil {
			b.Fatal(err)
		}
		docs = append(docs, f.Document(b))
	}
	v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: f.Roots(), CacheSize: 1})
	if err != nil {
		b.Fatal(err)
	}
	opts := attestation.Options{CurrentTime: t0}
	for _, d := range docs {
		if _, err := v.Verify(d, opts); err != nil {
			b.Fatal(err)
		}
	}
	full0, fast0 := attestation.VerifierStats(v)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(docs[i%len(docs)], opts); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	full, fast := attestation.VerifierStats(v)
	if full != full0 || fast-fast0 != int64(i) {
		b.Fatalf("not all semi-cold: %d full, %d fast chain checks for %d documents", full-full0, fast-fast0, i)
	}
}

// BenchmarkVerifierColdBurst64 is 64 documents with the same chain,
// verified concurrently by a new Verifier (nothing cached) per operation:
// one chain verification (four ECDSA verifications) and 64 COSE
// signatures, instead of 64 chain verifications. chains/op reports the
// chain verifications made.
func BenchmarkVerifierColdBurst64(b *testing.B) {
	f := attestationtest.New(b, t0)
	docs := make([][]byte, 64)
	for i := range docs {
		docs[i] = f.Document(b, func(d *attestation.Document) { d.Nonce = []byte{byte(i)} })
	}
	opts := attestation.Options{CurrentTime: t0}
	var chains int64
	b.ReportAllocs()
	for b.Loop() {
		v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: f.Roots()})
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, d := range docs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := v.Verify(d, opts); err != nil {
					b.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		full, _ := attestation.VerifierStats(v)
		chains += full
	}
	b.ReportMetric(float64(chains)/float64(b.N), "chains/op")
}
