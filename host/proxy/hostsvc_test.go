// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/enclave/boot"
)

// TestTimeRoute: enclave/boot's SyncClock against the proxy's time route
// sets the enclave's clock to the parent's.
func TestTimeRoute(t *testing.T) {
	log, _ := testLogger(t)
	parent := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	p, _ := startProxy(t, &Config{Logger: log, Clock: func() time.Time { return parent },
		Time: &ServiceConfig{Listen: "tcp://127.0.0.1:0"}})
	var set time.Time
	enclave := parent.Add(-time.Minute)
	res, err := boot.SyncClock(context.Background(), &boot.ClockConfig{Addr: "tcp://" + p.Addr("time").String(),
		Clock: func() time.Time { return enclave }, Set: func(t time.Time) error { set = t; return nil }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil || !res.Stepped || !set.Equal(parent) || res.Offset != time.Minute {
		t.Fatalf("SyncClock: %+v, set %v, %v", res, set, err)
	}
}

// TestLogsRoute: enclave/boot's LogForwarder writes to the logs route; the
// proxy logs each line with its stream, the exit report, and the drops the
// enclave reported.
func TestLogsRoute(t *testing.T) {
	log, logs := testLogger(t)
	p, _ := startProxy(t, &Config{Logger: log, Logs: &ServiceConfig{Listen: "tcp://127.0.0.1:0"}})
	f, err := boot.NewLogForwarder(&boot.LogForwarderConfig{Addr: "tcp://" + p.Addr("logs").String(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	w := f.Writer("stdout")
	_, _ = w.Write([]byte("hello from the enclave\n"))
	_, _ = f.Writer("stderr").Write([]byte("a warning\n"))
	st, _ := json.Marshal(boot.ExitStatus{Code: 3})
	f.Record("exit", string(st))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "enclave application exited") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	out := logs.String()
	for _, want := range []string{`msg="hello from the enclave" source=enclave`, `level=WARN msg="a warning"`, `msg="enclave application exited"`, `code=3 signal="" restarts=0 stopped=false`} {
		if !strings.Contains(out, want) {
			t.Errorf("proxy log lacks %q:\n%s", want, out)
		}
	}
	waitMetric(t, p.m.enclaveLog.WithLabelValues("stdout"), 1)
	waitMetric(t, p.m.enclaveLog.WithLabelValues("exit"), 1)
}

func TestServiceRoutesLocalOnly(t *testing.T) {
	for _, cfg := range []*Config{
		{Time: &ServiceConfig{Listen: "tcp://0.0.0.0:8004"}},
		{Logs: &ServiceConfig{Listen: "tcp://10.1.2.3:8005"}},
		{Logs: &ServiceConfig{Listen: "unix:///run/l.sock", AllowedCIDs: []uint32{16}}},
		{Logs: &ServiceConfig{}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v %+v: accepted", cfg.Time, cfg.Logs)
		}
	}
	// On vsock any enclave on the parent (one the parent runs itself
	// included) could set the clock enclave-agent init steps to, or write
	// lines under the application's name: an allow-list is required.
	for _, cfg := range []*Config{
		{Time: &ServiceConfig{Listen: "vsock://any:8004"}},
		{Logs: &ServiceConfig{Listen: "vsock://any:8005"}},
	} {
		_, err := New(cfg)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "allowed_cids") {
			t.Errorf("%+v %+v without allowed_cids: %v", cfg.Time, cfg.Logs, err)
		}
	}
	if _, err := New(&Config{Time: &ServiceConfig{Listen: "vsock://any:8004", AllowedCIDs: []uint32{16}},
		Logs: &ServiceConfig{Listen: "vsock://any:8005", AllowedCIDs: []uint32{16}}}); err != nil {
		t.Fatalf("vsock time and logs routes: %v", err)
	}
}

// TestLogsRouteEscapedLine: a line of the longest length the enclave sends
// (boot.DefaultMaxLogLine) made of characters JSON escapes six bytes each
// (control characters, <, >, &) still fits a record of the logs route, so
// the application cannot end the connection (and lose the lines queued
// behind it) by printing one; and its newlines and escape sequences reach
// the proxy's log quoted, never as lines of their own.
func TestLogsRouteEscapedLine(t *testing.T) {
	log, logs := testLogger(t)
	p, _ := startProxy(t, &Config{Logger: log, Logs: &ServiceConfig{Listen: "tcp://127.0.0.1:0"}})
	f, err := boot.NewLogForwarder(&boot.LogForwarderConfig{Addr: "tcp://" + p.Addr("logs").String(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	f.Record("stdout", strings.Repeat("\x01", boot.DefaultMaxLogLine))
	f.Record("stdout", "forged\nlevel=ERROR msg=\"from the enclave\" \x1b[2J")
	f.Record("stdout", "after the long line")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "after the long line") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	out := logs.String()
	if !strings.Contains(out, `msg="after the long line"`) || strings.Contains(out, "connection ended") {
		t.Fatalf("the line after a long escaped one was not logged, or the connection ended")
	}
	waitMetric(t, p.m.enclaveLog.WithLabelValues("stdout"), 3)
	if strings.Contains(out, "\nlevel=ERROR") || strings.Contains(out, "\x1b") {
		t.Errorf("an enclave line reached the proxy's log unquoted:\n%q", out)
	}
}
