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

// bufPool holds copy buffers for connections the kernel cannot splice
// (vsock). TCP and unix sockets are spliced by io.Copy on Linux.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// closeWriter is implemented by *net.TCPConn, *net.UnixConn and *vsock.Conn.
type closeWriter interface{ CloseWrite() error }

// pipeState is shared by the two directions of one proxied connection.
type pipeState struct {
	idle       time.Duration // 0: no idle timeout
	noSplice   bool
	lastActive atomic.Int64 // unix nanoseconds of the last observed progress
}

// direction copies src to dst until EOF, error or idleness. On EOF it
// half-closes dst so the peer sees end-of-stream while the other direction
// keeps flowing. It returns nil on a clean EOF, or the error that ended the
// copy (errIdle for an idle timeout or a write stuck for the idle period).
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
	spliceable := !ps.noSplice && canSplice(dst, src)
	var buf *[]byte
	if !spliceable {
		buf = bufPool.Get().(*[]byte)
		defer bufPool.Put(buf)
	}
	tick := ps.idle / 2
	for {
		var writeDeadline time.Time
		if tick > 0 {
			readDeadline := time.Now().Add(tick)
			writeDeadline = readDeadline.Add(ps.idle)
			_ = src.SetReadDeadline(readDeadline)
			_ = dst.SetWriteDeadline(writeDeadline)
		}
		var n int64
		var err error
		if spliceable {
			n, err = io.Copy(dst, src)
		} else {
			n, err = io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *buf)
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

// writerOnly and readerOnly hide ReadFrom/WriteTo so io.CopyBuffer uses the
// pooled buffer instead of allocating one per call.
type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }
