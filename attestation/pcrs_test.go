// SPDX-License-Identifier: Apache-2.0

package attestation_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
)

// TestVerifyPCREmptyExpectedValue: a non-nil, empty expected PCR value (as
// hex.DecodeString makes from an unset variable or a flag "--pcr 20=")
// expects a PCR that no document can carry (PCRs are 48 bytes): it must
// never pass. Only nil expects a PCR to be absent. An empty value
// compared equal to an absent PCR, so a document without that PCR passed,
// for the enclave and the NitroTPM verifier alike. It is now refused as
// invalid options, as every expected value of another length than
// PCRSize is (TestVerifyExpectedPCRLength).
func TestVerifyPCREmptyExpectedValue(t *testing.T) {
	f := attestationtest.New(t, t0)
	data := f.Document(t)
	if _, ok := attestationtest.PCRs()[20]; ok {
		t.Fatal("the fixture has PCR20; pick an absent index")
	}
	opts := f.Options()
	opts.PCRs = map[int][]byte{20: nil}
	if _, err := attestation.Verify(data, opts); err != nil {
		t.Fatalf("nil expects PCR20 absent: %v", err)
	}
	for _, idx := range []int{20, 0} { // absent, present
		opts.PCRs = map[int][]byte{idx: {}}
		doc, err := attestation.Verify(data, opts)
		wantCode(t, doc, err, "invalid_options", attestation.ErrInvalidOptions)
		if !strings.Contains(err.Error(), "0 bytes, want 48") {
			t.Errorf("PCR%d empty: message %q does not say the expected value is empty", idx, err)
		}
	}

	tpm := f.NitroTPMDocument(t)
	if _, ok := attestationtest.NitroTPMPCRs()[30]; ok {
		t.Fatal("the NitroTPM fixture has PCR30; pick an absent index")
	}
	opts.PCRs = map[int][]byte{30: {}}
	if doc, err := attestation.VerifyNitroTPM(tpm, opts); doc != nil || !errors.Is(err, attestation.ErrInvalidOptions) {
		t.Fatalf("NitroTPM PCR30 empty: %v, %v", doc, err)
	}
}
