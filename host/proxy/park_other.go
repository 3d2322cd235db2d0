// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package proxy

import (
	"syscall"
	"time"
)

// parker is Linux only (epoll): elsewhere an idle direction keeps its
// goroutine, waiting in the netpoller.
type parker struct{}

func newParker(time.Duration, func()) *parker          { return nil }
func (*parker) add(*pair) bool                         { return false }
func (*parker) remove(*pair)                           {}
func (*parker) arm(syscall.RawConn, uint64, bool) bool { return false }
func (*parker) disarm(syscall.RawConn)                 {}
func (*parker) shutdown()                              {}
func (*parker) stop()                                  {}
func (*parker) goStart()                               {}
func (*parker) goEnd()                                 {}
func parkKey(slot, gen uint32, d int) uint64           { return 0 }
