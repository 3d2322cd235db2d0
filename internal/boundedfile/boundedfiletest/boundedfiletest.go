// SPDX-License-Identifier: Apache-2.0

package boundedfiletest

import (
	"os"
	"testing"
	"time"
)

// Huge is the size [Sparse] is usually asked for: 2 GiB, far over any
// bound the commands use, and more than a test should ever allocate.
const Huge = 2 << 30

// Sparse creates path as a sparse file of size bytes (it takes no disk)
// and returns path; the test is skipped where the file system cannot make
// one.
func Sparse(t testing.TB, path string, size int64) string {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	return path
}

// Within runs f and fails the test if it has not returned within d (what
// names it in the failure). A blocked f is left running; whatever blocks it
// (a named pipe made by [FIFO]) is released by the test's cleanups.
func Within(t testing.TB, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}
