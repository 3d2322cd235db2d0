// SPDX-License-Identifier: Apache-2.0

//go:build unix

package flock

import (
	"path/filepath"
	"testing"
	"time"
)

// TestLockExcludesSecondLocker: a second Lock of the same file, in the
// same process, waits until the first is released.
func TestLockExcludesSecondLocker(t *testing.T) {
	name := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(name)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := Lock(name)
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case <-got:
		t.Fatal("a second Lock was granted while the first was held")
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second Lock was not granted after the first was released")
	}
}
