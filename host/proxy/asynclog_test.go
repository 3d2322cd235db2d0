// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// blockingWriter is a log sink that stops once armed: every Write then
// blocks until Release (a stderr pipe nobody reads, journald stuck).
type blockingWriter struct {
	armed   atomic.Bool
	blocked chan struct{} // closed at the first Write once armed
	release chan struct{}
	once    sync.Once
	rel     sync.Once
	buf     syncBuffer
}

func newBlockingWriter() *blockingWriter {
	return &blockingWriter{blocked: make(chan struct{}), release: make(chan struct{})}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	if w.armed.Load() {
		w.once.Do(func() { close(w.blocked) })
		<-w.release
	}
	return w.buf.Write(p)
}

func (w *blockingWriter) Release() { w.rel.Do(func() { close(w.release) }) }

// The attack: while the proxy's log sink blocks, a client provokes log
// lines (connections to a route whose destination refuses, every accept
// logged at debug), and an unrelated connection on another route must
// keep transferring. A worker that wrote its log lines itself would stop
// in write(2), with every connection it serves.
func TestLogBlockedWriterDoesNotStallConnections(t *testing.T) {
	up := startServer(t, echo)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "tcp://" + dead.Addr().String()
	dead.Close() // refused from now on
	w := newBlockingWriter()
	defer w.Release()
	cfg := &Config{
		Routes: []Route{
			{Name: "ok", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: up.url()},
			{Name: "dead", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: deadURL},
		},
		AllowList: []AllowEntry{{Address: "127.0.0.1", Port: up.port()},
			{Address: "127.0.0.1", Port: dead.Addr().(*net.TCPAddr).Port}},
		Logger:     slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: prometheusRegistry(),
	}
	p, stop := startProxy(t, cfg)
	w.armed.Store(true)
	// Lines the attacker provokes: each connection's accept (debug) and
	// failed dial (warn).
	for range 50 {
		c := dialRoute(t, p, "dead") // accepted by the kernel, handled by a worker
		defer c.Close()
	}
	select {
	case <-w.blocked:
	case <-time.After(30 * time.Second):
		t.Fatal("the proxy logged nothing")
	}
	c := dialRoute(t, p, "ok")
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // generous: a stalled worker never answers
	for i := range 20 {
		msg := []byte(fmt.Sprintf("exchange %d while the log sink is blocked", i))
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
			t.Fatalf("exchange %d: got %q, %v", i, got, err)
		}
	}
	select {
	case <-w.release:
		t.Fatal("the sink was released early")
	default:
	}
	c.Close()
	w.Release()
	stop()
	out := w.buf.String()
	if !strings.Contains(out, "route ready") || !strings.Contains(out, "drained all connections") {
		t.Errorf("lines lost after the sink came back:\n%s", out)
	}
}

// recordingHandler writes each record's message to a buffer, blocking
// while gate is held.
type recordingHandler struct {
	gate *sync.Mutex
	mu   *sync.Mutex
	msgs *[]string
	attr string
}

func newRecordingHandler() *recordingHandler {
	return &recordingHandler{gate: &sync.Mutex{}, mu: &sync.Mutex{}, msgs: new([]string)}
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.gate.Lock()
	defer h.gate.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	m := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "dropped" {
			m += " dropped=" + a.Value.String()
		}
		return true
	})
	*h.msgs = append(*h.msgs, h.attr+m)
	return nil
}

func (h *recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	for _, a := range as {
		c.attr += a.Value.String() + ":"
	}
	return &c
}

func (h *recordingHandler) WithGroup(string) slog.Handler { return h }

func (h *recordingHandler) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), *h.msgs...)
}

func newTestQueue(t *testing.T, h slog.Handler, records, bytes int) (*asyncHandler, prometheus.Counter) {
	t.Helper()
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	a := newAsyncHandler(h, m.logRecordsDropped, time.Now)
	a.q.maxRecords, a.q.maxBytes = records, bytes
	return a, m.logRecordsDropped
}

// Past the queue's bound in records, records are dropped and counted, and
// one warning with their number follows once the writer works again.
func TestLogQueueDropsAndReports(t *testing.T) {
	h := newRecordingHandler()
	a, dropped := newTestQueue(t, h, 4, 1<<20)
	log := slog.New(a)
	h.gate.Lock() // the sink blocks
	log.Info("r0")
	waitUntil(t, "the writer holds r0", func() bool {
		a.q.mu.Lock()
		defer a.q.mu.Unlock()
		return a.q.n == 0
	})
	for i := 1; i <= 10; i++ {
		log.Info(fmt.Sprintf("r%d", i)) // r1-r4 queued, r5-r10 dropped
	}
	if n := metricValue(dropped); n != 6 {
		t.Errorf("hostproxy_log_dropped_records_total = %v, want 6", n)
	}
	h.gate.Unlock()
	if !a.q.flush(10 * time.Second) {
		t.Fatal("flush timed out")
	}
	want := []string{"r0", "r1", "r2", "r3", "r4", "log records dropped: the log writer was slow dropped=6"}
	got := h.got()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("written:\n%q\nwant:\n%q", got, want)
	}
	log.Info("after")
	a.q.flush(10 * time.Second)
	if got := h.got(); len(got) != len(want)+1 || got[len(want)] != "after" {
		t.Errorf("after recovery: %q (one report per recovery, no repeat)", got)
	}
}

// The queue is bounded in bytes too: a large record past the bound is
// dropped and counted, the next small one is kept.
func TestLogQueueByteBound(t *testing.T) {
	h := newRecordingHandler()
	a, dropped := newTestQueue(t, h, 100, 4096)
	log := slog.New(a)
	h.gate.Lock()
	log.Info("first")
	log.Info("big", "stack", strings.Repeat("x", 8192))
	log.Info("small")
	if n := metricValue(dropped); n != 1 {
		t.Errorf("dropped %v, want 1", n)
	}
	h.gate.Unlock()
	a.q.flush(10 * time.Second)
	got := strings.Join(h.got(), "|")
	if strings.Contains(got, "big") || !strings.Contains(got, "small") || !strings.Contains(got, "dropped=1") {
		t.Errorf("written: %s", got)
	}
	a.q.mu.Lock()
	defer a.q.mu.Unlock()
	if a.q.bytes != 0 || a.q.n != 0 {
		t.Errorf("after the flush: %d bytes, %d records accounted", a.q.bytes, a.q.n)
	}
}

// Records keep their order across the handlers derived with attrs (every
// connection's logger shares the queue), through the ring's growth.
func TestLogQueueKeepsOrder(t *testing.T) {
	h := newRecordingHandler()
	a, dropped := newTestQueue(t, h, 1000, 1<<20)
	log := slog.New(a)
	h.gate.Lock()
	var want []string
	for i := range 1000 {
		l := log
		if i%3 == 0 {
			l = log.With("c", i%7)
		}
		l.Info(itoa(i))
		if i%3 == 0 {
			want = append(want, fmt.Sprintf("%d:%d", i%7, i))
		} else {
			want = append(want, itoa(i))
		}
		if i == 10 {
			h.gate.Unlock() // the writer runs concurrently from here
		}
	}
	a.q.flush(10 * time.Second)
	if metricValue(dropped) != 0 {
		t.Fatalf("dropped %v", metricValue(dropped))
	}
	if got := h.got(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("order not kept:\n%q", got)
	}
}

// A record below the configured level is not queued: debug logging off
// costs the hot path nothing.
func TestLogQueueLevelFiltered(t *testing.T) {
	buf := &syncBuffer{}
	a, _ := newTestQueue(t, slog.NewTextHandler(buf, nil), 10, 1<<20)
	slog.New(a).Debug("filtered")
	a.q.mu.Lock()
	defer a.q.mu.Unlock()
	if a.q.n != 0 || a.q.writer != nil {
		t.Errorf("a filtered record was queued (%d records, writer %v)", a.q.n, a.q.writer != nil)
	}
}

// slowWriter takes d per Write.
type slowWriter struct {
	d   time.Duration
	buf syncBuffer
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.d)
	return w.buf.Write(p)
}

// When Serve returns every line is written (the shutdown's last line
// included), and the writer goroutine is gone.
func TestLogFlushedWhenServeReturns(t *testing.T) {
	up := startServer(t, echo)
	w := &slowWriter{d: 5 * time.Millisecond}
	cfg := egressConfig(t, up)
	cfg.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, stop := startProxy(t, cfg)
	for range 20 {
		c := dialRoute(t, p, "r")
		roundTrip(t, c, []byte("x"))
		c.Close()
	}
	stop()
	out := w.buf.String()
	if !strings.Contains(out, "drained all connections") {
		t.Fatalf("the last line is missing after Serve returned:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n < 22 {
		t.Errorf("%d lines written, want the 20 connections' and the start and stop:\n%s", n, out)
	}
	p.alog.q.mu.Lock()
	defer p.alog.q.mu.Unlock()
	if p.alog.q.writer != nil || p.alog.q.n != 0 {
		t.Errorf("after Serve: writer running %v, %d records queued", p.alog.q.writer != nil, p.alog.q.n)
	}
}

// The record of a worker's panic is written before the process ends even
// when the queue is full behind a slow sink: after a bounded flush it is
// handed to the handler directly, not behind the queue, and written before
// logFatal returns. The sink holds every write until that direct hand-over
// (no time decides the order): the flush cannot succeed, the writer is
// still on its first record when the panic's record reaches the handler,
// and then the sink is fast, so the record is written long before
// fatalTimeout, which here only turns a hang into a failure.
func TestLogFatalWrittenPastFullQueue(t *testing.T) {
	w := newGatedWriter()
	var writtenBefore atomic.Int64 // bytes written when the panic's record reached the handler; -1 before
	writtenBefore.Store(-1)
	h := &onErrorHandler{Handler: slog.NewTextHandler(w, nil), f: func() {
		writtenBefore.Store(int64(len(w.buf.String())))
		w.release()
	}}
	p := &Proxy{cfg: Config{Clock: time.Now}}
	a, dropped := newTestQueue(t, h, 50, 1<<20)
	a.q.flushTimeout, a.q.fatalTimeout = 200*time.Millisecond, time.Minute
	p.alog, p.log = a, slog.New(a)
	defer func() { w.release(); a.q.flush(time.Minute) }()
	for i := range 100 {
		p.log.Info("queued", "i", i)
	}
	if metricValue(dropped) == 0 {
		t.Fatal("the queue did not fill")
	}
	logFatalWithin(t, p, time.Minute)
	if n := writtenBefore.Load(); n != 0 {
		t.Errorf("the panic's record reached the handler after %d bytes of the queue (-1: never): want it before the queue", n)
	}
	if out := w.buf.String(); !regexp.MustCompile(`level=ERROR msg="event worker panicked: exiting" panic=injected`).MatchString(out) {
		t.Errorf("the panic's record is not written:\n%s", out)
	}
}

// A dead log sink cannot keep the process from ending: logFatal returns
// after its two bounded waits, its record unwritten.
func TestLogFatalReturnsPastDeadSink(t *testing.T) {
	w := newGatedWriter()
	p := &Proxy{cfg: Config{Clock: time.Now}}
	a, _ := newTestQueue(t, slog.NewTextHandler(w, nil), 50, 1<<20)
	a.q.flushTimeout, a.q.fatalTimeout = 50*time.Millisecond, 50*time.Millisecond
	p.alog, p.log = a, slog.New(a)
	defer func() { w.release(); a.q.flush(time.Minute) }()
	p.log.Info("queued")
	logFatalWithin(t, p, time.Minute)
	if out := w.buf.String(); out != "" {
		t.Errorf("the dead sink wrote:\n%s", out)
	}
}

// logFatalWithin logs the panic's record with logFatal, failing the test
// when that takes longer than limit (a bound far beyond logFatal's own
// waits, only to turn a hang into a failure).
func logFatalWithin(t *testing.T, p *Proxy, limit time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); p.logFatal("event worker panicked: exiting", "panic", "injected") }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("logFatal still waiting after %v", limit)
	}
}

// gatedWriter holds every write until release.
type gatedWriter struct {
	open chan struct{}
	once sync.Once
	buf  syncBuffer
}

func newGatedWriter() *gatedWriter { return &gatedWriter{open: make(chan struct{})} }

func (w *gatedWriter) release() { w.once.Do(func() { close(w.open) }) }

func (w *gatedWriter) Write(p []byte) (int, error) {
	<-w.open
	return w.buf.Write(p)
}

// onErrorHandler calls f before handing an ERROR record to Handler.
type onErrorHandler struct {
	slog.Handler
	f func()
}

func (h *onErrorHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelError {
		h.f()
	}
	return h.Handler.Handle(ctx, r)
}

// The dropped records are a series of the proxy's registry, under the
// name the documentation gives.
func TestLogDroppedMetricRegistered(t *testing.T) {
	p, err := New(&Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Logs: &ServiceConfig{Listen: unixListen(t, "logs.sock")}})
	if err != nil {
		t.Fatal(err)
	}
	p.m.logRecordsDropped.Add(3)
	fams, err := p.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "hostproxy_log_dropped_records_total" {
			if v := f.GetMetric()[0].GetCounter().GetValue(); v != 3 {
				t.Errorf("hostproxy_log_dropped_records_total = %v, want 3", v)
			}
			return
		}
	}
	t.Error("hostproxy_log_dropped_records_total is not registered")
}
