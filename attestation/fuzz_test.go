// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// addSeeds adds every shared vector (real, NitroTPM, negative) and every
// document the project generates (../testvectors) to the corpus.
func addSeeds(f *testing.F) {
	for _, data := range seedVectors(f) {
		f.Add(data)
	}
}

// seedVectors reads every shared vector (real, NitroTPM, negative) and
// every document the project generates (../testvectors).
func seedVectors(tb testing.TB) [][]byte {
	tb.Helper()
	var files []string
	for _, sub := range []string{"real", "nitrotpm", "negative"} {
		m, err := filepath.Glob(filepath.Join(awsvectors.Path(tb, "attestation", sub), "*.cbor"))
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, m...)
	}
	own, _ := filepath.Glob(filepath.Join("..", "testvectors", "*.cbor"))
	files = append(files, own...)
	if len(files) < 27 {
		tb.Fatalf("only %d seed vectors", len(files))
	}
	var seeds [][]byte
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			if doc != nil {
				t.Fatal("document beside an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedAlgorithm) && !errors.Is(err, ErrNotEnclave) {
				t.Fatalf("unexpected error class %v (code %q)", err, ErrorCode(err))
			}
			return
		}
		if !bytes.Equal(doc.Raw, data) {
			t.Fatal("Raw differs from the input")
		}
		if doc.Digest != "SHA384" || doc.ModuleID == "" || len(doc.ModuleID) > MaxModuleIDLen ||
			doc.Certificate == nil || len(doc.CABundle) == 0 || len(doc.CABundle) > MaxCABundle ||
			len(doc.PCRs) == 0 || len(doc.PCRs) > MaxPCRs || doc.Timestamp.IsZero() {
			t.Fatalf("accepted document breaks a field rule: %+v", doc)
		}
		for i, v := range doc.PCRs {
			if i < 0 || i >= MaxPCRs || len(v) != 48 { // digest SHA384
				t.Fatalf("accepted PCR%d of %d bytes", i, len(v))
			}
		}
		for _, v := range [][]byte{doc.PublicKey, doc.UserData, doc.Nonce} {
			if len(v) > MaxUserFieldLen {
				t.Fatalf("accepted a %d-byte field", len(v))
			}
		}
		// Deterministic: the accepted bytes parse again to the same fields.
		again, err := Parse(doc.Raw)
		if err != nil || again.ModuleID != doc.ModuleID || !again.Timestamp.Equal(doc.Timestamp) ||
			len(again.PCRs) != len(doc.PCRs) || !bytes.Equal(again.Nonce, doc.Nonce) ||
			!again.Certificate.Equal(doc.Certificate) {
			t.Fatalf("re-parse differs: %v", err)
		}
		// A trailing byte is always rejected.
		if _, err := Parse(append(bytes.Clone(data), 0)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("trailing byte accepted: %v", err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	addSeeds(f)
	// One Verifier for the whole run: its cache must never change a verdict.
	v := newVerifier(f, &VerifierConfig{CacheSize: 4})
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := Options{AtDocumentTime: true, CurrentTime: now, AllowDebugUnsafe: true}
		doc, err := Verify(data, opts)
		if (doc == nil) == (err == nil) {
			t.Fatalf("doc %v beside err %v", doc != nil, err)
		}
		code := ErrorCode(err)
		if err != nil && code == "" {
			t.Fatalf("error without a code: %v", err)
		}
		vdoc, verr := v.Verify(data, opts)
		if ErrorCode(verr) != code || (vdoc == nil) != (doc == nil) {
			t.Fatalf("Verifier says %v, Verify says %v", verr, err)
		}
		if doc == nil {
			return
		}
		if !bytes.Equal(doc.Raw, data) {
			t.Fatal("Raw differs from the input")
		}
		p, err := Parse(data)
		if err != nil || p.ModuleID != doc.ModuleID || !p.Timestamp.Equal(doc.Timestamp) {
			t.Fatalf("verified document does not parse the same: %v", err)
		}
	})
}

// FuzzVerifyNitroTPM: the NitroTPM entry points never return a document
// beside an error, agree with each other and with the cached Verifier, and
// no input is both an enclave document and a NitroTPM document.
func FuzzVerifyNitroTPM(f *testing.F) {
	addSeeds(f)
	v := newVerifier(f, &VerifierConfig{CacheSize: 4})
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := Options{AtDocumentTime: true, CurrentTime: now}
		doc, err := VerifyNitroTPM(data, opts)
		if (doc == nil) == (err == nil) {
			t.Fatalf("doc %v beside err %v", doc != nil, err)
		}
		code := ErrorCode(err)
		if err != nil && code == "" {
			t.Fatalf("error without a code: %v", err)
		}
		if code == "not_enclave" || code == "debug_mode" {
			t.Fatalf("enclave-only code %q from the NitroTPM verifier", code)
		}
		vdoc, verr := v.VerifyNitroTPM(data, opts)
		if ErrorCode(verr) != code || (vdoc == nil) != (doc == nil) {
			t.Fatalf("Verifier says %v, VerifyNitroTPM says %v", verr, err)
		}
		p, perr := ParseNitroTPM(data)
		e, eerr := Parse(data)
		if perr == nil && eerr == nil {
			t.Fatal("parses both as an enclave and as a NitroTPM document")
		}
		if doc == nil {
			return
		}
		opts.AllowDebugUnsafe = true
		if d, err := Verify(data, opts); d != nil || !errors.Is(err, ErrNotEnclave) {
			t.Fatalf("a verified NitroTPM document: Verify says %v", err)
		}
		if perr != nil || e != nil || !bytes.Equal(doc.Raw, data) || p.ModuleID != doc.ModuleID || len(p.PCRs) != len(doc.PCRs) {
			t.Fatalf("verified document does not parse the same: %v", perr)
		}
	})
}
