// SPDX-License-Identifier: Apache-2.0

package boundedfile

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/enclavekit/enclavekit/internal/boundedfile/boundedfiletest"
)

func write(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, bytes.Repeat([]byte{'x'}, n), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadAtLimit(t *testing.T) {
	for _, n := range []int{0, 1, 100, 4096} {
		b, err := Read(write(t, n), int64(n))
		if err != nil || len(b) != n {
			t.Errorf("Read(%d bytes, limit %d) = %d bytes, %v", n, n, len(b), err)
		}
	}
}

// TestReadNoLimit: the largest limit reads the file whole (reading one
// byte past it must not overflow into reading nothing).
func TestReadNoLimit(t *testing.T) {
	b, err := Read(write(t, 100), math.MaxInt64)
	if err != nil || len(b) != 100 {
		t.Fatalf("Read(100 bytes, limit MaxInt64) = %d bytes, %v", len(b), err)
	}
}

func TestReadOverLimit(t *testing.T) {
	p := write(t, 101)
	b, err := Read(p, 100)
	var e *Error
	if !errors.As(err, &e) || e.Path != p || e.Limit != 100 || e.Kind != "" || b != nil {
		t.Fatalf("Read = %d bytes, %v, want *Error{Path: %s, Limit: 100}", len(b), err, p)
	}
	if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrNotRegular) {
		t.Errorf("%v: want ErrTooLarge only", err)
	}
	if want := p + ": larger than 100 bytes: the wrong file?"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

// TestReadHugeSparse: a 2 GiB file is refused without being read.
func TestReadHugeSparse(t *testing.T) {
	p := boundedfiletest.Sparse(t, filepath.Join(t.TempDir(), "f"), boundedfiletest.Huge)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(p, MiB)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) || err.Error() != p+": larger than 1 MiB: the wrong file?" {
		t.Fatalf("Read: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes for a file refused unread", grew)
	}
}

// TestReadUnsizedBounded: a file reporting no size (a /proc file) is still
// read only up to the limit.
func TestReadUnsizedBounded(t *testing.T) {
	const p = "/proc/self/status"
	if _, err := os.Stat(p); err != nil {
		t.Skip(err)
	}
	if _, err := Read(p, 16); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Read(%s, 16): %v, want ErrTooLarge", p, err)
	}
	if b, err := Read(p, MiB); err != nil || len(b) < 16 {
		t.Errorf("Read(%s, 1 MiB) = %d bytes, %v", p, len(b), err)
	}
}

func TestReadDirectory(t *testing.T) {
	p := t.TempDir()
	_, err := Read(p, MiB)
	var e *Error
	if !errors.As(err, &e) || e.Kind != "directory" || e.Path != p || !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Read(dir): %v", err)
	}
	if want := p + " is a directory, not a regular file"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestReadDevice(t *testing.T) {
	const p = "/dev/zero"
	if _, err := os.Stat(p); err != nil {
		t.Skip(err)
	}
	_, err := Read(p, MiB)
	var e *Error
	if !errors.As(err, &e) || e.Kind != "character device" || !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Read(%s): %v, want a character device refused", p, err)
	}
}

func TestReadMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing")
	_, err := Read(p, MiB)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read(missing): %v, want fs.ErrNotExist", err)
	}
	var e *Error
	if errors.As(err, &e) {
		t.Errorf("Read(missing) gave %#v", e)
	}
	// The message is os.ReadFile's, which the CLIs print today.
	if _, want := os.ReadFile(p); err.Error() != want.Error() {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestReadSymlink(t *testing.T) {
	p := write(t, 10)
	l := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(p, l); err != nil {
		t.Skip(err)
	}
	if b, err := Read(l, 10); err != nil || len(b) != 10 {
		t.Errorf("Read(link) = %d bytes, %v", len(b), err)
	}
}

func TestReadNegativeLimit(t *testing.T) {
	if _, err := Read(write(t, 0), -1); err == nil {
		t.Error("Read with a negative limit succeeded")
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 100: "100 bytes", KiB: "1 KiB", 64 * KiB: "64 KiB", MiB: "1 MiB", MiB + 1: "1048577 bytes", 1536: "1536 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestReadCheckSeesOpenedFile: ReadCheck hands its check the opened
// file's information and returns the check's error without reading.
func TestReadCheckSeesOpenedFile(t *testing.T) {
	p := write(t, 10)
	refused := errors.New("refused")
	var size int64 = -1
	if _, err := ReadCheck(p, KiB, func(fi fs.FileInfo) error { size = fi.Size(); return refused }); err != refused {
		t.Fatalf("ReadCheck: %v, want the check's error", err)
	}
	if size != 10 {
		t.Errorf("check saw size %d, want 10", size)
	}
	if b, err := ReadCheck(p, KiB, func(fs.FileInfo) error { return nil }); err != nil || len(b) != 10 {
		t.Errorf("ReadCheck with a passing check: %d bytes, %v", len(b), err)
	}
}

// TestOthersCanAccess: any group or other bit counts, owner bits do not.
func TestOthersCanAccess(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no group or other bits on Windows")
	}
	p := write(t, 1)
	for mode, want := range map[os.FileMode]bool{0o600: false, 0o400: false, 0o700: false, 0o640: true, 0o604: true, 0o620: true, 0o601: true} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm, got := OthersCanAccess(fi); got != want || perm != mode {
			t.Errorf("mode %v: OthersCanAccess = %v, %v; want %v", mode, perm, got, want)
		}
	}
}
