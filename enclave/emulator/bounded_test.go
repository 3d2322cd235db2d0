// SPDX-License-Identifier: Apache-2.0

package emulator

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/boundedfile/boundedfiletest"
)

// TestBankFileBounded: a PCR bank file far larger than the emulator
// writes, or a directory in its place, fails New at once.
func TestBankFileBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, p string)
		want error
	}{
		{"huge", func(t *testing.T, p string) { boundedfiletest.Sparse(t, p, boundedfiletest.Huge) }, boundedfile.ErrTooLarge},
		{"directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}, boundedfile.ErrNotRegular},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.make(t, filepath.Join(dir, PCRBankFile))
			_, err := New(&Config{PCRs: testImage(), StateDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if !errors.Is(err, tc.want) {
				t.Fatalf("New: %v, want %v", err, tc.want)
			}
		})
	}
}
