// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// loads returns each worker's connection count.
func loads(e *engine) []int {
	var l []int
	for _, w := range e.workers {
		l = append(l, int(w.load.Load()))
	}
	return l
}

func spread(l []int) int {
	lo, hi := l[0], l[0]
	for _, v := range l {
		lo, hi = min(lo, v), max(hi, v)
	}
	return hi - lo
}

// TestEngineBalance: connections that arrive in a burst, one after the
// other as a client opening a pool does, or all at once from many
// clients, are spread over the workers; they do not pile up on the one
// that happened to be waiting (with every worker accepting on the
// listener through EPOLLEXCLUSIVE, 64 connections landed 8/56 or 63/1 on
// two workers). Every connection, handed on or not, is served.
func TestEngineBalance(t *testing.T) {
	up := startServer(t, echo)
	cfg := egressConfig(t, up)
	cfg.workers = 3
	cfg.Routes[0].MaxConnections = 1000
	p, _ := startProxy(t, cfg)
	check := func(what string, cs []net.Conn) {
		t.Helper()
		for _, c := range cs {
			exchange(t, c, []byte("balanced"))
		}
		l := loads(p.eng)
		if spread(l) > balanceSlack+1 {
			t.Errorf("%s: connections per worker %v: want within %d of each other", what, l, balanceSlack+1)
		}
		for i, w := range p.eng.workers[1:] {
			if w.adopted.Load() == 0 {
				t.Errorf("%s: worker %d was handed nothing", what, i+1)
			}
		}
	}
	var seq []net.Conn
	for range 90 {
		c := dialRoute(t, p, "r")
		defer c.Close()
		exchange(t, c, []byte("x"))
		seq = append(seq, c)
	}
	check("one after the other", seq)

	// A flood: 300 connections from 30 clients at once.
	var mu sync.Mutex
	var flood []net.Conn
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				c, err := net.Dial("tcp", p.Addr("r").String())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				flood = append(flood, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	defer closeAll(flood)
	waitUntil(t, "the flood is in", func() bool { return p.eng.active() == 390 })
	check("a flood", flood)

	closeAll(seq)
	closeAll(flood)
	waitUntil(t, "every connection has ended", func() bool { return p.eng.active() == 0 })
	if l := loads(p.eng); spread(l) != 0 || l[0] != 0 {
		t.Errorf("loads after every connection ended: %v", l)
	}
}

// TestEngineConcurrencyOneStays: one connection at a time stays on the
// accepting worker (a hand-off costs a wake-up of another thread), even
// though the previous connection's end may not be handled yet when the
// next one is accepted.
func TestEngineConcurrencyOneStays(t *testing.T) {
	up := startServer(t, echo)
	cfg := egressConfig(t, up)
	cfg.workers = 2
	p, _ := startProxy(t, cfg)
	for range 50 {
		c := dialRoute(t, p, "r")
		exchange(t, c, []byte("one at a time"))
		c.Close()
	}
	if n := p.eng.workers[1].adopted.Load(); n > 0 {
		t.Errorf("%d of 50 sequential connections handed off", n)
	}
}

// socketPair returns a non-blocking descriptor for the engine and the
// other end as a net.Conn.
func socketPair(t *testing.T) (int, net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "client")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return fds[0], c
}

// onWorker runs fn on w's loop and waits for it.
func onWorker(w *worker, fn func(*worker)) bool {
	d := make(chan struct{})
	if !w.post(wmsg{kind: msgCall, done: d, fn: fn}) {
		return false
	}
	<-d
	return true
}

// TestEngineHandOffToEndedWorker: a connection handed to a worker that has
// ended, or that stops before it reads its inbox, is never lost track of:
// the accepting worker serves it, or it is closed and uncounted (no
// descriptor leaks, the drain does not wait for it, Serve returns).
func TestEngineHandOffToEndedWorker(t *testing.T) {
	up := startServer(t, echo)
	cfg := egressConfig(t, up)
	cfg.workers = 2
	p, stop := startProxy(t, cfg)
	e := p.eng
	w0, w1 := e.workers[0], e.workers[1]
	base := countFDs(t)

	// Worker 1 is busy, then stops, then finds a connection handed to it
	// behind the stop.
	gate := make(chan struct{})
	w1.post(wmsg{kind: msgCall, done: make(chan struct{}), fn: func(*worker) { <-gate }})
	w1.post(wmsg{kind: msgStop})
	fd, behindStop := socketPair(t)
	defer behindStop.Close()
	onWorker(w0, func(w *worker) { w.give(w1, 0, fd, &unix.SockaddrUnix{}) })
	if n := e.active(); n != 1 {
		t.Fatalf("active %d after the hand-off, want 1", n)
	}
	close(gate)
	expectClosed(t, behindStop, 5*time.Second)
	waitUntil(t, "worker 1 has ended", func() bool {
		w1.mu.Lock()
		defer w1.mu.Unlock()
		return w1.closed
	})
	if n, l := e.active(), w1.load.Load(); n != 0 || l != 0 {
		t.Errorf("after the refused hand-off: active %d, worker 1's load %d; want 0, 0", n, l)
	}

	// Handed to the ended worker: the accepting worker serves it.
	fd, served := socketPair(t)
	defer served.Close()
	onWorker(w0, func(w *worker) { w.give(w1, 0, fd, &unix.SockaddrUnix{}) })
	exchange(t, served, []byte("served by the acceptor"))
	if l := w0.load.Load(); l != 1 {
		t.Errorf("worker 0's load %d, want 1", l)
	}
	// And through the listener: pick may choose worker 1, which has ended.
	var cs []net.Conn
	for range 6 {
		c := dialRoute(t, p, "r")
		defer c.Close()
		exchange(t, c, []byte("still served"))
		cs = append(cs, c)
	}
	served.Close()
	closeAll(cs)
	waitUntil(t, "every connection has ended", func() bool { return e.active() == 0 })
	if got := settle(base, func() int { return countFDs(t) - 2*int(w0.npipes.Load()) }); got > base {
		t.Errorf("descriptors: %d before, %d after", base, got)
	}
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return with a worker ended early")
	}
}

// TestEngineShutSettlesInbox: messages still queued when a worker ends
// are settled: a handed connection is closed and uncounted, a waiter is
// released, and later messages are refused.
func TestEngineShutSettlesInbox(t *testing.T) {
	up := startServer(t, echo)
	p, _ := startProxy(t, egressConfig(t, up))
	e := p.eng
	w := &worker{e: e} // never runs: as if it ended right after these were queued
	fd, c := socketPair(t)
	defer c.Close()
	p.wg.Add(1)
	e.count.Add(1)
	w.load.Add(1)
	waiter := make(chan struct{})
	w.inbox = []wmsg{{kind: msgAdopt, fd: fd, l: 0}, {kind: msgStopAccept, done: waiter}}
	w.shut()
	expectClosed(t, c, 5*time.Second)
	select {
	case <-waiter:
	case <-time.After(5 * time.Second):
		t.Fatal("a waiter on the ended worker was not released")
	}
	if n, l := e.active(), w.load.Load(); n != 0 || l != 0 {
		t.Errorf("active %d, load %d after shut; want 0, 0", n, l)
	}
	if w.post(wmsg{kind: msgStop}) {
		t.Error("an ended worker accepted a message")
	}
}
