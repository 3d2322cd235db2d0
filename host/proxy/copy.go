// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"io"
	"net"
	"os"
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

// direction copies src to dst until EOF, error or idleness. On EOF it
// half-closes dst so the peer sees end-of-stream while the other direction
// keeps flowing. It returns nil on a clean EOF, or the error that ended the
// copy (errIdle for an idle timeout or a write stuck for the idle period).
//
// Once the destination has finished sending, [pipeState.startGrace] caps
// the client's reads at the end of the half-close grace period, and the
// direction reading the client ends with errGrace then.
//
// Idle detection without a deadline per read: the read deadline is armed in
// ticks of idle/2 (Go fails a read after its deadline even when data is
// waiting, so an active io.Copy returns at every tick). A tick that copied
// something records activity. A tick that copied nothing ends the connection
// only when neither direction has recorded activity for a whole idle period;
// an active peer direction records activity at least every tick, so a
// one-way transfer is never cut. The write deadline sits one idle period
// after the read deadline: a write timeout is told apart from a read timeout
// by the time, and means the peer has not read for that long.
func (ps *pipeState) direction(dst, src net.Conn, count func(int64)) error {
	spliceable := ps.splice && canSplice(dst, src)
	var source bufSource
	if !spliceable {
		source = newSource(src)
	}
	tick := ps.idle / 2
	for {
		var writeDeadline time.Time
		if tick > 0 {
			readDeadline := time.Now().Add(tick)
			writeDeadline = readDeadline.Add(ps.idle)
			_ = src.SetReadDeadline(ps.capDeadline(readDeadline))
			_ = dst.SetWriteDeadline(writeDeadline)
			// startGrace may have run between capDeadline and
			// SetReadDeadline: apply its deadline again, so it is never
			// overwritten by a later one.
			if d := ps.capDeadline(readDeadline); !d.Equal(readDeadline) {
				_ = src.SetReadDeadline(d)
			}
		}
		var n int64
		var err error
		if spliceable {
			n, err = io.Copy(dst, src)
		} else {
			n, err = copyAdaptive(dst, source)
		}
		if n > 0 {
			count(n)
			ps.lastActive.Store(time.Now().UnixNano())
		}
		if err == nil {
			cw, ok := dst.(closeWriter)
			if !ok {
				return errNoHalfClose
			}
			if err := cw.CloseWrite(); err != nil {
				return err
			}
			return nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if g := ps.graceUntil.Load(); g != 0 && !time.Now().Before(time.Unix(0, g)) {
				return errGrace
			}
		}
		if tick > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			now := time.Now()
			if !now.Before(writeDeadline) {
				return errIdle // a write stuck for the idle period (or worse)
			}
			if n > 0 || now.Sub(time.Unix(0, ps.lastActive.Load())) < ps.idle {
				continue
			}
			return errIdle
		}
		return err
	}
}

var (
	errIdle        = errors.New("idle timeout")
	errGrace       = errors.New("half-close grace period over")
	errNoHalfClose = errors.New("connection cannot half-close")
)

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
