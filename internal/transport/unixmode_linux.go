// SPDX-License-Identifier: Apache-2.0

package transport

import "syscall"

// controlUnixMode sets UnixSocketMode on a unix socket before it is bound:
// Linux's bind(2) creates the socket file with the socket inode's mode,
// less the umask, so the file never exists with a wider mode. Other
// networks are left alone.
func controlUnixMode(network, _ string, c syscall.RawConn) error {
	if network != NetworkUnix {
		return nil
	}
	var err error
	if cerr := c.Control(func(fd uintptr) { err = syscall.Fchmod(int(fd), UnixSocketMode) }); cerr != nil {
		return cerr
	}
	return err
}
