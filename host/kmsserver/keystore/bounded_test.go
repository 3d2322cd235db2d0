// SPDX-License-Identifier: Apache-2.0

//go:build unix

package keystore

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/enclavekit/enclavekit/internal/boundedfile"
)

// TestDirRefusesHugeRecord: a key record far larger than the store writes
// (a 2 GiB sparse file) fails OpenDir at once instead of being read.
func TestDirRefusesHugeRecord(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	p := filepath.Join(dir, "keys", id1+".json")
	if err := os.WriteFile(p, nil, 0o600); err != nil || os.Truncate(p, 2<<30) != nil {
		t.Fatal("cannot make a sparse file")
	}
	_, err := OpenDir(dir)
	var be *boundedfile.Error
	if !errors.As(err, &be) || be.Path != p || be.Limit != maxKeyRecord {
		t.Fatalf("OpenDir: %v, want a *boundedfile.Error for %s", err, p)
	}
}

// TestDirRefusesFIFOAliases: an aliases.json that is a named pipe fails
// OpenDir at once instead of waiting for a writer.
func TestDirRefusesFIFOAliases(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	if err := syscall.Mkfifo(filepath.Join(dir, "aliases.json"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := OpenDir(dir); !errors.Is(err, boundedfile.ErrNotRegular) {
		t.Fatalf("OpenDir: %v, want boundedfile.ErrNotRegular", err)
	}
}
