// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/enclavekit/enclavekit/attestedtls"
)

// FuzzParseExtensionValue: the id-pe-cmw parser never panics, and what it
// accepts re-encodes to the same bytes (one encoding per document).
func FuzzParseExtensionValue(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "testvectors", "valid_*.cbor"))
	for _, s := range seeds {
		doc, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		v, err := attestedtls.MarshalExtensionValue(doc)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v)
	}
	v, _ := attestedtls.MarshalExtensionValue([]byte{0x84})
	f.Add(v)
	f.Add([]byte{0x04, 0x00})
	f.Fuzz(func(t *testing.T, val []byte) {
		doc, err := attestedtls.ParseExtensionValue(val)
		if err != nil {
			return
		}
		again, err := attestedtls.MarshalExtensionValue(doc)
		if err != nil {
			t.Fatalf("accepted a document MarshalExtensionValue refuses: %v", err)
		}
		if !bytes.Equal(again, val) {
			t.Fatalf("two encodings accepted for one document:\n%x\n%x", val, again)
		}
	})
}

// FuzzParseNonce: the challenge header parser never panics and bounds its
// result.
func FuzzParseNonce(f *testing.F) {
	f.Add("00112233445566778899aabbccddeeff")
	f.Add(" 00 ")
	f.Fuzz(func(t *testing.T, h string) {
		n, err := attestedtls.ParseNonce(h)
		if err == nil && (len(n) < attestedtls.MinNonceSize || len(n) > attestedtls.MaxNonceSize) {
			t.Fatalf("accepted a %d-byte nonce", len(n))
		}
	})
}
