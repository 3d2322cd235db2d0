// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Copy buffers. While traffic is sparse a direction waits for its source to
// become readable without holding a buffer (see [rawSource]), taking a small
// pooled buffer for one read and its write and giving it back, so an idle
// connection holds no buffer at all. A read that fills the small buffer
// switches to a large one for bulk transfers, held across reads until they
// turn short again (or until the idle tick). A source that cannot wait
// without reading (no syscall.RawConn) holds a small buffer while it blocks.
const (
	smallBuf = 4 << 10
	largeBuf = 128 << 10
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, largeBuf); return &b }}
)

// closeWriter is implemented by *net.TCPConn, *net.UnixConn and *vsock.Conn.
type closeWriter interface{ CloseWrite() error }

// pipeState is shared by the two directions of one proxied connection.
type pipeState struct {
	idle       time.Duration // 0: no idle timeout
	splice     bool          // use io.Copy (splice(2) for TCP and unix sockets)
	lastActive atomic.Int64  // unix nanoseconds of the last observed progress
	graceUntil atomic.Int64  // unix nanoseconds: the end of the half-close grace; 0 before it starts
}

// startGrace bounds the reads from src (the client, once the destination
// has finished sending) at until: the direction reading src then ends with
// errGrace instead of waiting for the idle timeout.
func (ps *pipeState) startGrace(src net.Conn, until time.Time) {
	ps.graceUntil.Store(until.UnixNano())
	_ = src.SetReadDeadline(until) // interrupts a read armed with a later deadline
}

// capDeadline returns d, or the end of the grace period when that comes
// first.
func (ps *pipeState) capDeadline(d time.Time) time.Time {
	if g := ps.graceUntil.Load(); g != 0 && (d.IsZero() || time.Unix(0, g).Before(d)) {
		return time.Unix(0, g)
	}
	return d
}

// spliceCopy is io.Copy: splice(2) for the pairs [canSplice] accepts.
func spliceCopy(dst, src net.Conn) (int64, error) { return io.Copy(dst, src) }

var (
	errIdle        = errors.New("idle timeout")
	errGrace       = errors.New("half-close grace period over")
	errNoHalfClose = errors.New("connection cannot half-close")
)

// abnormal reports whether a direction's end is an error its peers must
// see as one (a reset, not a clean end of stream): anything but a clean
// end (nil), the half-close grace running out (the destination had
// finished, and everything was relayed) or a destination that cannot
// half-close.
func abnormal(err error) bool {
	return err != nil && err != errGrace && err != errNoHalfClose
}

// resetConn makes closing c send RST instead of FIN when c is TCP
// (SetLinger(0); bytes still queued toward the peer are discarded).
func resetConn(c net.Conn) {
	if l, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
}

// canSplice reports whether io.Copy(dst, src) takes the kernel splice path
// on Linux: *net.TCPConn.ReadFrom splices from TCP and unix stream sockets,
// and *net.TCPConn.WriteTo splices into a unix stream socket.
func canSplice(dst, src net.Conn) bool {
	switch dst.(type) {
	case *net.TCPConn:
		switch src.(type) {
		case *net.TCPConn, *net.UnixConn:
			return true
		}
	case *net.UnixConn:
		_, ok := src.(*net.TCPConn)
		return ok
	}
	return false
}

// bufSource is a reader that picks its own buffer: the large buffer it is
// given, or else a pooled small buffer it takes once there is something to
// read. It returns the buffer used (nil when none was kept: an error before
// any read), which copyAdaptive gives back to smallPool when it is not large.
type bufSource interface {
	readBuf(large *[]byte) (buf *[]byte, n int, err error)
}

// plainSource reads an io.Reader that cannot wait without reading: it holds
// a small buffer while its read blocks.
type plainSource struct{ r io.Reader }

func (s plainSource) readBuf(large *[]byte) (*[]byte, int, error) {
	b := large
	if b == nil {
		b = smallPool.Get().(*[]byte)
	}
	n, err := s.r.Read(*b)
	return b, n, err
}

// copyAdaptive copies src to dst until EOF (nil) or an error. While reads are
// short each read takes a pooled small buffer only once src has data (see
// [rawSource]) and the buffer goes back to the pool after the write; a read
// that fills the small buffer switches to a pooled large buffer, held while
// reads keep filling at least a small buffer's worth.
func copyAdaptive(dst io.Writer, src bufSource) (int64, error) {
	var large *[]byte
	defer func() {
		if large != nil {
			largePool.Put(large)
		}
	}()
	var written int64
	for {
		b, nr, er := src.readBuf(large)
		small := b != nil && b != large
		if nr > 0 {
			nw, ew := dst.Write((*b)[:nr])
			written += int64(nw)
			if ew == nil && nw != nr {
				ew = io.ErrShortWrite
			}
			if ew != nil {
				if small {
					smallPool.Put(b)
				}
				return written, ew
			}
		}
		full := b != nil && nr == len(*b)
		if small {
			smallPool.Put(b)
		}
		if er != nil {
			if er == io.EOF {
				return written, nil
			}
			return written, er
		}
		switch {
		case large == nil && full:
			large = largePool.Get().(*[]byte)
		case large != nil && nr < smallBuf:
			largePool.Put(large)
			large = nil
		}
	}
}
