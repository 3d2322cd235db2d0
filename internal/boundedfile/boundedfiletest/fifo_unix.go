// SPDX-License-Identifier: Apache-2.0

//go:build unix

package boundedfiletest

import (
	"os"
	"syscall"
	"testing"
)

// FIFO creates a named pipe at path and returns path; the test is skipped
// where mkfifo fails. A cleanup opens the pipe for reading and writing,
// which never blocks on Linux and releases a reader blocked on it (the
// bug the test looks for), so that the test can end.
func FIFO(t testing.TB, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	return path
}
