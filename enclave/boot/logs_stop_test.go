// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

// stopTestDial is a LogForwarderConfig.Dial whose first call blocks until
// release is closed (the host slow to accept), then fails with firstErr or,
// if nil, connects to addr; later calls connect at once. dialing is closed
// when the first call starts.
type stopTestDial struct {
	addr     string
	firstErr error
	release  chan struct{}
	dialing  chan struct{}
	once     sync.Once
	mu       sync.Mutex
	calls    int
}

func newStopTestDial(addr string, firstErr error) *stopTestDial {
	return &stopTestDial{addr: addr, firstErr: firstErr, release: make(chan struct{}), dialing: make(chan struct{})}
}

func (d *stopTestDial) Dial(ctx context.Context) (net.Conn, error) {
	d.mu.Lock()
	d.calls++
	first := d.calls == 1
	d.mu.Unlock()
	if first {
		d.once.Do(func() { close(d.dialing) })
		select {
		case <-d.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if d.firstErr != nil {
			return nil, d.firstErr
		}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", d.addr)
}

// TestLogForwarderStopKeepsTheDialInFlight: the application prints its last
// line and exits, init queues the exit report and stops the forwarder at
// once. A record Run has already taken from the queue while it dials the
// host must not lose that dial to the stop: the application's last words
// and its exit status are what the operator most needs.
func TestLogForwarderStopKeepsTheDialInFlight(t *testing.T) {
	h := startLogHost(t, false)
	d := newStopTestDial(h.l.Addr().String(), nil)
	f, err := NewLogForwarder(&LogForwarderConfig{Dial: d.Dial, WriteWait: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { f.Run(ctx); close(ran) }()
	f.Record("stderr", "panic: cannot open the sealed key")
	f.Record("exit", `{"code":2,"restarts":0,"runtime_ns":1000000}`)
	<-d.dialing // Run has taken the first record and is dialling
	cancel()    // init: Supervise returned
	close(d.release)
	<-ran
	waitUntil(t, "the host has 2 records", func() bool { return len(h.records()) >= 2 })
	if recs := h.records(); len(recs) != 2 || recs[0].Stream != "stderr" || recs[1].Stream != "exit" {
		t.Fatalf("the host got %+v; stats %+v", recs, f.Stats())
	}
	if s := f.Stats(); s.Forwarded != 2 || s.DroppedLines != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestLogForwarderStopRetriesDuringBackoff: the host was not listening yet
// when the first line came (a dial failed, so the forwarder waits 1 s
// before the next), and the application exits within that second. What is
// left in the queue when Run stops gets one last dial, not dropped untried
// for the backoff; the host learns of the line lost before.
func TestLogForwarderStopRetriesDuringBackoff(t *testing.T) {
	h := startLogHost(t, false)
	d := newStopTestDial(h.l.Addr().String(), errors.New("connection refused"))
	f, err := NewLogForwarder(&LogForwarderConfig{Dial: d.Dial, WriteWait: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { f.Run(ctx); close(ran) }()
	f.Record("stdout", "starting")
	<-d.dialing
	f.Record("stderr", "panic: cannot open the sealed key")
	f.Record("exit", `{"code":2,"restarts":0,"runtime_ns":1000000}`)
	cancel()
	close(d.release) // the first dial fails: "starting" is lost, the backoff starts
	<-ran
	waitUntil(t, "the host has 2 records", func() bool { return len(h.records()) >= 2 })
	recs := h.records()
	if len(recs) != 2 || recs[0].Stream != "stderr" || recs[0].Dropped != 1 || recs[1].Stream != "exit" {
		t.Fatalf("the host got %+v, want the last two records, the first with dropped=1; stats %+v", recs, f.Stats())
	}
}

// deadlineConn records the write deadlines set on it.
type deadlineConn struct {
	net.Conn
	set func(time.Time)
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.set(t)
	return c.Conn.SetWriteDeadline(t)
}

// TestLogForwarderStopIsBounded: Run sends what is left for at most
// WriteWait after its context is done, in total, however the parent
// behaves: a parent that never accepts the connection, or accepts it and
// never reads, holds the enclave's shutdown (init exits after Run) no
// longer than that. Every dial and write Run starts carries a deadline
// within WriteWait of the stop; what could not be sent is counted as
// dropped.
func TestLogForwarderStopIsBounded(t *testing.T) {
	const wait = time.Second
	for _, tc := range []struct {
		name string
		dial func(ctx context.Context, note func(time.Time)) (net.Conn, error)
	}{
		{"never accepts", func(ctx context.Context, note func(time.Time)) (net.Conn, error) {
			if d, ok := ctx.Deadline(); ok {
				note(d)
			} else {
				note(time.Now().Add(time.Hour))
			}
			<-ctx.Done()
			return nil, ctx.Err()
		}},
		{"never reads", func(ctx context.Context, note func(time.Time)) (net.Conn, error) {
			c, s := net.Pipe() // nobody reads s
			t.Cleanup(func() { s.Close() })
			return &deadlineConn{Conn: c, set: note}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var deadlines []time.Time
			inFlight := make(chan struct{}, 16)
			note := func(d time.Time) {
				mu.Lock()
				deadlines = append(deadlines, d)
				mu.Unlock()
				inFlight <- struct{}{}
			}
			f, err := NewLogForwarder(&LogForwarderConfig{WriteWait: wait, Logger: slog.New(slog.DiscardHandler),
				Dial: func(ctx context.Context) (net.Conn, error) { return tc.dial(ctx, note) }})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan struct{})
			go func() { f.Run(ctx); close(ran) }()
			for _, l := range []string{"one", "two", "three"} {
				f.Record("stdout", l)
			}
			<-inFlight // a dial or a write is under way
			stopAt := time.Now()
			cancel()
			select {
			case <-ran:
			case <-time.After(waitLimit):
				t.Fatalf("Run still sending %v after the stop", waitLimit)
			}
			el := time.Since(stopAt)
			// The deadlines are exact; the tolerance is for the moment Run
			// learns of the stop, after stopAt.
			mu.Lock()
			defer mu.Unlock()
			for _, d := range deadlines {
				if over := d.Sub(stopAt.Add(wait)); over > wait/4 {
					t.Errorf("an operation's deadline %v past the stop plus WriteWait (deadlines %v after the stop)", over, sinceAll(deadlines, stopAt))
				}
			}
			if el > wait+wait/2 {
				t.Errorf("Run returned %v after the stop, WriteWait %v", el, wait)
			}
			if s := f.Stats(); s.Forwarded != 0 || s.DroppedLines != 3 || len(f.queue) != 0 {
				t.Errorf("stats %+v, %d still queued; want all 3 lines counted as dropped", s, len(f.queue))
			}
		})
	}
}

func sinceAll(ts []time.Time, from time.Time) []time.Duration {
	var ds []time.Duration
	for _, t := range ts {
		ds = append(ds, t.Sub(from))
	}
	return ds
}
