// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package boot

// LoopbackUp brings up the loopback interface; outside Linux it returns
// [ErrUnsupported].
func LoopbackUp() error { return ErrUnsupported }
