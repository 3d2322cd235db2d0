// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package policy

import (
	"testing"
	"time"
)

// onThreadCPU runs f and returns the wall time it took: without
// RUSAGE_THREAD this is the closest measure of its work (it includes time
// the machine spent on other things).
func onThreadCPU(t *testing.T, f func()) time.Duration {
	t.Helper()
	start := time.Now()
	f()
	return time.Since(start)
}
