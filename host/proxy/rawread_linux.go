// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawSource reads a socket through its syscall.RawConn: the read(2) runs
// inside RawConn.Read's callback, into a pooled small buffer taken there and
// given back when the socket has nothing (EAGAIN), so a read that would block
// holds no buffer while the netpoller waits, and a read that will not block
// costs one system call.
type rawSource struct {
	rc    syscall.RawConn
	into  *[]byte // the held large buffer for the next read, or nil
	buf   *[]byte // the buffer the last read used
	n     int
	err   error
	readF func(fd uintptr) bool // s.read, allocated once
}

// newSource returns the reader copyAdaptive uses for src: a rawSource when
// src has a syscall.RawConn, else one that holds a small buffer while its
// read blocks.
func newSource(src io.Reader) bufSource {
	sc, ok := src.(syscall.Conn)
	if !ok {
		return plainSource{src}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return plainSource{src}
	}
	s := &rawSource{rc: rc}
	s.readF = s.read
	return s
}

func (s *rawSource) read(fd uintptr) bool {
	b := s.into
	if b == nil {
		b = smallPool.Get().(*[]byte)
	}
	for {
		n, err := rawRead(fd, *b)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if b != s.into {
				smallPool.Put(b)
			}
			return false // wait in the netpoller, holding no buffer
		}
		s.buf, s.n, s.err = b, n, err
		return true
	}
}

func (s *rawSource) readBuf(large *[]byte) (*[]byte, int, error) {
	s.into, s.buf, s.n, s.err = large, nil, 0, nil
	if err := s.rc.Read(s.readF); err != nil {
		// Closed, or the read deadline passed: no buffer was kept.
		return nil, 0, err
	}
	switch {
	case s.err != nil:
		return s.buf, 0, os.NewSyscallError("read", s.err)
	case s.n == 0:
		return s.buf, 0, io.EOF
	}
	return s.buf, s.n, nil
}

// sourceRawConn returns the syscall.RawConn a source reads through, or nil.
func sourceRawConn(s bufSource) syscall.RawConn {
	if rs, ok := s.(*rawSource); ok {
		return rs.rc
	}
	return nil
}

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket
// without the runtime's system-call bookkeeping (entersyscall/exitsyscall):
// they never block, and a loopback write can take tens of microseconds
// (the receiver's TCP processing runs inside it), long enough for the
// runtime's monitor to hand the P to another thread, which costs two
// thread wake-ups per write under light load.
func rawRead(fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func rawWrite(fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// rawSink writes a socket through its syscall.RawConn with rawWrite,
// waiting in the netpoller (and honouring the write deadline) while the
// socket is full.
type rawSink struct {
	rc     syscall.RawConn
	b      []byte
	n      int
	err    error
	writeF func(fd uintptr) bool
	// extend, when set, is called when the write deadline passes in the
	// middle of a write, with whether the write moved bytes since the
	// deadline was set (or last extended): true sets a later deadline and
	// the write goes on; false fails the write with the timeout.
	extend func(moved bool) bool
}

// newSink returns the writer copyAdaptive writes to: a rawSink when dst has
// a syscall.RawConn, else dst itself.
func newSink(dst io.Writer) io.Writer {
	sc, ok := dst.(syscall.Conn)
	if !ok {
		return dst
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return dst
	}
	s := &rawSink{rc: rc}
	s.writeF = s.write
	return s
}

func (s *rawSink) write(fd uintptr) bool {
	for s.n < len(s.b) {
		n, err := rawWrite(fd, s.b[s.n:])
		switch err {
		case nil:
			s.n += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			s.err = err
			return true
		}
	}
	return true
}

func (s *rawSink) setExtend(f func(moved bool) bool) { s.extend = f }

func (s *rawSink) Write(b []byte) (int, error) {
	s.b, s.n, s.err = b, 0, nil
	var err error
	for start := 0; ; start = s.n {
		err = s.rc.Write(s.writeF)
		if err == nil || s.extend == nil || !errors.Is(err, os.ErrDeadlineExceeded) || !s.extend(s.n > start) {
			break
		}
	}
	n := s.n
	s.b = nil
	if err != nil {
		return n, err
	}
	if s.err != nil {
		return n, os.NewSyscallError("write", s.err)
	}
	return n, nil
}

// urgentInline sets SO_OOBINLINE on a TCP connection, so that a byte its
// peer sends as urgent data (MSG_OOB) stays in the stream the proxy reads
// and is relayed, as an ordinary byte, in its place; without it read(2)
// skips the byte. One setsockopt per socket; other sockets are left alone.
func urgentInline(c any) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	if rc, err := tc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = sysSetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_OOBINLINE, 1) })
	}
}
