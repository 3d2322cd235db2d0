// SPDX-License-Identifier: Apache-2.0

// Package sharedvectors locates the real-world test vectors (AWS-signed
// attestation documents, real KMS CiphertextForRecipient blobs) that live
// outside the repository, in ../shared/testvectors beside the module root.
//
// The vectors are read in place and never copied into the project. When the
// folder is missing, tests that need it are skipped on a developer machine
// and fail under CI (the CI environment variable is set), so a CI run can
// never pass without having checked the real vectors.
package sharedvectors

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// EnvDir names an environment variable that, when set, overrides where the
// shared test vectors are looked for.
const EnvDir = "ENCLAVEKIT_SHARED_TESTVECTORS"

// Find returns the absolute path of the shared testvectors folder, looking
// first at $ENCLAVEKIT_SHARED_TESTVECTORS, then for ../shared/testvectors
// beside the module root (the directory holding go.mod) found by walking up
// from the working directory.
func Find() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		if isDir(d) {
			return filepath.Abs(d)
		}
		return "", errors.New("sharedvectors: " + EnvDir + "=" + d + " is not a directory")
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			cand := filepath.Join(filepath.Dir(dir), "shared", "testvectors")
			if isDir(cand) {
				return cand, nil
			}
			return "", errors.New("sharedvectors: no shared test vectors at " + cand + " (set " + EnvDir + ")")
		}
		if parent := filepath.Dir(dir); parent == dir {
			return "", errors.New("sharedvectors: no go.mod above " + wd)
		}
	}
}

// Dir returns the shared testvectors folder joined with elem. When the folder
// cannot be found it fails the test if the CI environment variable is set and
// skips it otherwise, saying why in both cases.
func Dir(tb testing.TB, elem ...string) string {
	tb.Helper()
	d, err := Find()
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("shared test vectors are required under CI: %v", err)
		}
		tb.Skipf("skipping: shared test vectors not found: %v", err)
	}
	return filepath.Join(append([]string{d}, elem...)...)
}

// ReadFile reads a file below the shared testvectors folder (see [Dir]).
func ReadFile(tb testing.TB, elem ...string) []byte {
	tb.Helper()
	p := Dir(tb, elem...)
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatalf("reading shared test vector: %v", err)
	}
	return b
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
