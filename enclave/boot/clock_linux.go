// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"time"

	"golang.org/x/sys/unix"
)

// SetSystemClock sets CLOCK_REALTIME (needs CAP_SYS_TIME).
func SetSystemClock(t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unix.ClockSettime(unix.CLOCK_REALTIME, &ts)
}
