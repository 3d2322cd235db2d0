// SPDX-License-Identifier: Apache-2.0

package nitroca_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/boundedfile/boundedfiletest"
	"github.com/enclavekit/enclavekit/internal/nitroca"
)

// TestLoadRootBounded: a directory or a huge file given as the certificate
// or key is refused without being read.
func TestLoadRootBounded(t *testing.T) {
	dir := t.TempDir()
	huge := boundedfiletest.Sparse(t, filepath.Join(dir, "huge.pem"), boundedfiletest.Huge)
	if _, err := nitroca.LoadRoot(huge, huge); !errors.Is(err, boundedfile.ErrTooLarge) {
		t.Errorf("LoadRoot(huge): %v, want boundedfile.ErrTooLarge", err)
	}
	if _, err := nitroca.LoadRoot(dir, dir); !errors.Is(err, boundedfile.ErrNotRegular) {
		t.Errorf("LoadRoot(dir): %v, want boundedfile.ErrNotRegular", err)
	}
}
