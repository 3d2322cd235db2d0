// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// journaldLineMax is systemd-journald's default LineMax (journald.conf):
// a longer line on the stderr host-proxy logs to under systemd is cut
// into several journal entries, each logged as host-proxy's own.
const journaldLineMax = 48 << 10

// TestLogsRouteLongLines is a compromised enclave (or its application,
// whose output the route relays) forging host-proxy journal entries:
// its line is longer than journald's LineMax once written to the proxy's
// log, so journald cuts it, and the text after the cut, which the enclave
// chose, becomes an entry of its own that reads like one host-proxy wrote
// (logfmt needs no quotes: time=... level=ERROR msg=...). Two ways to
// get there: a record of nearly the route's 128 KiB limit with plain
// text, and a line of the enclave's own maximum (16 KiB) made of control
// characters, which the text handler writes four bytes each. Every line
// the proxy writes must stay under LineMax, with nothing of the enclave's
// line lost: the proxy splits it into parts, each logged with part and
// parts.
func TestLogsRouteLongLines(t *testing.T) {
	forged := "time=2026-12-07T00:00:00.000Z level=ERROR msg=credentials-route-compromised"
	plain := strings.Repeat("a", 40<<10) + forged + strings.Repeat("b", 60<<10)
	controls := strings.Repeat("\x01", 16<<10)
	for _, tc := range []struct{ name, line string }{{"plain 100 KiB", plain}, {"16 KiB of control characters", controls}} {
		t.Run(tc.name, func(t *testing.T) {
			for _, format := range []string{"text", "json"} {
				p, buf := logsProxy(t, format)
				jl, _ := json.Marshal(tc.line)
				feedLogs(p, fmt.Appendf(nil, `{"t":1,"stream":"stdout","line":%s}`+"\n", jl))
				out := buf.String()
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				for i, l := range lines {
					if len(l) >= journaldLineMax {
						t.Fatalf("%s: log line %d of %d is %d bytes, journald cuts at %d", format, i, len(lines), len(l), journaldLineMax)
					}
				}
				if len(lines) < 2 || !strings.Contains(lines[0], "part=1") && !strings.Contains(lines[0], `"part":1`) {
					t.Fatalf("%s: %d lines, the first without its part: %.200s", format, len(lines), lines[0])
				}
				if got := joinParts(t, format, lines); got != tc.line {
					t.Fatalf("%s: the parts join to %d bytes, want the %d of the line", format, len(got), len(tc.line))
				}
			}
		})
	}
}

// joinParts reads the message of each log line back and joins them.
func joinParts(t *testing.T, format string, lines []string) string {
	t.Helper()
	var sb strings.Builder
	for _, l := range lines {
		if format == "json" {
			var rec struct{ Msg string }
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatal(err)
			}
			sb.WriteString(rec.Msg)
			continue
		}
		_, rest, ok := strings.Cut(l, " msg=")
		if !ok {
			t.Fatalf("no msg in %.100q", l)
		}
		if !strings.HasPrefix(rest, `"`) { // the text handler quotes only when needed
			m, _, _ := strings.Cut(rest, " ")
			sb.WriteString(m)
			continue
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			t.Fatalf("msg badly quoted: %.100q", rest)
		}
		m, _ := strconv.Unquote(q)
		sb.WriteString(m)
	}
	return sb.String()
}

// TestLogsRouteLongExitSignal: the exit report's signal name is logged as
// an attribute, unsplit; a long one is refused as an invalid record.
func TestLogsRouteLongExitSignal(t *testing.T) {
	log, logs := testLogger(t)
	p, err := New(&Config{Logger: log, Logs: &ServiceConfig{Listen: unboundLogs}})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := json.Marshal(map[string]any{"code": -1, "signal": strings.Repeat("x", 100<<10)})
	rec, _ := json.Marshal(map[string]any{"t": 1, "stream": "exit", "line": string(st)})
	feedLogs(p, append(rec, '\n'))
	if out := logs.String(); strings.Contains(out, "exited") || len(out) >= journaldLineMax {
		t.Fatalf("a 100 KiB signal name was logged (%d bytes of log)", len(out))
	}
	waitMetric(t, p.m.enclaveLog.WithLabelValues("invalid"), 1)
}

// unboundLogs is the logs route of proxies that are never bound: their
// tests hand lines to readLogs (feedLogs).
const unboundLogs = "unix:///nonexistent-enclavekit/logs.sock"

// logsProxy returns a proxy with a logs route whose log goes, in slog's
// text or JSON format, to the returned buffer.
func logsProxy(t testing.TB, format string) (*Proxy, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	var h slog.Handler = slog.NewTextHandler(buf, nil)
	if format == "json" {
		h = slog.NewJSONHandler(buf, nil)
	}
	p, err := New(&Config{Logger: slog.New(h), Logs: &ServiceConfig{Listen: unboundLogs}})
	if err != nil {
		t.Fatal(err)
	}
	return p, buf
}

// feedLogs hands in to p's logs route as one enclave connection and
// returns once the route has read all of it and its lines are written.
func feedLogs(p *Proxy, in []byte) {
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() { p.readLogs(b); close(done) }()
	_, _ = a.Write(in)
	a.Close()
	<-done
	p.FlushLogs(time.Minute)
}
