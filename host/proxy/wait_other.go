// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package proxy

// readWaiter is Linux only: elsewhere a direction holds a small buffer
// while its read blocks.
func readWaiter(any) func() error { return nil }
