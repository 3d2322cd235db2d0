// SPDX-License-Identifier: Apache-2.0

//go:build linux

package policy

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// onThreadCPU runs f locked to one OS thread and returns the CPU time that
// thread spent: the work f did, whatever else the machine is running.
func onThreadCPU(t *testing.T, f func()) time.Duration {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, err := threadCPU()
	if err != nil {
		t.Fatalf("getrusage(RUSAGE_THREAD): %v", err)
	}
	f()
	after, err := threadCPU()
	if err != nil {
		t.Fatalf("getrusage(RUSAGE_THREAD): %v", err)
	}
	return after - before
}

func threadCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
