// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package boot

import "time"

// SetSystemClock sets the system clock; outside Linux it returns
// [ErrUnsupported].
func SetSystemClock(time.Time) error { return ErrUnsupported }
