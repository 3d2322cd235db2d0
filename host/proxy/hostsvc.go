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
	"sync"
	"time"

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
)

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
			p.log.Warn("logs route: connection refused: too many", "peer", transport.PeerString(c.RemoteAddr()), "max", maxLogConns)
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
				log.Warn("logs route: connection ended", "error", err)
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
			log.Warn("enclave log lines dropped (the host was slow or away)", "dropped", r.Dropped)
		}
		attrs := []any{"stream", r.Stream, "enclave_time", time.Unix(0, r.Time).UTC()}
		switch r.Stream {
		case "stdout", "stderr":
			p.m.enclaveLog.WithLabelValues(r.Stream).Inc()
			lvl := slog.LevelInfo
			if r.Stream == "stderr" {
				lvl = slog.LevelWarn
			}
			log.Log(context.Background(), lvl, r.Line, attrs...)
		case "exit":
			p.m.enclaveLog.WithLabelValues("exit").Inc()
			var st struct {
				Code     int    `json:"code"`
				Signal   string `json:"signal"`
				Restarts int    `json:"restarts"`
				Stopped  bool   `json:"stopped"`
			}
			if json.Unmarshal([]byte(r.Line), &st) != nil {
				p.m.enclaveLog.WithLabelValues("invalid").Inc()
				continue
			}
			log.Warn("enclave application exited", append(attrs, "code", st.Code, "signal", st.Signal,
				"restarts", st.Restarts, "stopped", st.Stopped)...)
		default:
			p.m.enclaveLog.WithLabelValues("invalid").Inc()
		}
	}
}
