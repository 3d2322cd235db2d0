// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// kindSeeds are real AWS documents of both kinds, and emulated ones.
func kindSeeds(tb testing.TB) map[string][]byte {
	tb.Helper()
	seeds := map[string][]byte{}
	for _, dir := range []string{"real", "nitrotpm"} {
		files, err := filepath.Glob(filepath.Join(awsvectors.Path(tb, "attestation", dir), "*.cbor"))
		if err != nil || len(files) == 0 {
			tb.Fatalf("no vectors in %s: %v", dir, err)
		}
		for _, f := range files {
			seeds[dir+"/"+filepath.Base(f)] = awsvectors.ReadFile(tb, "attestation", dir, filepath.Base(f))
		}
	}
	fix := attestationtest.New(tb, time.Now())
	seeds["emulated enclave"] = fix.Document(tb)
	seeds["emulated nitrotpm"] = fix.NitroTPMDocument(tb)
	return seeds
}

// TestRecipientKind: each document goes to the verifier of its own kind,
// as the strict parsers classify it.
func TestRecipientKind(t *testing.T) {
	for name, doc := range kindSeeds(t) {
		_, encErr := attestation.Parse(doc)
		_, tpmErr := attestation.ParseNitroTPM(doc)
		want := kindEnclave
		if tpmErr == nil {
			want = kindNitroTPM
		}
		if encErr == nil == (tpmErr == nil) {
			t.Fatalf("%s: Parse %v, ParseNitroTPM %v: want exactly one to accept", name, encErr, tpmErr)
		}
		if got := recipientKind(doc); got != want {
			t.Errorf("%s: recipientKind %d, want %d", name, got, want)
		}
		if tagged := append([]byte{0xd2}, doc...); doc[0] != 0xd2 && recipientKind(tagged) != want {
			t.Errorf("%s: the tagged form goes elsewhere", name)
		}
	}
	for _, in := range [][]byte{nil, {}, {0xd2}, {0x84}, []byte("not a document"), make([]byte, attestation.MaxDocumentSize+1)} {
		if recipientKind(in) != kindEnclave {
			t.Errorf("recipientKind(%x) is not the enclave verifier", in)
		}
	}
}

// FuzzRecipientKind: the routing never panics, and never sends a document
// that one strict parser accepts to the other kind's verifier (which would
// refuse what the right one accepts; it could never accept it: each
// refuses the other's PCRs key).
func FuzzRecipientKind(f *testing.F) {
	for _, doc := range kindSeeds(f) {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		k := recipientKind(doc)
		if _, err := attestation.Parse(doc); err == nil && k != kindEnclave {
			t.Fatal("an enclave document routed to the NitroTPM verifier")
		}
		if _, err := attestation.ParseNitroTPM(doc); err == nil && k != kindNitroTPM {
			t.Fatal("a NitroTPM document routed to the enclave verifier")
		}
	})
}

// BenchmarkRecipientKind is the routing every Recipient request pays before
// verification (compare BenchmarkFloorGenerateDataKeyRecipient).
func BenchmarkRecipientKind(b *testing.B) {
	doc := attestationtest.New(b, time.Now()).Document(b)
	for b.Loop() {
		if recipientKind(doc) != kindEnclave {
			b.Fatal("wrong kind")
		}
	}
}
