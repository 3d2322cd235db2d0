// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLogsRouteRateLimit is an enclave (a compromised application, or
// only a chatty one) that prints as fast as vsock carries: every line
// becomes a line of host-proxy's own log, and journald, past its per-unit
// rate limit (RateLimitBurst=10000 per RateLimitIntervalSec=30s by
// default), drops every message of host-proxy's, its own warnings
// (refused peers, egress denials) with the enclave's. The proxy must pass
// at most its own budget of enclave lines (max_lines_per_second, a burst
// of ten seconds' worth), drop the rest, count them, and say how many it
// dropped when lines pass again, that report taking a line of the budget.
func TestLogsRouteRateLimit(t *testing.T) {
	log, logs := testLogger(t)
	var now atomic.Int64 // the proxy's clock, in Unix nanoseconds
	now.Store(time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC).UnixNano())
	p, err := New(&Config{Logger: log, Clock: func() time.Time { return time.Unix(0, now.Load()) },
		Logs: &ServiceConfig{Listen: unixListen(t, "logs.sock"), MaxLinesPerSecond: 10}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() { p.readLogs(b); close(done) }()
	for i := range 1000 {
		fmt.Fprintf(a, `{"t":1,"stream":"stdout","line":"flood %d"}`+"\n", i)
	}
	// Every flood line handled (logged or dropped) before the clock moves.
	waitMetric(t, p.m.enclaveLog.WithLabelValues("rate_limited"), 900)
	now.Add(int64(2 * time.Second)) // the budget refills: 20 more lines
	for i := range 30 {
		fmt.Fprintf(a, `{"t":2,"stream":"stdout","line":"later %d"}`+"\n", i)
	}
	a.Close()
	<-done
	p.FlushLogs(time.Minute)
	out := logs.String()
	passed := strings.Count(out, "msg=\"flood ") + strings.Count(out, "msg=\"later ")
	// The report of the 900 dropped takes a line of the two seconds' 20.
	if passed != 100+19 {
		t.Fatalf("%d enclave lines logged, want the burst (100) and two seconds' budget (20) but the drop report", passed)
	}
	if !strings.Contains(out, "dropped=900") {
		t.Fatalf("the proxy's log does not say 900 lines were dropped:\n%.2000s", out)
	}
	waitMetric(t, p.m.enclaveLog.WithLabelValues("rate_limited"), 900+11)
}

// TestLogsRouteRateLimitConfig: max_lines_per_second belongs to the logs
// route and is not negative.
func TestLogsRouteRateLimitConfig(t *testing.T) {
	for _, cfg := range []*Config{
		{Time: &ServiceConfig{Listen: unixListen(t, "time.sock"), MaxLinesPerSecond: 5}},
		{Logs: &ServiceConfig{Listen: unixListen(t, "logs.sock"), MaxLinesPerSecond: -1}},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "max_lines_per_second") {
			t.Errorf("%+v %+v: %v", cfg.Time, cfg.Logs, err)
		}
	}
}
