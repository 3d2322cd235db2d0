// SPDX-License-Identifier: Apache-2.0

package boundedfile

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// withACL returns fi, the opened file f's information, with f's POSIX
// access ACL when it has one and fi's group bits could be its mask;
// otherwise fi itself.
func withACL(f *os.File, fi fs.FileInfo) fs.FileInfo {
	if fi.Mode().Perm()&0o070 == 0 {
		return fi
	}
	// An ACL has at most 32 entries on most file systems (ext4 allows
	// more within a block); 4 KiB holds 511.
	buf := make([]byte, 4096)
	n, err := unix.Fgetxattr(int(f.Fd()), "system.posix_acl_access", buf)
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.EOPNOTSUPP):
		return fi // no ACL: the group bits are the group's
	case err != nil:
		return &aclFileInfo{FileInfo: fi, err: err}
	}
	acl, err := parseACL(buf[:n])
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok && err == nil {
		err = errors.New("boundedfile: no owner in the file's information")
	}
	ai := &aclFileInfo{FileInfo: fi, acl: acl, err: err}
	if ok {
		ai.owner = st.Uid
	}
	return ai
}
