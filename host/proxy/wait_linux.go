// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"syscall"
	"unsafe"
)

// readWaiter returns a function that blocks until src has something to
// read (data, end of stream or an error) or its read deadline passes
// (os.ErrDeadlineExceeded), without a read buffer: the netpoller waits on
// the socket through its syscall.RawConn, and readiness is checked with a
// non-blocking one-byte MSG_PEEK, which leaves the data in the socket. It
// returns nil when src has no syscall.RawConn.
//
// This is what keeps an idle proxied connection free of buffers: both
// directions of every idle connection sit in the netpoller, and a buffer is
// taken from the pool only for a read that will not block.
func readWaiter(src any) func() error {
	sc, ok := src.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	peek := new([1]byte)
	ready := func(fd uintptr) bool {
		_, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&peek[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		// EAGAIN: nothing yet, wait for the netpoller. EINTR: try again.
		// Anything else (data, 0 for end of stream, an error) is for the
		// read that follows to report.
		return e != syscall.EAGAIN && e != syscall.EINTR
	}
	return func() error { return rc.Read(ready) }
}
