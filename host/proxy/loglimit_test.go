// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// linesOf returns the log lines with message msg (slog's text handler).
func linesOf(out, msg string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "msg="+strconv.Quote(msg)+" ") {
			ls = append(ls, l)
		}
	}
	return ls
}

// sumAttr sums the integer attribute key over lines (0 where absent).
func sumAttr(lines []string, key string) int {
	re := regexp.MustCompile(`\b` + key + `=(\d+)`)
	n := 0
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			v, _ := strconv.Atoi(m[1])
			n += v
		}
	}
	return n
}

// checkConnLines checks the lines a peer caused with n connections within
// elapsed: at most connLogBurst + one a second, one report written a second
// after a drop (taking a token in debt) and the report at shutdown; every
// connection accounted for, logged one by one or counted in a report's
// repeated attribute.
func checkConnLines(t *testing.T, out, msg string, n int, elapsed time.Duration) {
	t.Helper()
	ls := linesOf(out, msg)
	limit := connLogBurst + int(math.Ceil(elapsed.Seconds()*connLogPerSecond)) + 2
	if len(ls) > limit {
		t.Errorf("%d connections in %v made host-proxy write %d lines %q; want at most %d", n, elapsed.Round(time.Millisecond), len(ls), msg, limit)
	}
	t.Logf("%d connections in %v: %d lines %q", n, elapsed.Round(time.Millisecond), len(ls), msg)
	reported := sumAttr(ls, "repeated")
	if one := len(ls) - countWith(ls, "repeated="); one+reported != n {
		t.Errorf("%q: %d logged one by one + %d reported as repeated, want %d connections accounted for", msg, one, reported, n)
	}
}

func countWith(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// TestLogsRouteConnectionChurnWithinLogBudget: a peer that holds the logs
// route's maxLogConns connections and connects again and again made
// host-proxy write one "too many" warning per connection (500 lines for 500
// connections in 0.1 s), outside any budget: journald's per-unit rate limit
// then drops host-proxy's own warnings. The refusals are counted in the
// metrics and logged through a limiter, the rest in one line with their
// number.
func TestLogsRouteConnectionChurnWithinLogBudget(t *testing.T) {
	log, logs := testLogger(t)
	p, stop := startProxy(t, &Config{Logger: log, Logs: &ServiceConfig{Listen: unixListen(t, "logs.sock"), MaxLinesPerSecond: 1}})
	var held []net.Conn
	for range maxLogConns {
		held = append(held, dialRoute(t, p, "logs"))
	}
	// The route holds all of them before the churn starts.
	fmt.Fprintf(held[maxLogConns-1], `{"t":1,"stream":"stdout","line":"ready"}`+"\n")
	waitMetric(t, p.m.enclaveLog.WithLabelValues("stdout"), 1)
	if !logged(logs, `msg=ready`) {
		t.Fatal("the held connections' line was not logged")
	}
	const churn = 500
	start := time.Now()
	for range churn {
		c := dialRoute(t, p, "logs")
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Read(make([]byte, 1)) // until the proxy closes it
		c.Close()
	}
	elapsed := time.Since(start)
	waitMetric(t, p.m.errors.WithLabelValues("logs", reasonLimit), churn)
	for _, c := range held {
		c.Close()
	}
	stop() // writes the report of refusals not logged yet
	checkConnLines(t, logs.String(), "logs route: connection refused: too many", churn, elapsed)
}

// TestLogsRouteDropReportWithinBudget: the report of enclave lines dropped
// over max_lines_per_second was written outside the budget, before every
// record that passed after a drop: a peer sending two records per token
// (one passed, one dropped) made host-proxy write two lines per token,
// 199 in 10 s at max_lines_per_second 10 (budget 100). The report now takes
// a line of the budget; every dropped record is still reported.
func TestLogsRouteDropReportWithinBudget(t *testing.T) {
	log, logs := testLogger(t)
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC).UnixNano())
	const perSec = 10
	p, stop := startProxy(t, &Config{Logger: log, Clock: func() time.Time { return time.Unix(0, now.Load()) },
		Logs: &ServiceConfig{Listen: unixListen(t, "logs.sock"), MaxLinesPerSecond: perSec}})
	c := dialRoute(t, p, "logs")
	defer c.Close()
	handled := func() float64 {
		return metricValue(p.m.enclaveLog.WithLabelValues("stdout")) + metricValue(p.m.enclaveLog.WithLabelValues("rate_limited"))
	}
	for i := range 10 * perSec { // spend the burst
		fmt.Fprintf(c, `{"t":1,"stream":"stdout","line":"burst %d"}`+"\n", i)
	}
	waitUntil(t, "the burst handled", func() bool { return handled() == 10*perSec })
	const seconds = 10
	for i := range seconds * perSec {
		now.Add(int64(time.Second / perSec)) // one token
		fmt.Fprintf(c, `{"t":1,"stream":"stdout","line":"pass %d"}`+"\n", i)
		fmt.Fprintf(c, `{"t":1,"stream":"stdout","line":"drop %d"}`+"\n", i)
		// The clock moves only once both records are handled.
		waitUntil(t, "two records handled", func() bool { return handled() == float64(10*perSec+2*(i+1)) })
	}
	c.Close()
	stop() // writes the report of records dropped and not reported yet
	out := logs.String()
	const report = "enclave log lines dropped: over the logs route's rate limit"
	passed := strings.Count(out, `msg="pass `) + strings.Count(out, `msg="drop `)
	reports := linesOf(out, report)
	// The budget, a report a second after a drop that took its token in
	// debt, and the report at shutdown.
	if lines := passed + len(reports); lines > seconds*perSec+2 {
		t.Errorf("%d s at max_lines_per_second %d: host-proxy wrote %d lines for the enclave (%d records, %d reports), budget %d",
			seconds, perSec, lines, passed, len(reports), seconds*perSec)
	}
	t.Logf("%d records sent in %d s: %d logged, %d reports", 2*seconds*perSec, seconds, passed, len(reports))
	dropped := int(metricValue(p.m.enclaveLog.WithLabelValues("rate_limited")))
	if got := sumAttr(reports, "dropped"); got != dropped || dropped != 2*seconds*perSec-passed {
		t.Errorf("reports say %d records dropped; %d counted, %d sent and not logged", got, dropped, 2*seconds*perSec-passed)
	}
}

// TestRefusedConnectionsLoggedWithinBudget: an egress route at its
// concurrency limit, with its queue full, refuses each further connection
// with a warning: a peer connecting again and again made host-proxy write a
// line per connection. On the event engine and the goroutine path, the
// refusals are logged through the limiter and the rest reported by number.
func TestRefusedConnectionsLoggedWithinBudget(t *testing.T) {
	for _, goroutines := range []bool{false, true} {
		t.Run(fmt.Sprintf("goroutines=%v", goroutines), func(t *testing.T) {
			up := startServer(t, func(c net.Conn) { _, _ = c.Read(make([]byte, 1)) })
			log, logs := testLogger(t)
			cfg := egressConfig(t, up)
			cfg.Logger, cfg.MaxConnections, cfg.ConnectTimeout, cfg.goroutines = log, 1, 20*time.Second, goroutines
			p, stop := startProxy(t, cfg)
			name := p.routes[0].Name
			held := dialRoute(t, p, name) // takes the one slot
			defer held.Close()
			waitMetric(t, p.routes[0].mActive, 1)
			waiting := dialRoute(t, p, name) // waits for it: the queue is full
			defer waiting.Close()
			waitMetric(t, p.routes[0].mActive, 2)
			const churn = 300
			start := time.Now()
			for range churn {
				c := dialRoute(t, p, name)
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, _ = c.Read(make([]byte, 1))
				c.Close()
			}
			elapsed := time.Since(start)
			waitMetric(t, p.m.errors.WithLabelValues(name, reasonLimit), churn)
			held.Close()
			waiting.Close()
			stop()
			checkConnLines(t, logs.String(), "connection refused: concurrency limit reached and too many waiting", churn, elapsed)
		})
	}
}

// TestPeerRefusalsLoggedWithinBudget: a connection from a vsock peer outside
// allowed_cids is counted and logged through the same limiter (any enclave
// on the parent can connect again and again).
func TestPeerRefusalsLoggedWithinBudget(t *testing.T) {
	log, logs := testLogger(t)
	p, stop := startProxy(t, &Config{Logger: log, Time: &ServiceConfig{Listen: unixListen(t, "time.sock")}})
	const churn = 300
	refused := p.peerRefused("time")
	peer := &net.UnixAddr{Name: "@peer", Net: "unix"}
	start := time.Now()
	for range churn {
		refused(peer)
	}
	elapsed := time.Since(start)
	waitMetric(t, p.m.errors.WithLabelValues("time", reasonPeer), churn)
	stop()
	checkConnLines(t, logs.String(), "connection refused: peer not in allowed_cids", churn, elapsed)
}

// TestLogLimiterReportsWhenNothingPasses: lines dropped and followed by
// none that passes are reported l.after (reportAfter) after the first
// drop, once,
// with their number and the time of the first; the report takes a token
// (in debt), and the limiter arms no timer once stopped.
func TestLogLimiterReportsWhenNothingPasses(t *testing.T) {
	at := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC) // frozen: no refill
	type report struct {
		n     uint64
		since time.Time
	}
	reports := make(chan report, 10)
	l := newLogLimiter(1, 1, func() time.Time { return at }, func(n uint64, since time.Time) { reports <- report{n, since} })
	l.after = 50 * time.Millisecond
	if !l.allow(1) {
		t.Fatal("the burst's line was dropped")
	}
	for range 3 {
		if l.allow(1) {
			t.Fatal("a line past the burst passed")
		}
	}
	select {
	case r := <-reports:
		if r.n != 3 || !r.since.Equal(at) {
			t.Errorf("report of %d lines since %v, want 3 since %v", r.n, r.since, at)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no report of the dropped lines")
	}
	select {
	case r := <-reports:
		t.Errorf("a second report: %+v", r)
	case <-time.After(4 * l.after):
	}
	if l.lim.TokensAt(at) >= 0 {
		t.Errorf("the report took no token: %v left", l.lim.TokensAt(at))
	}
	l.stop()
	l.allow(1)
	time.Sleep(4 * l.after)
	if len(reports) != 0 {
		t.Errorf("a report after stop, from a timer")
	}
}
