// SPDX-License-Identifier: Apache-2.0

package sharedvectors

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirFindsRoot(t *testing.T) {
	d := Dir(t, "attestation", "aws_nitro_root_g1.pem")
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("expected the AWS root beside the vectors: %v", err)
	}
}

func TestEnvOverride(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv(EnvDir, tmp)
	got, err := Find()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.Abs(tmp); got != want {
		t.Fatalf("Find() = %q, want %q", got, want)
	}
	t.Setenv(EnvDir, filepath.Join(tmp, "missing"))
	if _, err := Find(); err == nil {
		t.Fatal("Find() with a missing override: want an error")
	}
}
