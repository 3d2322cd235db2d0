// SPDX-License-Identifier: Apache-2.0

//go:build !unix

package agent

import "time"

// processCPU is unavailable here; CPU-based ratios are reported as zero.
func processCPU() time.Duration { return 0 }
