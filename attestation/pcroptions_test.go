// SPDX-License-Identifier: Apache-2.0

package attestation_test

import (
	"errors"
	"testing"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
)

// TestVerifyExpectedPCRLength: every document's PCR is PCRSize (48) bytes,
// so an expected value of another length can never match; it is refused
// before anything else as invalid options naming the lowest such index,
// by Verify, VerifyNitroTPM and a Verifier alike, whatever the document.
// Found by review: a 32-byte (SHA-256) expected PCR0 was a silent
// pcr_mismatch on every document, a caller's mistake told as the
// enclave's.
func TestVerifyExpectedPCRLength(t *testing.T) {
	if attestation.PCRSize != 48 {
		t.Fatalf("PCRSize = %d, want 48", attestation.PCRSize)
	}
	f := attestationtest.New(t, t0)
	enc, tpm := f.Document(t), f.NitroTPMDocument(t)
	v := newVerifier(t, &attestation.VerifierConfig{Roots: f.Roots()})
	for _, tc := range []struct {
		pcrs   map[int][]byte
		reason string
	}{
		{map[int][]byte{0: make([]byte, 32)}, "PCRs[0] is 32 bytes, want 48 (a SHA-384 digest; nil expects the PCR absent)"},
		{map[int][]byte{3: make([]byte, 64)}, "PCRs[3] is 64 bytes, want 48 (a SHA-384 digest; nil expects the PCR absent)"},
		{map[int][]byte{20: {}}, "PCRs[20] is 0 bytes, want 48 (a SHA-384 digest; nil expects the PCR absent)"},
		{map[int][]byte{0: make([]byte, 48), 9: {1}, 4: {1, 2}, 7: nil}, "PCRs[4] is 2 bytes, want 48 (a SHA-384 digest; nil expects the PCR absent)"},
	} {
		opts := f.Options()
		opts.PCRs = tc.pcrs
		vopts := opts
		vopts.Roots = nil
		for name, run := range map[string]func() (any, error){
			"Verify":           func() (any, error) { d, err := attestation.Verify(enc, opts); return d, err },
			"VerifyNitroTPM":   func() (any, error) { d, err := attestation.VerifyNitroTPM(tpm, opts); return d, err },
			"Verifier.Verify":  func() (any, error) { d, err := v.Verify(enc, vopts); return d, err },
			"Verify (garbage)": func() (any, error) { d, err := attestation.Verify([]byte{0xff}, opts); return d, err },
		} {
			d, err := run()
			var oe *attestation.OptionsError
			if !errors.As(err, &oe) || !errors.Is(err, attestation.ErrInvalidOptions) || attestation.ErrorCode(err) != "invalid_options" {
				t.Errorf("%s %v: err %v, want invalid options", name, tc.pcrs, err)
				continue
			}
			if oe.Reason != tc.reason {
				t.Errorf("%s: reason %q, want %q", name, oe.Reason, tc.reason)
			}
			switch d := d.(type) {
			case *attestation.Document:
				if d != nil {
					t.Errorf("%s returned a document", name)
				}
			case *attestation.NitroTPMDocument:
				if d != nil {
					t.Errorf("%s returned a document", name)
				}
			}
		}
	}
}
