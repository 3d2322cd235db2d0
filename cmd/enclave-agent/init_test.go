// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostRoutes stands in for host-proxy's time and logs routes.
type hostRoutes struct {
	timeAddr, logsAddr string
	mu                 sync.Mutex
	lines              []string
}

func (h *hostRoutes) all() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.lines, "\n")
}

func startHostRoutes(t *testing.T) *hostRoutes {
	t.Helper()
	h := &hostRoutes{}
	sock := filepath.Join(t.TempDir(), "time.sock")
	tl, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"unix_nano":%d}`, time.Now().UnixNano())
	})}
	go srv.Serve(tl)
	t.Cleanup(func() { srv.Close() })
	h.timeAddr = "unix://" + sock
	ll, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ll.Close() })
	h.logsAddr = "tcp://" + ll.Addr().String()
	go func() {
		for {
			c, err := ll.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					var r struct{ Stream, Line string }
					_ = json.Unmarshal(sc.Bytes(), &r)
					h.mu.Lock()
					h.lines = append(h.lines, r.Stream+": "+r.Line)
					h.mu.Unlock()
				}
			}()
		}
	}()
	return h
}

func runInit(t *testing.T, ctx context.Context, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	base := []string{"--nsm", "emulator", "--debug-mode", "init", "--seed-entropy=false"}
	code := run(ctx, append(base, args...), strings.NewReader(""), &stdout, &stderr, func(string) string { return "" })
	return code, stderr.String()
}

func TestInitRunsTheApplication(t *testing.T) {
	h := startHostRoutes(t)
	code, stderr := runInit(t, context.Background(), "--time-from", h.timeAddr, "--logs-to", h.logsAddr, "--restart", "on-failure",
		"--max-restarts", "1", "--", "sh", "-c", "echo hello; echo oops >&2; exit 3")
	if code != 3 {
		t.Fatalf("init exit %d, want the application's 3\n%s", code, stderr)
	}
	waitUntil(t, "the host has both exits", func() bool { return strings.Count(h.all(), "exit: ") >= 2 })
	got := h.all()
	for _, want := range []string{"stdout: hello", "stderr: oops", `exit: {"code":3,"restarts":0`, `exit: {"code":3,"restarts":1`} {
		if !strings.Contains(got, want) {
			t.Errorf("host got no %q:\n%s", want, got)
		}
	}
	for _, want := range []string{"loopback up", "clock within tolerance", "restarting the application", "init: log forwarding"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("init log lacks %q:\n%s", want, stderr)
		}
	}
}

// TestInitStopsOnSIGTERM: SIGTERM to init, once the application runs, is
// passed on to it, and init exits 0 when it has stopped (no restart). The
// application exits 0 on SIGTERM, so an exit 0 shows it got the signal and
// was not killed after --stop-timeout.
func TestInitStopsOnSIGTERM(t *testing.T) {
	started := filepath.Join(t.TempDir(), "started")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stderr := runInit(t, ctx, "--restart", "always", "--stop-timeout", "2s", "--",
			"sh", "-c", "trap 'exit 0' TERM; touch "+started+"; while :; do sleep 0.05; done")
		done <- result{code, stderr}
	}()
	waitUntil(t, "the application started", func() bool { _, err := os.Stat(started); return err == nil })
	cancel() // what SIGTERM to init does
	var r result
	select {
	case r = <-done:
	case <-time.After(waitLimit):
		t.Fatalf("init still running %v after SIGTERM", waitLimit)
	}
	if r.code != 0 || !strings.Contains(r.stderr, "application exited") || !strings.Contains(r.stderr, "code=0") ||
		!strings.Contains(r.stderr, "stopped=true") || strings.Contains(r.stderr, "restarting the application") {
		t.Fatalf("init exit %d; want 0 after the application exited 0 on the stop, no restart:\n%s", r.code, r.stderr)
	}
}

// TestInitStopsOnEarlySIGTERM: a SIGTERM before the application has started
// (what made TestInitStopsOnSIGTERM flaky) is a clean stop, exit 0.
func TestInitStopsOnEarlySIGTERM(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, stderr := runInit(t, ctx, "--restart", "always", "--", "sh", "-c", "exit 3")
	if code != 0 || !strings.Contains(stderr, "stopped=true") {
		t.Fatalf("init exit %d:\n%s", code, stderr)
	}
}

func TestInitUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--restart", "sometimes", "--", "true"},
		{"--", "/nonexistent/app"},
		{"--seed-bytes", "0", "--", "true"},
		{"--kms-listen", "vsock://any:5000", "--", "true"},
	} {
		code, stderr := runInit(t, context.Background(), args...)
		if code != 2 || !strings.Contains(stderr, "enclave-agent: error: ") {
			t.Errorf("init %q: exit %d: %s", args, code, stderr)
		}
	}
}

// TestInitMaxConcurrentAttestations: init passes --max-concurrent-attestations
// to the attestation endpoint it starts with --listen, as serve does (its
// start line reports the bound in force).
func TestInitMaxConcurrentAttestations(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := newLogWatch()
	exited := make(chan struct{})
	var code int
	go func() {
		defer close(exited)
		code = run(ctx, []string{"--nsm", "emulator", "--debug-mode", "init", "--seed-entropy=false",
			"--listen", "tcp://127.0.0.1:0", "--max-concurrent-attestations", "2", "--", "sleep", "30"},
			strings.NewReader(""), &bytes.Buffer{}, stderr, func(string) string { return "" })
	}()
	addr := stderr.waitFor(t, `attestation endpoint listening.* local=(\S+)`, exited)
	if err := waitHealth(addr, waitLimit); err != nil {
		cancel()
		<-exited
		t.Fatalf("init's attestation endpoint did not answer: %v\n%s", err, stderr.String())
	}
	cancel()
	<-exited
	if !strings.Contains(stderr.String(), "max_concurrent=2") {
		t.Fatalf("init exit %d; its log lacks the endpoint's start line with max_concurrent=2:\n%s", code, stderr.String())
	}
}

// TestInitForwardsAQuickExit: an application that fails at once (the case
// an operator most needs to see) exits before the log forwarder has even
// connected; its last lines, the one without a newline included, and its
// exit report still reach the host, and init's forwarding statistics,
// logged once the forwarder has finished, count them.
func TestInitForwardsAQuickExit(t *testing.T) {
	h := startHostRoutes(t)
	code, stderr := runInit(t, context.Background(), "--logs-to", h.logsAddr, "--",
		"sh", "-c", "echo last words; printf 'no newline'; exit 2")
	if code != 2 {
		t.Fatalf("init exit %d, want the application's 2\n%s", code, stderr)
	}
	waitUntil(t, "the host has 3 records", func() bool { return strings.Count(h.all(), "\n") >= 2 })
	got := strings.Split(h.all(), "\n")
	if len(got) != 3 || got[0] != "stdout: last words" || got[1] != "stdout: no newline" || !strings.HasPrefix(got[2], `exit: {"code":2,`) {
		t.Fatalf("the host got\n%s\nwant the two lines, then the exit report\ninit log:\n%s", h.all(), stderr)
	}
	if !strings.Contains(stderr, "forwarded=3 dropped_lines=0") {
		t.Fatalf("init's log forwarding statistics do not count the 3 records:\n%s", stderr)
	}
}

// TestInitExitRecordResolution: the exit record's runtime_ns, the run's
// length by the enclave's clock, reaches the host to the millisecond only,
// as every record's time does.
func TestInitExitRecordResolution(t *testing.T) {
	h := startHostRoutes(t)
	if code, stderr := runInit(t, context.Background(), "--logs-to", h.logsAddr, "--", "sh", "-c", "exit 0"); code != 0 {
		t.Fatalf("init exit %d\n%s", code, stderr)
	}
	waitUntil(t, "the host has the exit record", func() bool { return strings.Contains(h.all(), "exit: ") })
	rec := h.all()[strings.Index(h.all(), "exit: ")+len("exit: "):]
	var m struct {
		Runtime *int64 `json:"runtime_ns"`
	}
	if err := json.Unmarshal([]byte(rec), &m); err != nil || m.Runtime == nil {
		t.Fatalf("exit record %q: %v", rec, err)
	}
	if *m.Runtime%int64(time.Millisecond) != 0 {
		t.Fatalf("the host read %s: the application's run timed to the nanosecond", rec)
	}
}
