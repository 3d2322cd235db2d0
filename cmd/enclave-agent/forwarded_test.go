// SPDX-License-Identifier: Apache-2.0

//go:build linux

package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKMSCommandsRefuseForwardedStdout: under init --logs-to, an
// application that runs a KMS command with its own stdout (the pipe init
// forwards to the parent instance's logs route) gets exit 2 and a hint,
// before any request, for every command that writes key material (stdout
// redirected to the forwarded stderr too); no Plaintext reaches the host.
// The same command with a pipe of the application's own, or --out FILE,
// works, and sign (no secret) still prints.
func TestKMSCommandsRefuseForwardedStdout(t *testing.T) {
	e := startKMS(t)
	h := startHostRoutes(t)
	ea := "enclave-agent " + strings.Join(e.globalArgs(pcr0Hex), " ")
	out := filepath.Join(t.TempDir(), "key.json")
	script := `export AWS_ACCESS_KEY_ID=` + roleAKID + ` AWS_SECRET_ACCESS_KEY=` + roleSecret + ` AWS_REGION=us-east-1
` + ea + ` genkey --key-id ` + e.keyID + `; echo "genkey=$?"
` + ea + ` genkey --key-id ` + e.keyID + ` >&2; echo "genkey-to-stderr=$?"
` + ea + ` genkey --key-id ` + e.keyID + ` --out -; echo "genkey-out-dash=$?"
` + ea + ` decrypt --key-id ` + e.keyID + ` --ciphertext AAAA; echo "decrypt=$?"
` + ea + ` genrandom; echo "genrandom=$?"
` + ea + ` derive --key-id ` + e.keyID + ` --public-key AAAA; echo "derive=$?"
K=$(` + ea + ` genkey --key-id ` + e.keyID + `); echo "own-pipe=$? ${#K}"
` + ea + ` genrandom | wc -c | sed 's/^ */piped-bytes=/'
` + ea + ` genkey --key-id ` + e.keyID + ` --out ` + out + `; echo "out-file=$?"
grep -c '"Plaintext"' ` + out + ` | sed 's/^/out-file-plaintext=/'
`
	code, stderr := runInit(t, context.Background(), "--logs-to", h.logsAddr, "--", "sh", "-c", script)
	if code != 0 {
		t.Fatalf("init exit %d\n%s\nhost:\n%s", code, stderr, h.all())
	}
	waitUntil(t, "the host has the exit", func() bool { return strings.Contains(h.all(), "exit: ") })
	got := h.all()
	if strings.Contains(got, "Plaintext\"") || strings.Contains(got, "SharedSecret\"") {
		t.Errorf("key material reached the parent's logs route:\n%s", got)
	}
	for _, want := range []string{"stdout: genkey=2", "stdout: genkey-to-stderr=2", "stdout: genkey-out-dash=2", "stdout: decrypt=2",
		"stdout: genrandom=2", "stdout: derive=2", "stdout: out-file=0", "stdout: out-file-plaintext=1",
		"stderr: enclave-agent: error: genkey: stdout is forwarded to the parent instance by init --logs-to: the Plaintext would reach it",
		"stderr: enclave-agent: error: derive: stdout is forwarded to the parent instance by init --logs-to: the SharedSecret would reach it",
		"stderr: enclave-agent: hint: write it to a file with --out FILE (mode 0600), or read this command's output through a pipe of the application's own"} {
		if !strings.Contains(got, want) {
			t.Errorf("the host got no %q:\n%s", want, got)
		}
	}
	if !regexp.MustCompile(`stdout: own-pipe=0 [1-9][0-9]+`).MatchString(got) || !regexp.MustCompile(`stdout: piped-bytes=[1-9][0-9]+`).MatchString(got) {
		t.Errorf("a pipe of the application's own got no output:\n%s", got)
	}
}
