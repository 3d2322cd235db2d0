// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/enclave/boot"
)

// unixListen returns a unix:// address in a temporary directory for a
// service route (they refuse TCP).
func unixListen(t testing.TB, name string) string {
	t.Helper()
	return "unix://" + filepath.Join(t.TempDir(), name)
}

// TestTimeRoute: enclave/boot's SyncClock against the proxy's time route
// sets the enclave's clock to the parent's.
func TestTimeRoute(t *testing.T) {
	log, _ := testLogger(t)
	parent := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	p, _ := startProxy(t, &Config{Logger: log, Clock: func() time.Time { return parent },
		Time: &ServiceConfig{Listen: unixListen(t, "time.sock")}})
	var set time.Time
	enclave := parent.Add(-time.Minute)
	res, err := boot.SyncClock(context.Background(), &boot.ClockConfig{Addr: "unix://" + p.Addr("time").String(),
		Clock: func() time.Time { return enclave }, Reference: func() (time.Time, error) { return parent, nil }, // the NSM's time
		Set: func(t time.Time) error { set = t; return nil }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil || !res.Stepped || !set.Equal(parent) || res.Offset != time.Minute {
		t.Fatalf("SyncClock: %+v, set %v, %v", res, set, err)
	}
}

// TestLogsRoute: enclave/boot's LogForwarder writes to the logs route; the
// proxy logs each line with its stream, the exit report, and the drops the
// enclave reported.
func TestLogsRoute(t *testing.T) {
	log, logs := testLogger(t)
	p, _ := startProxy(t, &Config{Logger: log, Logs: &ServiceConfig{Listen: unixListen(t, "logs.sock")}})
	f, err := boot.NewLogForwarder(&boot.LogForwarderConfig{Addr: "unix://" + p.Addr("logs").String(), Logger: slog.New(slog.DiscardHandler)})
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

// TestLogsListenRefusesTCP: the enclave reaches the parent over vsock
// only, so a TCP logs listener, loopback included, takes no enclave's
// lines: it takes lines from every process on the parent, of any user,
// and writes them to host-proxy's log (journald) as the enclave
// application's. New refuses it, naming the key, its line and what to use
// instead. Were it accepted, the test shows a local client's forged line
// in the log.
func TestLogsListenRefusesTCP(t *testing.T) {
	const want = "proxy: line 2: logs.listen: tcp://127.0.0.1:0: a TCP listener takes log lines from every local process, " +
		"of any user, as the enclave's, and never from the enclave (it reaches the parent over vsock only); " +
		"use vsock://any:PORT with allowed_cids for the enclave, or unix:///PATH for local tests " +
		"(mode 0600: only host-proxy's user may connect)"
	cfg, err := ParseConfig([]byte("logs:\n  listen: tcp://127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testLogger(t)
	cfg.Logger = log
	p, err := New(cfg)
	if err == nil {
		if err := p.Listen(); err != nil {
			t.Fatalf("accepted, and Listen: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Serve(ctx) }()
		c, err := net.Dial("tcp", p.Addr("logs").String())
		if err != nil {
			t.Fatalf("logs.listen tcp://127.0.0.1:0 accepted (dial: %v)", err)
		}
		c.Write([]byte(`{"t":1,"stream":"stderr","line":"FORGED: disk wiped by the application"}` + "\n"))
		c.Close()
		waitMetric(t, p.m.enclaveLog.WithLabelValues("stderr"), 1)
		cancel()
		<-done
		t.Fatalf("logs.listen tcp://127.0.0.1:0 accepted: a local process wrote an enclave line to the log: %v",
			strings.Contains(logs.String(), "FORGED"))
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) || ce.Where != "logs.listen" || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}

// TestServiceListenRefusesTCP: the time and logs routes refuse every TCP
// address, loopback or not, with the same message shape as the
// credentials route; vsock (with allowed_cids) and unix are served.
func TestServiceListenRefusesTCP(t *testing.T) {
	why := map[string]string{
		"time": "a TCP listener serves the parent's clock to every local process, never to the enclave",
		"logs": "a TCP listener takes log lines from every local process, of any user, as the enclave's, and never from the enclave",
	}
	for _, key := range []string{"time", "logs"} {
		for listen, wantErr := range map[string]bool{
			"tcp://127.0.0.1:8004":   true,
			"tcp://127.0.0.2:8004":   true,
			"tcp://[::1]:8004":       true,
			"tcp://localhost:8004":   true,
			"127.0.0.1:8004":         true,
			"tcp://0.0.0.0:8004":     true,
			"tcp://[::]:8004":        true,
			"tcp://10.1.2.3:8004":    true,
			"unix:///run/s.sock":     false,
			"vsock://any:8004":       false,
			"tcp://kms.example:8004": true,
		} {
			sc := &ServiceConfig{Listen: listen}
			if strings.HasPrefix(listen, "vsock:") {
				sc.AllowedCIDs = []uint32{16}
			}
			cfg := &Config{Time: sc}
			if key == "logs" {
				cfg = &Config{Logs: sc}
			}
			_, err := New(cfg)
			if !wantErr {
				if err != nil {
					t.Errorf("%s.listen %s: %v", key, listen, err)
				}
				continue
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) || ce.Where != key+".listen" ||
				!strings.Contains(err.Error(), key+".listen: tcp://") || !strings.Contains(err.Error(), why[key]) ||
				!strings.Contains(err.Error(), "use vsock://any:PORT with allowed_cids for the enclave, or unix:///PATH for local tests") {
				t.Errorf("%s.listen %s: %v", key, listen, err)
			}
		}
	}
}

func TestServiceRoutesLocalOnly(t *testing.T) {
	for _, cfg := range []*Config{
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
	p, _ := startProxy(t, &Config{Logger: log, Logs: &ServiceConfig{Listen: unixListen(t, "logs.sock")}})
	f, err := boot.NewLogForwarder(&boot.LogForwarderConfig{Addr: "unix://" + p.Addr("logs").String(), Logger: slog.New(slog.DiscardHandler)})
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
