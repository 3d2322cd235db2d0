// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// pipeListener accepts at once, every time: a connection always waits.
type pipeListener struct {
	net.Listener // nil: only Accept and Close are called
	accepted     atomic.Int32
}

func (l *pipeListener) Accept() (net.Conn, error) {
	l.accepted.Add(1)
	c, s := net.Pipe()
	s.Close()
	return c, nil
}

func (l *pipeListener) Close() error { return nil }

// TestRateListener drives the handshake limiter's token bucket with a
// fake clock: a full bucket lets HandshakeBurst connections through at
// once; the next waits exactly 1/MaxHandshakeRate of the clock's time,
// and is not accepted a moment before; a quiet hour refills the bucket to
// HandshakeBurst, not beyond; Close ends a wait with net.ErrClosed.
func TestRateListener(t *testing.T) {
	const perSec, burst = 10, 3
	clk := NewFakeClock(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	inner := &pipeListener{}
	l := newRateListener(inner, perSec, burst, clk.Now, clk.Sleep)
	accepted := make(chan error, 1)
	acceptLater := func() {
		go func() {
			c, err := l.Accept()
			if err == nil {
				c.Close()
			}
			accepted <- err
		}()
	}
	full := func() {
		t.Helper()
		for i := range burst {
			c, err := l.Accept()
			if err != nil {
				t.Fatalf("Accept %d of a full bucket: %v", i+1, err)
			}
			c.Close()
		}
		if len(clk.Slept) != 0 {
			t.Fatalf("a full bucket of %d waited %v", burst, <-clk.Slept)
		}
	}
	waits := func(want time.Duration) {
		t.Helper()
		if d := clk.NextSleep(t); d != want {
			t.Fatalf("Accept waits %v for a token, want %v", d, want)
		}
	}

	full()
	acceptLater()
	waits(time.Second / perSec)
	clk.Advance(time.Second/perSec - time.Nanosecond)
	select {
	case err := <-accepted:
		t.Fatalf("accepted a nanosecond before its token (%v)", err)
	default:
	}
	clk.Advance(time.Nanosecond)
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatalf("Accept once its token is due: %v", err)
		}
	case <-time.After(time.Minute): // only turns a hang into a failure
		t.Fatal("not accepted once its token is due")
	}
	if n := inner.accepted.Load(); n != burst+1 {
		t.Fatalf("%d connections accepted, want %d", n, burst+1)
	}

	clk.Advance(time.Hour)
	full()
	acceptLater()
	waits(time.Second / perSec)
	if n := inner.accepted.Load(); n != 2*burst+1 {
		t.Fatalf("after a quiet hour: %d connections accepted, want %d", n, 2*burst+1)
	}
	l.Close()
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept waiting when closed: %v, want net.ErrClosed", err)
		}
	case <-time.After(time.Minute): // only turns a hang into a failure
		t.Fatal("Close did not end a waiting Accept")
	}
}
