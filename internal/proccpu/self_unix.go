// SPDX-License-Identifier: Apache-2.0

//go:build unix

package proccpu

import (
	"syscall"
	"time"
)

// Self returns the user + system CPU time of the calling process so far,
// to the microsecond (getrusage), or 0 where it cannot be read.
func Self() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
