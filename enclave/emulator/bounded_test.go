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
)

// TestBankFileBounded: a PCR bank file far larger than the emulator
// writes, or a directory in its place, fails New at once.
func TestBankFileBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(p string) error
		want error
	}{
		{"huge", func(p string) error {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				return err
			}
			return os.Truncate(p, 2<<30)
		}, boundedfile.ErrTooLarge},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }, boundedfile.ErrNotRegular},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.make(filepath.Join(dir, PCRBankFile)); err != nil {
				t.Fatal(err)
			}
			_, err := New(&Config{PCRs: testImage(), StateDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if !errors.Is(err, tc.want) {
				t.Fatalf("New: %v, want %v", err, tc.want)
			}
		})
	}
}
