// SPDX-License-Identifier: Apache-2.0

package atomicfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// syncRecord is one fsync seen through the fsync seam: what was synced and
// what the target path held at that moment.
type syncRecord struct {
	name   string
	isDir  bool
	target []byte // the target's content then; nil when it did not exist
}

// recordSyncs replaces fsync for the test with one that records each call
// (and still syncs), and puts it back afterwards. Not for parallel tests.
func recordSyncs(t *testing.T, target string) *[]syncRecord {
	t.Helper()
	var recs []syncRecord
	old := fsync
	fsync = func(f *os.File) error {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		b, _ := os.ReadFile(target)
		recs = append(recs, syncRecord{name: f.Name(), isDir: fi.IsDir(), target: b})
		return old(f)
	}
	t.Cleanup(func() { fsync = old })
	return &recs
}

// TestWriteSyncsFileThenDirectory: the temporary file is fsynced before
// the rename (the target still holds its old content then) and the
// directory after it (the target holds the new content), so a power loss
// cannot leave the new name on an empty or partial file.
func TestWriteSyncsFileThenDirectory(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.key")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	recs := recordSyncs(t, target)
	if err := Write(target, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if len(*recs) != 2 {
		t.Fatalf("fsyncs: %+v, want the temporary file's then the directory's", *recs)
	}
	file, d := (*recs)[0], (*recs)[1]
	if file.isDir || filepath.Dir(file.name) != dir || file.name == target || !bytes.Equal(file.target, []byte("old")) {
		t.Errorf("first fsync %+v: want a temporary file in %s, before the rename", file, dir)
	}
	if !d.isDir || filepath.Clean(d.name) != dir || !bytes.Equal(d.target, []byte("new")) {
		t.Errorf("second fsync %+v: want the directory %s, after the rename", d, dir)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "new" {
		t.Errorf("target holds %q, %v", b, err)
	}
}

// TestWriteFsyncFailure: a failed fsync of the file leaves the target
// untouched and no temporary file behind, and returns the error.
func TestWriteFsyncFailure(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("EIO")
	old := fsync
	fsync = func(*os.File) error { return boom }
	t.Cleanup(func() { fsync = old })
	if err := Write(target, []byte("new"), 0o600); !errors.Is(err, boom) {
		t.Fatalf("Write: %v, want the fsync error", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "old" {
		t.Errorf("target holds %q after a failed fsync", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want the target only", len(ents))
	}
}

// TestWriteMode: the file gets perm whatever the umask, and a missing
// directory is an error naming it.
func TestWriteMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix file modes")
	}
	dir := t.TempDir()
	for _, perm := range []os.FileMode{0o600, 0o644} {
		p := filepath.Join(dir, perm.String())
		if err := Write(p, []byte("x"), perm); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != perm {
			t.Errorf("mode %v: %v, %v", perm, fi.Mode(), err)
		}
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil, 0o600); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}
