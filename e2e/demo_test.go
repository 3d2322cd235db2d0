// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDemoScript runs scripts/demo.sh, what `make demo` runs, with the
// binaries this package built: a change to a command's contract that the
// script does not follow fails here, not first on a newcomer's machine.
// (decrypt's new --key-id rule broke the demo while every test passed.)
func TestDemoScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "scripts/demo.sh")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "BIN="+binDir, "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/demo.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "== Done in") || !strings.Contains(string(out), "key delivered to image A only") {
		t.Fatalf("scripts/demo.sh did not end as the README says:\n%s", out)
	}
}
