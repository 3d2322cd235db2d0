// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"
	"time"
)

// waitLimit bounds the waits for an event in these tests. It is no
// property of the code: it only turns an event that never comes into a
// failure that names it rather than a hang until go test's -timeout, so
// it is far beyond what a loaded machine needs.
const waitLimit = time.Minute

// waitUntil polls cond until it holds, failing the test (naming what) if
// it does not within waitLimit.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", waitLimit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
