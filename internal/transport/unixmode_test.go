// SPDX-License-Identifier: Apache-2.0

//go:build unix

package transport

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// withUmask sets the process's umask for the test and restores it after.
// The umask is process-wide: tests using it must not run in parallel.
func withUmask(t *testing.T, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// TestListenUnixOwnerOnlyUnderPermissiveUmask: connecting to a unix socket
// needs write permission on its file, so under umask 002 or 000 a socket
// created with the umask's mode let group or every local user connect
// (to the credentials route: fetch the role's credentials). Listen makes
// it 0600 whatever the umask.
func TestListenUnixOwnerOnlyUnderPermissiveUmask(t *testing.T) {
	for _, mask := range []int{0o002, 0o000, 0o022} {
		withUmask(t, mask)
		p := filepath.Join(t.TempDir(), "creds.sock")
		ln, err := Listen(Addr{Network: NetworkUnix, Address: p})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("umask %03o: socket mode %04o, want 0600", mask, got)
		}
	}
}
