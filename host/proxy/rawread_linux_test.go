// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	acc := make(chan net.Conn, 1)
	go func() { c, _ := l.Accept(); acc <- c }()
	a, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-acc
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestRawSource: one read(2) inside RawConn.Read's callback returns the
// data; a read that would block waits without a buffer and honours the read
// deadline; end of stream is io.EOF; a closed socket is net.ErrClosed.
func TestRawSource(t *testing.T) {
	a, b := tcpPair(t)
	src := newSource(b)
	if _, ok := src.(*rawSource); !ok {
		t.Fatalf("newSource(*net.TCPConn) = %T, want *rawSource", src)
	}
	_ = b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if buf, n, err := src.readBuf(nil); !errors.Is(err, os.ErrDeadlineExceeded) || buf != nil || n != 0 {
		t.Fatalf("nothing to read: got %v, %d, %v; want no buffer and os.ErrDeadlineExceeded", buf != nil, n, err)
	}
	_ = b.SetReadDeadline(time.Time{})
	if _, err := a.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf, n, err := src.readBuf(nil)
	if err != nil || string((*buf)[:n]) != "hello" || len(*buf) != smallBuf {
		t.Fatalf("got %q, %v (buffer %d bytes)", (*buf)[:n], err, len(*buf))
	}
	smallPool.Put(buf)
	large := largePool.Get().(*[]byte)
	if _, err := a.Write([]byte("bulk")); err != nil {
		t.Fatal(err)
	}
	if buf, n, err := src.readBuf(large); err != nil || buf != large || string((*buf)[:n]) != "bulk" {
		t.Fatalf("with a large buffer: got %v, %q, %v", buf == large, (*buf)[:n], err)
	}
	_ = a.(*net.TCPConn).CloseWrite()
	if _, n, err := src.readBuf(nil); err != io.EOF || n != 0 {
		t.Fatalf("after the peer's half-close: %d, %v; want io.EOF", n, err)
	}
	b.Close()
	if buf, _, err := src.readBuf(nil); !errors.Is(err, net.ErrClosed) || buf != nil {
		t.Fatalf("closed: %v, %v; want net.ErrClosed and no buffer", buf != nil, err)
	}
}

// TestRawSink: writes through RawConn.Write with write(2) outside the
// runtime's system-call bookkeeping deliver everything, wait while the
// socket is full and honour the write deadline, and report a closed socket
// and a peer that has gone.
func TestRawSink(t *testing.T) {
	a, b := tcpPair(t)
	w := newSink(a)
	if _, ok := w.(*rawSink); !ok {
		t.Fatalf("newSink(*net.TCPConn) = %T, want *rawSink", w)
	}
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	got := make(chan []byte)
	go func() { all, _ := io.ReadAll(b); got <- all }()
	if n, err := w.Write(big); err != nil || n != len(big) {
		t.Fatalf("wrote %d, %v", n, err)
	}
	_ = a.(*net.TCPConn).CloseWrite()
	if all := <-got; !bytes.Equal(all, big) {
		t.Fatalf("peer read %d bytes, not what was written", len(all))
	}

	c, d := tcpPair(t) // d never reads
	w = newSink(c)
	_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := w.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 || n == len(big) {
		t.Fatalf("to a peer that does not read: %d, %v; want part written and os.ErrDeadlineExceeded", n, err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	_ = d.(*net.TCPConn).SetLinger(0)
	d.Close() // reset: the next writes fail
	deadline := time.Now().Add(5 * time.Second)
	for err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		if time.Now().After(deadline) {
			t.Fatal("writes to a reset connection keep succeeding")
		}
		_, err = w.Write([]byte("x"))
	}
	var se *os.SyscallError
	if !errors.As(err, &se) {
		t.Fatalf("to a reset peer: %v; want an *os.SyscallError", err)
	}
	c.Close()
	if _, err := w.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed: %v; want net.ErrClosed", err)
	}
}
