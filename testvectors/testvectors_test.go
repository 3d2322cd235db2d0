// SPDX-License-Identifier: Apache-2.0

package testvectors_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/testvectors"
)

// TestVectors verifies every manifest entry and checks the verdict: a
// document for "valid", else nil and exactly the expected error code.
func TestVectors(t *testing.T) {
	m, roots, err := testvectors.Load(testvectors.FS)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	codes := map[string]bool{}
	for _, v := range m.Vectors {
		t.Run(strings.TrimSuffix(v.File, ".cbor"), func(t *testing.T) {
			if seen[v.File] {
				t.Fatalf("listed twice")
			}
			seen[v.File] = true
			data, err := fs.ReadFile(testvectors.FS, v.File)
			if err != nil {
				t.Fatal(err)
			}
			opts, err := v.Options(roots)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := attestation.Verify(data, opts)
			if v.Expect == testvectors.Valid {
				if err != nil || doc == nil {
					t.Fatalf("%s: got %v (code %q), want valid", v.Description, err, attestation.ErrorCode(err))
				}
				return
			}
			codes[v.Expect] = true
			if doc != nil {
				t.Errorf("a document was returned beside the error")
			}
			if got := attestation.ErrorCode(err); got != v.Expect {
				t.Fatalf("%s: got code %q (%v), want %q", v.Description, got, err, v.Expect)
			}
			if v.Expect == "pcr_mismatch" {
				var pm *attestation.PCRMismatchError
				if !errors.As(err, &pm) || len(pm.Mismatches) != len(v.PCRs)-countMatching(v) {
					t.Errorf("PCR mismatches: %v", err)
				}
			}
		})
	}
	files, err := fs.Glob(testvectors.FS, "*.cbor")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[f] {
			t.Errorf("%s is not in the manifest", f)
		}
	}
	for _, c := range []string{"malformed", "unsupported_algorithm", "bad_signature", "untrusted_chain",
		"certificate_expired", "certificate_not_yet_valid", "pcr_mismatch", "nonce_mismatch", "user_data_mismatch",
		"public_key_mismatch", "too_old", "from_future", "debug_mode", "not_enclave"} {
		if !codes[c] {
			t.Errorf("no vector for code %q", c)
		}
	}
}

// countMatching counts the expected PCRs of the PCR mismatch vectors that
// do match (PCR1 in invalid_pcr_mismatch).
func countMatching(v testvectors.Vector) int {
	if _, ok := v.PCRs["1"]; ok {
		return 1
	}
	return 0
}

// TestVectorsParse checks that every vector that is not malformed parses,
// and that the valid ones parse to what the verifier returns.
func TestVectorsParse(t *testing.T) {
	m, _, err := testvectors.Load(testvectors.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range m.Vectors {
		data, err := fs.ReadFile(testvectors.FS, v.File)
		if err != nil {
			t.Fatal(err)
		}
		_, err = attestation.Parse(data)
		switch v.Expect {
		case "malformed":
			if !errors.Is(err, attestation.ErrMalformed) {
				t.Errorf("%s: Parse: %v, want malformed", v.File, err)
			}
		case "unsupported_algorithm", "not_enclave":
			// Parse may reject these structurally (header, curve, shape).
		default:
			if err != nil {
				t.Errorf("%s: Parse: %v", v.File, err)
			}
		}
	}
}
