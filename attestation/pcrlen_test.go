// SPDX-License-Identifier: Apache-2.0

package attestation_test

import (
	"errors"
	"testing"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
)

// TestVerifyPCRLengthFollowsDigest checks that a PCR value must be as long
// as the document's digest says (48 bytes for SHA384, the only digest a
// document may carry): the spec allows 32, 48 and 64 bytes only as a
// bound, and a PCR of 32 or 64 bytes in a SHA384 document verified (found
// by review). The rejection is malformed, names the PCRs' key and the
// index, for enclave and NitroTPM documents alike, in Parse too.
func TestVerifyPCRLengthFollowsDigest(t *testing.T) {
	f := attestationtest.New(t, t0)
	for _, n := range []int{32, 64} {
		enc := f.Document(t, func(d *attestation.Document) { d.PCRs[3] = make([]byte, n) })
		tpm := f.NitroTPMDocument(t, func(d *attestation.NitroTPMDocument) { d.PCRs[3] = make([]byte, n) })
		want := func(kind, field string, err error) {
			t.Helper()
			var me *attestation.MalformedError
			if !errors.As(err, &me) || attestation.ErrorCode(err) != "malformed" || !errors.Is(err, attestation.ErrMalformed) {
				t.Fatalf("%s, PCR3 of %d bytes: err %v, want malformed", kind, n, err)
			}
			wantReason := "PCR3 is " + map[int]string{32: "32", 64: "64"}[n] + " bytes, want 48 (digest SHA384)"
			if me.Field != field || me.Reason != wantReason {
				t.Errorf("%s, PCR3 of %d bytes: field %q reason %q, want %q %q", kind, n, me.Field, me.Reason, field, wantReason)
			}
		}
		d, err := attestation.Verify(enc, f.Options())
		if d != nil {
			t.Errorf("Verify returned a document")
		}
		want("Verify", "pcrs", err)
		_, err = attestation.Parse(enc)
		want("Parse", "pcrs", err)
		td, err := attestation.VerifyNitroTPM(tpm, f.Options())
		if td != nil {
			t.Errorf("VerifyNitroTPM returned a document")
		}
		want("VerifyNitroTPM", "nitrotpm_pcrs", err)
		_, err = attestation.ParseNitroTPM(tpm)
		want("ParseNitroTPM", "nitrotpm_pcrs", err)
		v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: f.Roots()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(enc, attestation.Options{CurrentTime: t0})
		want("Verifier.Verify", "pcrs", err)
	}
	// 48 bytes verify.
	if _, err := attestation.Verify(f.Document(t), f.Options()); err != nil {
		t.Fatal(err)
	}
	if _, err := attestation.VerifyNitroTPM(f.NitroTPMDocument(t), f.Options()); err != nil {
		t.Fatal(err)
	}
}
