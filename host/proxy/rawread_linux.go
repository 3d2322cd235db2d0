// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"io"
	"os"
	"syscall"
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
		n, err := syscall.Read(int(fd), *b)
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
