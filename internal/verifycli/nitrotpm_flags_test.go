// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// TestVerifyNitroTPMRefusesEnclaveMeasurements checks that --nitrotpm
// refuses an enclave image's measurements through --pcrs (nitro-cli
// describe-eif's {"Measurements":{...}}, or nitro-verify measure's) as it
// refuses --eif: a usage error naming the flags, with a hint, exit 2 and
// nothing on stdout even with --json. Before, the describe-eif file was
// taken as NitroTPM PCRs (found by review). A flat {"PCRn":...} file
// still pins NitroTPM PCRs.
func TestVerifyNitroTPMRefusesEnclaveMeasurements(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(awsvectors.Path(t, "attestation", "nitrotpm"), "2026-03-25_nitrotpm_a.cbor")
	pcr4 := "3382a70f46b33cde1f487166eb3e148d5ad1253879ccf9788e1a0349313b0a5659b5d214d50d72f6021ca9f8dbe28776"
	describe := filepath.Join(dir, "describe-eif.json")
	if err := os.WriteFile(describe, []byte(`{"EifVersion":4,"Measurements":{"HashAlgorithm":"Sha384 { ... }","PCR4":"`+pcr4+`"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	flat := filepath.Join(dir, "tpm-pcrs.json")
	if err := os.WriteFile(flat, []byte(`{"PCR4":"`+pcr4+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	const hint = "nitro-verify: hint: --pcrs and --eif pin an enclave image's PCRs; with --nitrotpm give the instance's NitroTPM PCRs with --pcr N=HEX or a --pcrs file {\"PCR4\":\"HEX\",...}\n"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"describe-eif", []string{"--nitrotpm", "--at", "document", "--pcrs", describe, doc},
			"nitro-verify: error: --nitrotpm: --pcrs " + describe + ": an enclave image's measurements (describe-eif's \"Measurements\"), not an instance's NitroTPM PCRs\n" + hint},
		{"describe-eif --json", []string{"--json", "--nitrotpm", "--at", "document", "--pcrs", describe, doc},
			"nitro-verify: error: --nitrotpm: --pcrs " + describe + ": an enclave image's measurements (describe-eif's \"Measurements\"), not an instance's NitroTPM PCRs\n" + hint},
		{"eif", []string{"--nitrotpm", "--at", "document", "--eif", filepath.Join("..", "..", "eif", "testdata", "golden", "unsigned.eif"), doc},
			"nitro-verify: error: --nitrotpm: --eif gives an enclave image's PCRs, not an instance's NitroTPM PCRs\n" + hint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", tc.args...)
			if code != ExitUsage || stdout != "" || stderr != tc.want {
				t.Errorf("exit %d, stdout %q, stderr\n%s\nwant exit 2, no stdout, stderr\n%s", code, stdout, stderr, tc.want)
			}
		})
	}
	// The same file verifies an enclave's PCRs without --nitrotpm (and
	// the flat file NitroTPM PCRs with it).
	if code, _, stderr := run(t, "", "--nitrotpm", "--at", "document", "--pcrs", flat, doc); code != ExitVerified {
		t.Errorf("--nitrotpm --pcrs {\"PCR4\":...}: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, "", "--at", "document", "--pcrs", describe, doc); code != ExitRejected || !strings.Contains(stderr, "not_enclave") {
		t.Errorf("--pcrs describe-eif without --nitrotpm: exit %d: %s", code, stderr)
	}
}
