// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Bounds of the proxy's log queue (see [asyncHandler]): past either, new
// records are dropped and counted until the writer catches up.
const (
	// logQueueRecords bounds the records waiting to be written.
	logQueueRecords = 4096
	// logQueueBytes bounds their estimated size (see recordSize).
	logQueueBytes = 4 << 20
	// LogFlushTimeout is how long [Proxy.Serve] (and a worker about to
	// end the process) waits for the queued log records to be written.
	LogFlushTimeout = 5 * time.Second
)

// asyncHandler is the proxy's log handler: it queues each record for one
// goroutine that writes it to the configured handler, so that a slow log
// sink (journald busy, a stderr pipe nobody reads, a full disk) never
// blocks the event engine's workers, which serve thousands of connections
// each. Records keep their order (one queue for every handler derived with
// WithAttrs or WithGroup). Enabled is the configured handler's, so a record
// below the level costs no more than before.
type asyncHandler struct {
	q *logQueue
	h slog.Handler // the configured handler, with this handler's attrs and groups
}

// logQueue is the queue shared by an asyncHandler and those derived from
// it. Its writer goroutine runs only while there is something to write.
type logQueue struct {
	root         slog.Handler // the configured handler, for the drop report
	dropped      prometheus.Counter
	now          func() time.Time
	maxRecords   int
	maxBytes     int
	flushTimeout time.Duration // logFatal's wait for the queue
	fatalTimeout time.Duration // logFatal's wait for its own record, written directly

	mu      sync.Mutex
	ring    []logEntry // grows up to maxRecords
	head, n int
	bytes   int           // estimated size of the queued records and the one being written
	writer  chan struct{} // non-nil while the writer runs, closed when it exits
	pending uint64        // records dropped since the last report
}

type logEntry struct {
	h          slog.Handler
	ctx        context.Context
	r          slog.Record
	size       int
	dropsAfter uint64 // records dropped between this one and the next
}

func newAsyncHandler(h slog.Handler, dropped prometheus.Counter, now func() time.Time) *asyncHandler {
	return &asyncHandler{h: h, q: &logQueue{root: h, dropped: dropped, now: now,
		maxRecords: logQueueRecords, maxBytes: logQueueBytes,
		flushTimeout: LogFlushTimeout, fatalTimeout: LogFlushTimeout}}
}

// Enabled reports whether the configured handler handles level.
func (a *asyncHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return a.h.Enabled(ctx, level)
}

// Handle queues r for the writer, or drops and counts it when the queue
// is full. It never blocks on the writer and never fails.
func (a *asyncHandler) Handle(ctx context.Context, r slog.Record) error {
	a.q.push(a.h, ctx, r)
	return nil
}

// WithAttrs returns a handler with attrs that shares the queue.
func (a *asyncHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &asyncHandler{q: a.q, h: a.h.WithAttrs(attrs)}
}

// WithGroup returns a handler in group name that shares the queue.
func (a *asyncHandler) WithGroup(name string) slog.Handler {
	return &asyncHandler{q: a.q, h: a.h.WithGroup(name)}
}

func (q *logQueue) push(h slog.Handler, ctx context.Context, r slog.Record) {
	size := recordSize(r)
	q.mu.Lock()
	if q.n >= q.maxRecords || q.bytes+size > q.maxBytes {
		if q.n > 0 {
			q.ring[(q.head+q.n-1)%len(q.ring)].dropsAfter++
		} else {
			q.pending++ // after the record being written
		}
		q.mu.Unlock()
		q.dropped.Inc()
		return
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.n)%len(q.ring)] = logEntry{h: h, ctx: ctx, r: r.Clone(), size: size}
	q.n++
	q.bytes += size
	if q.writer == nil {
		q.writer = make(chan struct{})
		go q.write(q.writer)
	}
	q.mu.Unlock()
}

// grow doubles the ring, in order from index 0.
func (q *logQueue) grow() {
	ring := make([]logEntry, min(q.maxRecords, max(16, 2*len(q.ring))))
	for i := range q.n {
		ring[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	q.ring, q.head = ring, 0
}

// write is the writer goroutine: it writes the queued records in order,
// each gap of dropped records as a warning with their number in its place,
// and exits when the queue is empty.
func (q *logQueue) write(done chan struct{}) {
	defer close(done)
	var last int // size of the record just written
	for {
		q.mu.Lock()
		q.bytes -= last
		dropped := q.pending // after the record just written
		q.pending = 0
		if q.n == 0 && dropped == 0 {
			q.writer = nil
			q.mu.Unlock()
			return
		}
		var e logEntry
		if q.n > 0 {
			e = q.ring[q.head]
			q.ring[q.head] = logEntry{}
			q.head = (q.head + 1) % len(q.ring)
			q.n--
		}
		q.mu.Unlock()
		if dropped > 0 {
			q.report(dropped)
		}
		last = e.size
		if e.h != nil {
			_ = e.h.Handle(e.ctx, e.r)
		}
		if e.dropsAfter > 0 {
			q.report(e.dropsAfter)
		}
	}
}

// report logs how many records were dropped, once writing works again.
func (q *logQueue) report(n uint64) {
	ctx := context.Background()
	if !q.root.Enabled(ctx, slog.LevelWarn) {
		return
	}
	r := slog.NewRecord(q.now(), slog.LevelWarn, "log records dropped: the log writer was slow", 0)
	r.AddAttrs(slog.Uint64("dropped", n), slog.Int("queue_records", q.maxRecords), slog.Int("queue_bytes", q.maxBytes))
	_ = q.root.Handle(ctx, r)
}

// flush waits up to timeout for every queued record to be written; false
// when some were not.
func (q *logQueue) flush(timeout time.Duration) bool {
	q.mu.Lock()
	w := q.writer
	q.mu.Unlock()
	if w == nil {
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w:
		return true
	case <-t.C:
		return false
	}
}

// recordSize estimates the bytes r takes once written, for the queue's
// byte bound: the message, keys and strings (a panic's stack, an error)
// dominate.
func recordSize(r slog.Record) int {
	n := 64 + len(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		n += attrSize(a)
		return true
	})
	return n
}

func attrSize(a slog.Attr) int {
	n := len(a.Key) + 4
	switch v := a.Value; v.Kind() {
	case slog.KindString:
		n += len(v.String())
	case slog.KindGroup:
		for _, g := range v.Group() {
			n += attrSize(g)
		}
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			n += len(err.Error())
		} else {
			n += 64
		}
	default:
		n += 24
	}
	return n
}

// FlushLogs waits up to timeout for the proxy's queued log records to be
// written to Config.Logger's handler, and reports whether they were.
// [Proxy.Serve] does so (for [LogFlushTimeout]) before it returns; call it
// before the process exits after logging outside Serve. When it reports
// false the handler is stuck in a write, and the writer goroutine stays
// until that write returns.
func (p *Proxy) FlushLogs(timeout time.Duration) bool {
	if p.alog == nil {
		return true
	}
	return p.alog.q.flush(timeout)
}

// logFatal logs msg at ERROR before the process ends: after the queued
// records when they are written within the flush timeout, else directly
// (out of order, but written: the handler's own lock makes it wait for the
// record being written, not for the queue), waiting for that write as long
// again, so that a dead log sink cannot keep the process from exiting.
func (p *Proxy) logFatal(msg string, args ...any) {
	if p.alog == nil {
		return
	}
	q := p.alog.q
	q.flush(q.flushTimeout)
	ctx := context.Background()
	if !q.root.Enabled(ctx, slog.LevelError) {
		return
	}
	r := slog.NewRecord(q.now(), slog.LevelError, msg, 0)
	r.Add(args...)
	done := make(chan struct{})
	go func() { defer close(done); _ = q.root.Handle(ctx, r) }()
	t := time.NewTimer(q.fatalTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
