// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// TestVerifyReportKind checks that a report says which kind of document
// it verified, in its own "kind" and in the policy's: a NitroTPM
// document's PCRs are the instance's (PCR8-15, 16 and 23 extendable by its
// OS), so a tool that retries a not_enclave rejection with --nitrotpm must
// not take a verified NitroTPM report for an enclave's (found by review).
func TestVerifyReportKind(t *testing.T) {
	real := awsvectors.Path(t, "attestation")
	for _, tc := range []struct {
		name, kind, header string
		args               []string
	}{
		{"enclave", "nitro_enclave", "^Verified: Nitro Enclaves attestation document\n",
			[]string{"--at", "document", filepath.Join(real, "real", "2024-12-13_oyster_aws.cbor")}},
		{"nitrotpm", "nitrotpm", "^Verified: NitroTPM attestation document \\(EC2 instance\\)\n",
			[]string{"--nitrotpm", "--at", "document", filepath.Join(real, "nitrotpm", "2026-03-25_nitrotpm_a.cbor")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := run(t, "", append([]string{"--json"}, tc.args...)...)
			if code != ExitVerified {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var rep struct {
				Verified     bool   `json:"verified"`
				Kind         string `json:"kind"`
				Verification struct {
					Kind string `json:"kind"`
				} `json:"verification"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			if !rep.Verified || rep.Kind != tc.kind || rep.Verification.Kind != tc.kind {
				t.Errorf("verified %v, kind %q, verification.kind %q; want kind %q in both\n%s",
					rep.Verified, rep.Kind, rep.Verification.Kind, tc.kind, out)
			}

			code, out, stderr = run(t, "", tc.args...)
			if code != ExitVerified {
				t.Fatalf("text: exit %d: %s", code, stderr)
			}
			if !regexp.MustCompile(tc.header).MatchString(out) {
				t.Errorf("text report does not start with %q:\n%s", tc.header, out)
			}
			if want := `(?m)^Kind +` + tc.kind + `\b`; !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("text report has no line %q:\n%s", want, out)
			}
		})
	}
	// A rejection names the kind it verified for: the mode, whatever the
	// document turned out to be.
	code, out, _ := run(t, "", "--json", "--at", "document", filepath.Join(real, "nitrotpm", "2026-03-25_nitrotpm_a.cbor"))
	var rep struct {
		Kind         string `json:"kind"`
		Verification struct {
			Kind string `json:"kind"`
		} `json:"verification"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if code != ExitRejected || rep.Kind != "nitro_enclave" || rep.Verification.Kind != "nitro_enclave" {
		t.Errorf("exit %d, kind %q, verification.kind %q; want 1 and %q\n%s", code, rep.Kind, rep.Verification.Kind, "nitro_enclave", out)
	}
}
