// SPDX-License-Identifier: Apache-2.0

//go:build !unix

package proccpu

import "time"

// Self is unavailable here: it returns 0, so that CPU-based ratios read 0.
func Self() time.Duration { return 0 }
