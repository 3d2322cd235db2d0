// SPDX-License-Identifier: Apache-2.0

//go:build unix

package keystore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/boundedfile/boundedfiletest"
)

// TestDirRefusesHugeRecord: a key record far larger than the store writes
// (a 2 GiB sparse file) fails OpenDir at once instead of being read.
func TestDirRefusesHugeRecord(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	p := boundedfiletest.Sparse(t, filepath.Join(dir, "keys", id1+".json"), boundedfiletest.Huge)
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
	boundedfiletest.FIFO(t, filepath.Join(dir, "aliases.json"))
	var err error
	boundedfiletest.Within(t, 5*time.Second, "OpenDir with a named pipe for aliases.json", func() { _, err = OpenDir(dir) })
	if !errors.Is(err, boundedfile.ErrNotRegular) {
		t.Fatalf("OpenDir: %v, want boundedfile.ErrNotRegular", err)
	}
}
