// SPDX-License-Identifier: Apache-2.0

package transport

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestControlUnixModeAtBind: on Linux the socket file already has mode
// 0600 when bind(2) creates it (the mode is set on the socket before
// bind), so there is no window before listenUnix's chmod in which others
// could connect. Checked without that chmod, under umask 000.
func TestControlUnixModeAtBind(t *testing.T) {
	withUmask(t, 0o000)
	p := filepath.Join(t.TempDir(), "s.sock")
	lc := net.ListenConfig{Control: controlUnixMode}
	ln, err := lc.Listen(t.Context(), NetworkUnix, p)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != UnixSocketMode {
		t.Errorf("socket created with mode %04o, want %04o", got, UnixSocketMode)
	}
}
