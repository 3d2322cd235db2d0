// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// Defaults for [LogForwarderConfig].
const (
	DefaultLogQueue = 4096
	// DefaultLogQueueBytes bounds the bytes of the lines waiting for the
	// host: a host that never reads keeps the queue full as long as it
	// likes, so the queue's size is memory the parent can take.
	DefaultLogQueueBytes = 4 << 20
	DefaultMaxLogLine    = 16 << 10
	DefaultLogWriteWait  = 5 * time.Second
)

// LogRecord is one line on the wire to host-proxy's log route, as a JSON
// line: the time (Unix nanoseconds, to the millisecond only: a finer
// enclave clock reading would time the application's work for the host
// better than the line's arrival does), the stream ("stdout", "stderr", or "exit" for the
// supervisor's exit report), the line without its newline, and how many
// lines were dropped since the previous record that reached the host.
type LogRecord struct {
	Time    int64  `json:"t"`
	Stream  string `json:"stream"`
	Line    string `json:"line"`
	Dropped uint64 `json:"dropped,omitempty"`
}

// LogStats counts what a [LogForwarder] did.
type LogStats struct {
	// Forwarded is the number of records written to the host.
	Forwarded uint64
	// DroppedLines and DroppedBytes count lines dropped because the queue
	// was full (Queue lines or QueueBytes bytes: the host slow or
	// unreachable), or lost in a write that failed.
	DroppedLines, DroppedBytes uint64
	// Split counts lines longer than MaxLine, sent in pieces.
	Split uint64
}

// LogForwarderConfig configures a [LogForwarder].
type LogForwarderConfig struct {
	// Addr is host-proxy's log route, e.g. vsock://3:8005. Required unless
	// Dial is set.
	Addr string
	// Dial connects to the host; nil dials Addr.
	Dial func(ctx context.Context) (net.Conn, error)
	// Queue is how many lines wait for the host at most; 0 is
	// DefaultLogQueue. Beyond it lines are dropped, never waited for.
	Queue int
	// QueueBytes is how many bytes of lines (after invalid UTF-8 is
	// replaced) wait for the host at most; 0 is DefaultLogQueueBytes.
	// Beyond it lines are dropped, as beyond Queue.
	QueueBytes int
	// MaxLine splits longer lines; 0 is DefaultMaxLogLine.
	MaxLine int
	// WriteWait bounds one write to the host; 0 is DefaultLogWriteWait.
	WriteWait time.Duration
	// Echo, when set, also receives every line (e.g. the enclave console).
	// It is written to from the application's side: give a writer that
	// does not block.
	Echo io.Writer
	// Clock stamps records and times the reconnection backoff; nil is
	// time.Now.
	Clock func() time.Time
	// Logger; nil is slog.Default().
	Logger *slog.Logger
}

// LogForwarder sends lines to the host over a connection it keeps open,
// from a bounded queue: writers ([LogForwarder.Writer]) never block on the
// host, and a full queue drops the line and counts it ([LogForwarder.Stats]);
// the next record that reaches the host carries the count, so the host's log
// shows the gap.
type LogForwarder struct {
	cfg   LogForwarderConfig
	queue chan LogRecord

	forwarded, droppedLines, droppedBytes, split atomic.Uint64
	queuedBytes                                  atomic.Int64  // bytes of the lines in queue
	pendingDrops                                 atomic.Uint64 // not yet reported to the host
}

// NewLogForwarder checks cfg and returns a forwarder; call Run to send.
func NewLogForwarder(cfg *LogForwarderConfig) (*LogForwarder, error) {
	c := *cfg
	if c.Dial == nil {
		if c.Addr == "" {
			return nil, errors.New("boot: log forwarder needs an address")
		}
		a, err := transport.ParseAddr(c.Addr)
		if err != nil {
			return nil, fmt.Errorf("boot: log route: %w", err)
		}
		c.Dial = func(ctx context.Context) (net.Conn, error) { return transport.Dial(ctx, a) }
	}
	if c.Queue <= 0 {
		c.Queue = DefaultLogQueue
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultLogQueueBytes
	}
	if c.MaxLine <= 0 {
		c.MaxLine = DefaultMaxLogLine
	}
	if c.WriteWait <= 0 {
		c.WriteWait = DefaultLogWriteWait
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &LogForwarder{cfg: c, queue: make(chan LogRecord, c.Queue)}, nil
}

// Stats returns the counters so far.
func (f *LogForwarder) Stats() LogStats {
	return LogStats{Forwarded: f.forwarded.Load(), DroppedLines: f.droppedLines.Load(),
		DroppedBytes: f.droppedBytes.Load(), Split: f.split.Load()}
}

// Record queues one line of stream without blocking; it reports whether the
// line was queued (false: dropped and counted, when the queue holds Queue
// lines or QueueBytes bytes).
func (f *LogForwarder) Record(stream, line string) bool {
	if !utf8.ValidString(line) {
		line = string([]rune(line)) // invalid bytes become U+FFFD
	}
	if f.cfg.Echo != nil {
		_, _ = io.WriteString(f.cfg.Echo, line+"\n")
	}
	if f.queuedBytes.Add(int64(len(line))) > int64(f.cfg.QueueBytes) {
		f.queuedBytes.Add(-int64(len(line)))
		f.drop(1, len(line))
		return false
	}
	select {
	case f.queue <- LogRecord{Time: f.cfg.Clock().Truncate(time.Millisecond).UnixNano(), Stream: stream, Line: line}:
		return true
	default:
		f.queuedBytes.Add(-int64(len(line)))
		f.drop(1, len(line))
		return false
	}
}

func (f *LogForwarder) drop(lines, bytes int) {
	f.droppedLines.Add(uint64(lines))
	f.droppedBytes.Add(uint64(bytes))
	f.pendingDrops.Add(uint64(lines))
}

// Writer returns a writer for stream (e.g. "stdout") that splits what it is
// given into lines and queues them; Write never blocks on the host and
// always reports success. Close flushes a last line without a newline;
// the writer takes lines again after it (a restarted application's).
func (f *LogForwarder) Writer(stream string) io.WriteCloser {
	return &lineWriter{f: f, stream: stream}
}

type lineWriter struct {
	f      *LogForwarder
	stream string
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := indexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			// Only a buffer longer than MaxLine is cut: one of exactly
			// MaxLine bytes may end inside a character whose rest, or the
			// line's newline, comes in the next write.
			for len(w.buf) > w.f.cfg.MaxLine {
				n := runeCut(w.buf, w.f.cfg.MaxLine)
				w.f.split.Add(1)
				w.f.Record(w.stream, string(w.buf[:n]))
				w.buf = append(w.buf[:0], w.buf[n:]...)
			}
			break
		}
		line := append(w.buf, p[:i]...)
		for len(line) > w.f.cfg.MaxLine {
			n := runeCut(line, w.f.cfg.MaxLine)
			w.f.split.Add(1)
			w.f.Record(w.stream, string(line[:n]))
			line = line[n:]
		}
		w.f.Record(w.stream, string(line))
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.f.Record(w.stream, string(w.buf))
		w.buf = nil
	}
	return nil
}

// runeCut returns where to split b to at most max bytes without cutting a
// UTF-8 sequence in two (max itself when b holds no rune start there).
func runeCut(b []byte, max int) int {
	if len(b) <= max {
		return len(b)
	}
	for n := max; n > 0 && n > max-utf8.UTFMax; n-- {
		if utf8.RuneStart(b[n]) {
			return n
		}
	}
	return max
}

func indexByte(p []byte, c byte) int {
	for i, b := range p {
		if b == c {
			return i
		}
	}
	return -1
}

// Run sends queued records to the host until ctx is done, reconnecting with
// a backoff (1 s doubling to 30 s) when the host is away; lines that come
// while it waits are dropped. When ctx is done it sends what is still
// queued, with one last dial if it has no connection (the backoff no
// longer applies), for at most WriteWait in total from that moment: a dial
// or write under way when ctx ends is not cancelled but is bounded by the
// same WriteWait, so a host that never accepts or never reads holds Run
// no longer. What is left then is dropped and counted, and Run returns:
// once it has, [LogForwarder.Stats] counts every record queued before.
func (f *LogForwarder) Run(ctx context.Context) {
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	// stopBy is when everything must be done once ctx is done: set by
	// whichever comes first, the AfterFunc or the drain below, so that an
	// operation started before Run saw ctx end is bounded as well.
	var stopBy atomic.Int64
	markStop := func() { stopBy.CompareAndSwap(0, time.Now().Add(f.cfg.WriteWait).UnixNano()) }
	defer context.AfterFunc(ctx, markStop)()
	// deadline bounds one dial or write: WriteWait, and never past stopBy.
	deadline := func() time.Time {
		d := time.Now().Add(f.cfg.WriteWait)
		if s := stopBy.Load(); s != 0 && time.Unix(0, s).Before(d) {
			d = time.Unix(0, s)
		}
		return d
	}
	backoff := time.Second
	var nextDial time.Time
	send := func(r LogRecord) {
		if conn == nil {
			if f.cfg.Clock().Before(nextDial) {
				f.drop(1, len(r.Line))
				return
			}
			// Not cancelled with ctx: the stop must not lose the record
			// being sent (often the application's last line, or its exit
			// report); deadline bounds it instead.
			dctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline())
			c, err := f.cfg.Dial(dctx)
			cancel()
			if err != nil {
				f.cfg.Logger.Debug("boot: log route unreachable", slog.String("error", err.Error()))
				nextDial = f.cfg.Clock().Add(backoff)
				backoff = min(2*backoff, 30*time.Second)
				f.drop(1, len(r.Line))
				return
			}
			conn, backoff = c, time.Second
		}
		r.Dropped = f.pendingDrops.Swap(0)
		b, _ := json.Marshal(r)
		_ = conn.SetWriteDeadline(deadline())
		if _, err := conn.Write(append(b, '\n')); err != nil {
			conn.Close()
			conn = nil
			f.pendingDrops.Add(r.Dropped)
			f.drop(1, len(r.Line))
			return
		}
		f.forwarded.Add(1)
	}
	take := func(r LogRecord) LogRecord {
		f.queuedBytes.Add(-int64(len(r.Line)))
		return r
	}
	for ctx.Err() == nil {
		select {
		case r := <-f.queue:
			send(take(r))
		case <-ctx.Done():
		}
	}
	markStop()
	nextDial = time.Time{} // one last try for what is left
	for stop := time.Unix(0, stopBy.Load()); time.Now().Before(stop); {
		select {
		case r := <-f.queue:
			send(take(r))
			continue
		default:
		}
		return
	}
	// Out of time: count what is left (not what a writer still adds).
	for range len(f.queue) {
		select {
		case r := <-f.queue:
			f.drop(1, len(take(r).Line))
		default:
			return
		}
	}
}
