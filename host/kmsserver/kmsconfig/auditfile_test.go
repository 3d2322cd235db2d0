// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestAuditFileReopen: after the log is moved away (logrotate's rename),
// lines go to the moved file until Reopen, then to a new file at the
// path, created 0600.
func TestAuditFileReopen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "audit.jsonl")
	a, err := OpenAuditFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Write([]byte("one\n"))
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("two\n"))
	if err := a.Reopen(); err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("three\n"))
	for name, want := range map[string]string{p + ".1": "one\ntwo\n", p: "three\n"} {
		b, err := os.ReadFile(name)
		if err != nil || string(b) != want {
			t.Fatalf("%s: %q %v, want %q", name, b, err, want)
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("reopened audit log created with mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestAuditFileRefusesSymlinkAndNonRegular: whoever can write the log's
// directory cannot point the log elsewhere with a symbolic link (at
// start or at a reopen), and a FIFO or a directory is refused.
func TestAuditFileRefusesSymlinkAndNonRegular(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	link := filepath.Join(dir, "audit.jsonl")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenAuditFile(link); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Fatalf("audit_log a symbolic link: %v", err)
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("the link's target was created")
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// With no reader a FIFO open for writing fails (ENXIO) rather than
	// block; either way it is refused.
	if _, err := OpenAuditFile(fifo); err == nil {
		t.Fatal("audit_log a FIFO: accepted")
	}
	if _, err := OpenAuditFile(dir); err == nil {
		t.Fatal("audit_log a directory: accepted")
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := OpenAuditFile(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("audit_log a FIFO with a reader: %v", err)
	}

	// At a reopen: the rotated path replaced by a link.
	p := filepath.Join(dir, "real.jsonl")
	a, err := OpenAuditFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	os.Rename(p, p+".1")
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	if err := a.Reopen(); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Fatalf("Reopen onto a symbolic link: %v", err)
	}
	if _, err := a.Write([]byte("still\n")); err != nil {
		t.Fatalf("the old file is not kept after a refused reopen: %v", err)
	}
}
