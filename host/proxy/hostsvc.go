// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// timeHandler serves GET /v1/time: the parent's clock as
// {"unix_nano": N}, for enclave-agent init --time-from (which bounds how far
// it lets this answer move the enclave's clock).
func (p *Proxy) timeHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/time", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]int64{"unix_nano": p.cfg.Clock().UnixNano()})
	})
	return mux
}

// Limits of the logs route.
const (
	// maxLogLine bounds a record: the enclave splits lines at 16 KiB, and
	// JSON escapes a byte in at most 6 (\u0001, \u003c), so 96 KiB plus
	// the record's own fields; a longer record ends the connection.
	maxLogLine      = 128 << 10
	maxLogConns     = 8
	logConnIdleTime = 10 * time.Minute
	// maxLogPart bounds the escaped size of the part of an enclave line
	// written in one log line (splitLogLine): 32 KiB, well under
	// journald's default LineMax (48 KiB) with the record's attributes.
	// journald cuts a longer line into entries of its own, and the text
	// after the cut, chosen by the enclave, would read as host-proxy's own
	// entry.
	maxLogPart = 32 << 10
)

// splitLogLine cuts line into parts each written in at most maxLogPart
// bytes by slog's text or JSON handler, at rune boundaries; a line that
// fits is one part.
func splitLogLine(line string) []string {
	var parts []string
	for {
		head, rest := cutEscaped(line, maxLogPart)
		parts = append(parts, head)
		if rest == "" {
			return parts
		}
		line = rest
	}
}

// cutEscaped cuts s at the last rune boundary where slog's text or JSON
// handler writes the head in at most limit bytes (one rune at least).
func cutEscaped(s string, limit int) (head, rest string) {
	size := 0
	for i, r := range s {
		size += escapedSize(r)
		if size > limit && i > 0 {
			return s[:i], s[i:]
		}
	}
	return s, ""
}

// escapedSize is the most bytes slog's text handler (strconv.Quote) or
// JSON handler writes for r.
func escapedSize(r rune) int {
	switch {
	case r < 0x20, r == '<', r == '>', r == '&', r == '\u2028', r == '\u2029':
		return 6 // \u001b (JSON), \x1b (text)
	case r == '"', r == '\\':
		return 2
	case r < utf8.RuneSelf:
		if r == 0x7f {
			return 4 // \x7f
		}
		return 1
	case !unicode.IsPrint(r):
		return 10 // \U000e0001 at most
	}
	return utf8.RuneLen(r)
}

// logRecord is enclave/boot's LogRecord on the wire.
type logRecord struct {
	Time    int64  `json:"t"`
	Stream  string `json:"stream"`
	Line    string `json:"line"`
	Dropped uint64 `json:"dropped"`
}

// serveLogs accepts the enclave's log connections until the listener is
// closed, and writes every record to the proxy's log (journald under
// systemd) with the stream and the enclave's timestamp.
func (p *Proxy) serveLogs(ctx context.Context, l net.Listener) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxLogConns)
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		for c := range conns {
			c.Close()
		}
	})
	defer stop()
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			p.m.errors.WithLabelValues("logs", reasonLimit).Inc()
			if msg := "logs route: connection refused: too many"; p.connLog.allow("logs", msg) {
				p.log.Warn(msg, "route", "logs", "peer", transport.PeerString(c.RemoteAddr()), "max", maxLogConns, "reason", reasonLimit)
			}
			c.Close()
			continue
		}
		mu.Lock()
		conns[c] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() { mu.Lock(); delete(conns, c); mu.Unlock(); c.Close() }()
			p.readLogs(c)
		}()
	}
}

func (p *Proxy) readLogs(c net.Conn) {
	log := p.log.With("source", "enclave", "peer", transport.PeerString(c.RemoteAddr()))
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), maxLogLine)
	for {
		_ = c.SetReadDeadline(time.Now().Add(logConnIdleTime))
		if !sc.Scan() {
			if err := sc.Err(); err != nil && !errors.Is(err, net.ErrClosed) {
				switch {
				case errors.Is(err, bufio.ErrTooLong): // a record over maxLogLine
					p.m.enclaveLog.WithLabelValues("invalid").Inc()
				case errors.Is(err, os.ErrDeadlineExceeded):
					p.m.errors.WithLabelValues("logs", reasonIdle).Inc()
				default:
					p.m.errors.WithLabelValues("logs", reasonCopy).Inc()
				}
				if msg := "logs route: connection ended"; p.connLog.allow("logs", msg) {
					log.Warn(msg, "route", "logs", "error", err)
				}
			}
			return
		}
		var r logRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			p.m.enclaveLog.WithLabelValues("invalid").Inc()
			continue
		}
		if r.Dropped > 0 {
			p.m.logDropped.Add(float64(r.Dropped))
		}
		var parts []string // the log lines of a stdout or stderr record
		var st struct {    // an exit record's report
			Code     int    `json:"code"`
			Signal   string `json:"signal"`
			Restarts int    `json:"restarts"`
			Stopped  bool   `json:"stopped"`
		}
		switch r.Stream {
		case "stdout", "stderr":
			parts = splitLogLine(r.Line)
		case "exit":
			// A signal name is short (SIGTERM, "killed"): a long one is
			// no exit report, and would be logged unsplit.
			if json.Unmarshal([]byte(r.Line), &st) != nil || len(st.Signal) > 64 {
				p.m.enclaveLog.WithLabelValues("invalid").Inc()
				continue
			}
			parts = []string{""}
		default:
			p.m.enclaveLog.WithLabelValues("invalid").Inc()
			continue
		}
		lines := len(parts)
		if r.Dropped > 0 {
			lines++
		}
		if !p.logLimit.allow(lines) {
			p.m.enclaveLog.WithLabelValues("rate_limited").Inc()
			continue
		}
		p.m.enclaveLog.WithLabelValues(r.Stream).Inc()
		if r.Dropped > 0 {
			log.Warn("enclave log lines dropped (the host was slow or away)", "dropped", r.Dropped)
		}
		attrs := []any{"stream", r.Stream, "enclave_time", time.Unix(0, r.Time).UTC()}
		if r.Stream == "exit" {
			log.Warn("enclave application exited", append(attrs, "code", st.Code, "signal", st.Signal,
				"restarts", st.Restarts, "stopped", st.Stopped)...)
			continue
		}
		lvl := slog.LevelInfo
		if r.Stream == "stderr" {
			lvl = slog.LevelWarn
		}
		if len(parts) > 1 {
			for i, part := range parts {
				log.Log(context.Background(), lvl, part, append(attrs, "part", i+1, "parts", len(parts))...)
			}
			continue
		}
		log.Log(context.Background(), lvl, r.Line, attrs...)
	}
}

// DefaultLogLinesPerSecond is the logs route's MaxLinesPerSecond when
// zero: with its burst of ten seconds' worth, well under journald's
// default rate limit of 10000 messages per 30 s (333 a second) per unit,
// past which journald drops the proxy's own messages too.
const DefaultLogLinesPerSecond = 200

// newEnclaveLogLimiter is the logs route's budget of lines written to the
// proxy's log, shared by its connections (journald's limit is per unit):
// MaxLinesPerSecond, a burst of ten seconds' worth. Its report of the
// records dropped takes a line of the budget.
func newEnclaveLogLimiter(sc *ServiceConfig, now func() time.Time, log *slog.Logger) *logLimiter {
	n := DefaultLogLinesPerSecond
	if sc != nil && sc.MaxLinesPerSecond > 0 {
		n = sc.MaxLinesPerSecond
	}
	return newLogLimiter(float64(n), 10*n, now, func(dropped uint64, since time.Time) {
		log.Warn("enclave log lines dropped: over the logs route's rate limit", "dropped", dropped,
			"since", since.UTC(), "max_lines_per_second", n)
	})
}

// quoteBounded returns s quoted (strconv.Quote, invalid UTF-8 as U+FFFD),
// cut at a rune boundary to at most limit bytes as slog's text or JSON
// handler writes them, with "…" and the full length when cut: for values
// the peer chooses, logged or answered.
func quoteBounded(s string, limit int) string {
	head, rest := cutEscaped(strings.ToValidUTF8(s, "\uFFFD"), limit)
	if rest == "" {
		return strconv.Quote(head)
	}
	return strconv.Quote(head) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// Limits of the host service routes' HTTP servers (time, credentials)
// and of the admin endpoint (/healthz, /metrics): their requests are a
// bodiless GET with a few short headers, from the enclave over vsock or a
// local scraper, so a client that sends more, or slowly, or sits on
// an idle connection, is cut off early instead of holding a connection
// and a megabyte of header buffer (Go's defaults: 1 MB, no timeouts).
const (
	// serviceMaxHeaderBytes bounds the request line and headers (net/http
	// reads 4 KiB more before it refuses with 431).
	serviceMaxHeaderBytes    = 4 << 10
	serviceReadHeaderTimeout = 5 * time.Second
	// serviceReadTimeout covers headers and body (there is none).
	serviceReadTimeout = 5 * time.Second
	// serviceWriteTimeout covers the handler: a credentials refresh is up
	// to three IMDS requests of at most 5 s each.
	serviceWriteTimeout = 30 * time.Second
	serviceIdleTimeout  = 5 * time.Second
)

// newServiceServer returns the HTTP server of a host service route, with
// the limits above; log receives the server's own errors at WARN (nil:
// the standard logger).
func newServiceServer(h http.Handler, log *slog.Logger) *http.Server {
	s := &http.Server{Handler: h, MaxHeaderBytes: serviceMaxHeaderBytes,
		ReadHeaderTimeout: serviceReadHeaderTimeout, ReadTimeout: serviceReadTimeout,
		WriteTimeout: serviceWriteTimeout, IdleTimeout: serviceIdleTimeout}
	if log != nil {
		s.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return s
}
