// SPDX-License-Identifier: Apache-2.0

package awsvectors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// RelDir is where the vectors live, relative to the module root.
const RelDir = "testvectors/aws"

// Find returns the absolute path of the vector or folder named by elem
// below testvectors/aws (the folder itself when elem is empty). It fails
// when the module root cannot be found or the path does not exist.
func Find(elem ...string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return "", err
	}
	p := filepath.Join(append([]string{root, filepath.FromSlash(RelDir)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("awsvectors: %w", err)
	}
	return p, nil
}

// Path is [Find] for tests: it fails the test when the path is missing.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	p, err := Find(elem...)
	if err != nil {
		tb.Fatalf("test vector missing (the repository's %s must be complete): %v", RelDir, err)
	}
	return p
}

// ReadFile reads a vector below testvectors/aws, failing the test when it
// is missing or unreadable.
func ReadFile(tb testing.TB, elem ...string) []byte {
	tb.Helper()
	b, err := os.ReadFile(Path(tb, elem...))
	if err != nil {
		tb.Fatalf("reading test vector: %v", err)
	}
	return b
}

// moduleRoot walks up from dir to the first directory holding go.mod.
func moduleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("awsvectors: no go.mod above " + dir)
		}
	}
}
