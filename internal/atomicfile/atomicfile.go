// SPDX-License-Identifier: Apache-2.0

package atomicfile

import (
	"os"
	"path/filepath"
	"runtime"
)

// fsync flushes a file or directory to disk; tests replace it to see what
// is synced when.
var fsync = (*os.File).Sync

// Write writes data to path with mode perm (not subject to the umask) so
// that after a crash path holds either its previous content or data: the
// steps are in the package documentation. Errors are the operating
// system's ([*os.PathError], [*os.LinkError]); the temporary file is
// named ".tmp-BASE-*" in path's directory.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := fsync(f); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return SyncDir(dir)
}

// SyncDir fsyncs the directory dir, so that the creation, rename or
// removal of an entry in it survives a power loss. On Windows, where a
// directory cannot be opened for syncing and NTFS journals renames, it
// does nothing.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return fsync(d)
}
