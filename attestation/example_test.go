// SPDX-License-Identifier: Apache-2.0

package attestation_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// readReal reads a real AWS document kept in the repository for the
// examples. A missing file makes the example print the error, so its output
// no longer matches and it fails (it never panics).
func readReal(name string) []byte {
	p, err := awsvectors.Find("attestation", "real", name)
	if err != nil {
		fmt.Println(err)
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		fmt.Println(err)
	}
	return data
}

// Verify an archived AWS document at its own timestamp, pinning the image
// (PCR0) and bounding its age against the current time.
func ExampleVerify() {
	data := readReal("2026-01-03_tempo_base_indefinite.cbor")
	pcr0, _ := hex.DecodeString("4b8d4cf2a99e05ce1b5bddaf9d21cb446eb0e606c5bebd1ebf02b473a22165f7b68b0bb0d1ac5a90f0311e493522cfab")

	doc, err := attestation.Verify(data, attestation.Options{
		CurrentTime:    time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC), // usually left zero: now
		AtDocumentTime: true,                                        // the leaf expired long ago
		MaxAge:         24 * time.Hour,
		PCRs:           map[int][]byte{0: pcr0},
	})
	if err != nil {
		fmt.Println("rejected:", attestation.ErrorCode(err))
		return
	}
	fmt.Println(doc.ModuleID, doc.Timestamp.Format(time.RFC3339))

	// Checked at the current time instead, the same document has expired.
	_, err = attestation.Verify(data, attestation.Options{CurrentTime: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)})
	fmt.Println(attestation.ErrorCode(err), errors.Is(err, attestation.ErrCertificateExpired))

	// Output:
	// i-0368fa67e156d6d23-enc019b8596b1a9dad6 2026-01-03T20:41:07Z
	// certificate_expired true
}

// A service keeps one Verifier: after the first document of an enclave,
// the certificate chain is cached and each document costs one signature
// verification.
func ExampleVerifier() {
	v, err := attestation.NewVerifier(nil) // the AWS root, default cache size
	if err != nil {
		fmt.Println(err)
		return
	}
	data := readReal("2025-04-29_oyster_aws_pcr16.cbor")
	for range 2 {
		doc, err := v.Verify(data, attestation.Options{AtDocumentTime: true})
		if err != nil {
			fmt.Println("rejected:", err)
			return
		}
		fmt.Println(len(doc.PCRs), "PCRs")
	}
	// A PCR policy reports every mismatched index.
	_, err = v.Verify(data, attestation.Options{
		AtDocumentTime: true,
		PCRs:           map[int][]byte{3: make([]byte, 48), 16: nil},
	})
	var pe *attestation.PCRMismatchError
	if errors.As(err, &pe) {
		for _, m := range pe.Mismatches {
			fmt.Printf("PCR%d: got %d bytes\n", m.Index, len(m.Got))
		}
	}
	// Output:
	// 17 PCRs
	// 17 PCRs
	// PCR16: got 48 bytes
}

// Verify an EC2 instance's NitroTPM document (here a real one, at its own
// timestamp) with the NitroTPM entry point, pinning NitroTPM PCR4; the
// enclave entry point refuses it, and the reverse holds for enclave
// documents.
func ExampleVerifyNitroTPM() {
	p, err := awsvectors.Find("attestation", "nitrotpm", "2026-03-25_nitrotpm_a.cbor")
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := os.ReadFile(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	pcr4, _ := hex.DecodeString("3382a70f46b33cde1f487166eb3e148d5ad1253879ccf9788e1a0349313b0a5659b5d214d50d72f6021ca9f8dbe28776")
	doc, err := attestation.VerifyNitroTPM(data, attestation.Options{
		CurrentTime:    time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC),
		AtDocumentTime: true,
		MaxAge:         24 * time.Hour,
		PCRs:           map[int][]byte{4: pcr4},
	})
	if err != nil {
		fmt.Println("rejected:", attestation.ErrorCode(err))
		return
	}
	fmt.Println(doc.ModuleID, len(doc.PCRs), "PCRs")

	_, err = attestation.Verify(data, attestation.Options{AtDocumentTime: true})
	fmt.Println(attestation.ErrorCode(err))
	_, err = attestation.VerifyNitroTPM(readReal("2026-01-03_tempo_base_indefinite.cbor"), attestation.Options{AtDocumentTime: true})
	fmt.Println(attestation.ErrorCode(err))

	// Output:
	// i-016a52105bfeb18a2-tpm0000000000000000 24 PCRs
	// not_enclave
	// not_nitrotpm
}
