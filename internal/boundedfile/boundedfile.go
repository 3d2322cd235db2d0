// SPDX-License-Identifier: Apache-2.0

package boundedfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"

	"github.com/enclavekit/enclavekit/internal/readbody"
)

// Sizes for the limits callers pass to [Read].
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
)

var (
	// ErrTooLarge is matched by an [*Error] for a file over its limit.
	ErrTooLarge = errors.New("boundedfile: file larger than its limit")
	// ErrNotRegular is matched by an [*Error] for a path that is not a
	// regular file (a directory, named pipe, socket or device).
	ErrNotRegular = errors.New("boundedfile: not a regular file")
)

// Error is a file [Read] refused. It matches [ErrNotRegular] when Kind is
// set and [ErrTooLarge] otherwise.
type Error struct {
	// Path is the path as the caller gave it.
	Path string
	// Limit is the largest size accepted, in bytes.
	Limit int64
	// Kind says what the path is when it is not a regular file:
	// "directory", "named pipe", "socket", "device", "character device" or
	// "irregular file". It is empty for a file over Limit.
	Kind string
}

// Error says what was wrong with the file, e.g. "kms.yaml: larger than
// 1 MiB: the wrong file?" or "kms.yaml is a named pipe, not a regular file".
func (e *Error) Error() string {
	if e.Kind != "" {
		return fmt.Sprintf("%s is a %s, not a regular file", e.Path, e.Kind)
	}
	return fmt.Sprintf("%s: larger than %s: the wrong file?", e.Path, Size(e.Limit))
}

// Is reports whether target is the class of e: [ErrNotRegular] or
// [ErrTooLarge].
func (e *Error) Is(target error) bool {
	if e.Kind != "" {
		return target == ErrNotRegular
	}
	return target == ErrTooLarge
}

// Size formats n bytes for a message: "1 MiB", "64 KiB", or "100 bytes"
// when n is not a whole number of KiB.
func Size(n int64) string {
	switch {
	case n >= MiB && n%MiB == 0:
		return fmt.Sprintf("%d MiB", n/MiB)
	case n >= KiB && n%KiB == 0:
		return fmt.Sprintf("%d KiB", n/KiB)
	}
	return fmt.Sprintf("%d bytes", n)
}

// OthersCanAccess reports whether anyone besides the file's owner has any
// access to the file fi describes (a secret's file must be mode 0600 or
// narrower), and its permission bits for the message: it is
// [WhoCanAccess] without the ACL entry.
func OthersCanAccess(fi fs.FileInfo) (perm fs.FileMode, ok bool) {
	a := WhoCanAccess(fi)
	return a.Perm, a.Open
}

// Read returns the contents of the regular file at path, refusing with an
// [*Error] a path that is not a regular file or a file larger than max
// bytes, without reading it. The package documentation lists the checks.
func Read(path string, max int64) ([]byte, error) {
	return ReadCheck(path, max, nil)
}

// ReadCheck is [Read] with one more check: after the file is opened and
// before it is read, check is called with the opened file's own
// information (fstat, not a second lookup of path), and its error, if
// any, is returned as is. A caller refuses a file by its mode or owner
// there, without a window in which path could be swapped for another
// file. On Linux, when the file has a POSIX access ACL that its group
// bits could be the mask of, the information check gets carries the ACL,
// read from the opened file, for [WhoCanAccess]. A nil check makes
// ReadCheck the same as Read.
func ReadCheck(path string, max int64, check func(fs.FileInfo) error) ([]byte, error) {
	if max < 0 {
		return nil, fmt.Errorf("boundedfile: negative limit %d", max)
	}
	// Stat first, so that a device is never opened; the open below does not
	// block on a named pipe either, for one swapped in meanwhile.
	fi, err := os.Stat(path)
	if err != nil {
		// Say "open", as os.ReadFile did: the commands' messages and
		// scripts show "open FILE: no such file or directory".
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Op = "open"
		}
		return nil, err
	}
	if err := checkFile(path, fi, max); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkFile(path, fi, max); err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(withACL(f, fi)); err != nil {
			return nil, err
		}
	}
	// Reading stops one byte past max, so that a file grown since the
	// checks (or one reporting no size, as /proc files do) is refused
	// without reading more of it. The buffer is sized from the file's size
	// (at most max); outgrown buffers are cleared, as files may hold keys.
	r := io.Reader(f)
	if max < math.MaxInt64 {
		r = io.LimitReader(f, max+1)
	}
	b, err := readbody.Read(r, fi.Size(), int(min(max, math.MaxInt)), nil)
	if err == nil && int64(len(b)) > max {
		err = &Error{Path: path, Limit: max}
	}
	if err != nil {
		clear(b)
		return nil, err
	}
	return b, nil
}

// checkFile refuses what is not a regular file or is larger than max.
func checkFile(path string, fi fs.FileInfo, max int64) error {
	if k := kind(fi.Mode()); k != "" {
		return &Error{Path: path, Limit: max, Kind: k}
	}
	if fi.Size() > max {
		return &Error{Path: path, Limit: max}
	}
	return nil
}

// kind names a mode that is not a regular file's, or returns "".
func kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return ""
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "irregular file"
}
