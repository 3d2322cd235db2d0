// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// logHost is host-proxy's log route stand-in: it accepts connections and,
// unless stuck, decodes every record.
type logHost struct {
	l     net.Listener
	mu    sync.Mutex
	recs  []LogRecord
	stuck bool // accept, never read
}

func startLogHost(t *testing.T, stuck bool) *logHost {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &logHost{l: l, stuck: stuck}
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			conns = append(conns, c)
			h.mu.Unlock()
			if stuck {
				continue
			}
			go func() {
				sc := bufio.NewScanner(c)
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					var r LogRecord
					if json.Unmarshal(sc.Bytes(), &r) == nil {
						h.mu.Lock()
						h.recs = append(h.recs, r)
						h.mu.Unlock()
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		h.mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		h.mu.Unlock()
	})
	return h
}

func (h *logHost) records() []LogRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]LogRecord(nil), h.recs...)
}

func newForwarder(t *testing.T, addr string, queue int) (*LogForwarder, func()) {
	t.Helper()
	f, err := NewLogForwarder(&LogForwarderConfig{Addr: "tcp://" + addr, Queue: queue, MaxLine: 64,
		WriteWait: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	return f, func() { cancel(); <-done }
}

func TestLogForwarder(t *testing.T) {
	h := startLogHost(t, false)
	f, stop := newForwarder(t, h.l.Addr().String(), 100)
	out, errw := f.Writer("stdout"), f.Writer("stderr")
	fmt.Fprint(out, "first line\nsecond ")
	fmt.Fprint(errw, "an error\n")
	fmt.Fprint(out, "line\n"+strings.Repeat("x", 150)+"\nno newline")
	out.Close()
	want := []string{"stdout first line", "stderr an error", "stdout second line",
		"stdout " + strings.Repeat("x", 64), "stdout " + strings.Repeat("x", 64), "stdout " + strings.Repeat("x", 22), "stdout no newline"}
	waitUntil(t, fmt.Sprintf("the host has %d records", len(want)), func() bool { return len(h.records()) >= len(want) })
	stop()
	var got []string
	for _, r := range h.records() {
		got = append(got, r.Stream+" "+r.Line)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("host got\n%q\nwant\n%q", got, want)
	}
	if s := f.Stats(); s.Forwarded != uint64(len(want)) || s.DroppedLines != 0 || s.Split != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// TestLogForwarderBackPressure: a host that never reads must not slow the
// application down; lines beyond the queue are dropped and counted (a
// writer that waited for room instead would drop nothing).
func TestLogForwarderBackPressure(t *testing.T) {
	h := startLogHost(t, true)
	f, stop := newForwarder(t, h.l.Addr().String(), 256)
	defer stop()
	w := f.Writer("stdout")
	const lines = 100000
	line := strings.Repeat("y", 60) + "\n"
	start := time.Now()
	written := make(chan error, 1)
	var n atomic.Int64
	go func() {
		for range lines {
			if _, err := w.Write([]byte(line)); err != nil {
				written <- err
				return
			}
			n.Add(1)
		}
		written <- nil
	}()
	// Waiting a WriteWait (200 ms) per line past the queue would take
	// hours; a minute is far beyond what a loaded machine needs for the
	// 100,000 lines (about a second here under the race detector).
	select {
	case err := <-written:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("writing blocked: %d lines of %d in %v", n.Load(), lines, time.Since(start))
	}
	el := time.Since(start)
	s := f.Stats()
	if s.DroppedLines == 0 || s.DroppedBytes != 60*s.DroppedLines {
		t.Fatalf("a stuck host, %d lines: stats %+v", lines, s)
	}
	queued := uint64(len(f.queue))
	if s.Forwarded+s.DroppedLines+queued > lines || s.Forwarded+s.DroppedLines+queued < lines-1 {
		t.Fatalf("%d forwarded + %d dropped + %d queued != %d lines (one may be in flight)", s.Forwarded, s.DroppedLines, queued, lines)
	}
	t.Logf("%d lines written in %v against a stuck host: %+v", lines, el, s)
}

// TestLogForwarderNeverWaitsForRoom: with nothing draining the queue (the
// sender stuck on the host for good), every line past the queue is dropped
// at once. A writer that waited for room, even only WriteWait (200 ms) per
// line, would take hours for these lines instead of about a second.
func TestLogForwarderNeverWaitsForRoom(t *testing.T) {
	f, err := NewLogForwarder(&LogForwarderConfig{Addr: "tcp://127.0.0.1:1", Queue: 256, MaxLine: 64,
		WriteWait: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// No Run: nothing takes lines off the queue.
	w := f.Writer("stdout")
	const lines = 100000
	line := strings.Repeat("z", 60) + "\n"
	written := make(chan struct{})
	var n atomic.Int64
	go func() {
		defer close(written)
		for range lines {
			_, _ = w.Write([]byte(line))
			n.Add(1)
		}
	}()
	select {
	case <-written:
	case <-time.After(waitLimit):
		t.Fatalf("writing waited for room: %d lines of %d in %v", n.Load(), lines, waitLimit)
	}
	if s := f.Stats(); s.DroppedLines != lines-256 || len(f.queue) != 256 || s.Forwarded != 0 {
		t.Fatalf("%d lines into a queue of 256 nobody drains: %d queued, stats %+v", lines, len(f.queue), s)
	}
}

// TestLogForwarderReportsDrops: while the host is away lines are dropped;
// the first record that reaches it afterwards says how many.
func TestLogForwarderReportsDrops(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // the host is away
	clk := &manualClock{now: time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)}
	f, err := NewLogForwarder(&LogForwarderConfig{Addr: "tcp://" + addr, Queue: 8, MaxLine: 64,
		WriteWait: 200 * time.Millisecond, Clock: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { f.Run(ctx); close(ran) }()
	defer func() { cancel(); <-ran }()
	for i := range 20 {
		f.Record("stdout", fmt.Sprint("lost ", i))
	}
	waitUntil(t, "20 lines dropped", func() bool { return f.Stats().DroppedLines >= 20 })
	if s := f.Stats(); s.DroppedLines != 20 || s.Forwarded != 0 {
		t.Fatalf("host away: %+v", s)
	}
	// The host comes back on the same address.
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	h := &logHost{l: l2}
	go func() {
		c, err := l2.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			var r LogRecord
			_ = json.Unmarshal(sc.Bytes(), &r)
			h.mu.Lock()
			h.recs = append(h.recs, r)
			h.mu.Unlock()
		}
	}()
	defer l2.Close()
	// Within the dial backoff (1 s) the forwarder does not try: the line
	// is dropped too.
	f.Record("stdout", "also lost")
	waitUntil(t, "21 lines dropped", func() bool { return f.Stats().DroppedLines >= 21 })
	clk.Add(time.Second) // the backoff passes
	f.Record("stdout", "back")
	waitUntil(t, "the host has the line after the gap", func() bool { return len(h.records()) > 0 })
	recs := h.records()
	if len(recs) != 1 || recs[0].Line != "back" || recs[0].Dropped != 21 {
		t.Fatalf("after the gap the host got %+v, want the line with dropped=21", recs)
	}
}
