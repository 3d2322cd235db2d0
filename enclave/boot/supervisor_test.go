// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func supervise(t *testing.T, ctx context.Context, cfg *SupervisorConfig) (ExitStatus, []ExitStatus) {
	t.Helper()
	var mu sync.Mutex
	var exits []ExitStatus
	cfg.OnExit = func(s ExitStatus) { mu.Lock(); exits = append(exits, s); mu.Unlock() }
	cfg.Logger = slog.New(slog.DiscardHandler)
	if cfg.Path == "" {
		cfg.Path = "/bin/sh"
	}
	st, err := Supervise(ctx, cfg)
	if err != nil {
		t.Fatalf("Supervise: %v", err)
	}
	return st, exits
}

func TestSupervisorExitCodeAndRestarts(t *testing.T) {
	ctx := context.Background()
	st, exits := supervise(t, ctx, &SupervisorConfig{Args: []string{"sh", "-c", "exit 3"}})
	if st.Code != 3 || len(exits) != 1 || exits[0].Code != 3 {
		t.Fatalf("no restart: %+v, %d exits", st, len(exits))
	}
	st, exits = supervise(t, ctx, &SupervisorConfig{Args: []string{"sh", "-c", "exit 4"}, Restart: RestartOnFailure,
		MaxRestarts: 2, Backoff: 10 * time.Millisecond})
	if st.Code != 4 || st.Restarts != 2 || len(exits) != 3 {
		t.Fatalf("on-failure, 2 restarts: %+v, %d exits", st, len(exits))
	}
	st, exits = supervise(t, ctx, &SupervisorConfig{Args: []string{"sh", "-c", "exit 0"}, Restart: RestartOnFailure,
		MaxRestarts: 2, Backoff: 10 * time.Millisecond})
	if st.Code != 0 || len(exits) != 1 {
		t.Fatalf("on-failure after success: %+v, %d exits", st, len(exits))
	}
	st, exits = supervise(t, ctx, &SupervisorConfig{Args: []string{"sh", "-c", "exit 0"}, Restart: RestartAlways,
		MaxRestarts: 1, Backoff: 10 * time.Millisecond})
	if len(exits) != 2 {
		t.Fatalf("always, 1 restart: %+v, %d exits", st, len(exits))
	}
	st, _ = supervise(t, ctx, &SupervisorConfig{Args: []string{"sh", "-c", "kill -KILL $$"}})
	if st.Code != -1 || st.Signal != "killed" {
		t.Fatalf("killed by a signal: %+v", st)
	}
	if _, err := Supervise(ctx, &SupervisorConfig{Path: "/bin/sh", Restart: "sometimes"}); err == nil {
		t.Fatal("an unknown restart policy was accepted")
	}
	if _, err := Supervise(ctx, &SupervisorConfig{Path: "/nonexistent/app", Logger: slog.New(slog.DiscardHandler)}); err == nil {
		t.Fatal("a missing application was not an error")
	}
}

// TestSupervisorStopBeforeStart: a stop requested before the application
// has started (SIGTERM to init during boot) is a clean stop, not a failure
// to start: no error, Stopped, and no run reported.
func TestSupervisorStopBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, policy := range []string{RestartNever, RestartAlways} {
		st, exits := supervise(t, ctx, &SupervisorConfig{Args: []string{"sh", "-c", "exit 3"}, Restart: policy})
		if !st.Stopped || st.Restarts != 0 || len(exits) != 0 {
			t.Fatalf("%s: %+v, %d exits", policy, st, len(exits))
		}
	}
}

// TestSupervisorGracefulStop: SIGTERM first, then SIGKILL after the stop
// timeout for an application that ignores it; no restart after a stop.
func TestSupervisorGracefulStop(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		code         int
		signal       string
	}{
		{"handles SIGTERM", `trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.05; done`, 0, ""},
		{"ignores SIGTERM", `trap '' TERM; echo ready; while :; do sleep 0.05; done`, -1, "killed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			out := &syncBuf{}
			ready := make(chan struct{})
			out.onWrite = func(s string) {
				if strings.Contains(s, "ready") {
					close(ready)
					out.onWrite = nil
				}
			}
			stopped := make(chan time.Time, 1)
			go func() {
				<-ready
				stopped <- time.Now()
				cancel()
			}()
			st, exits := supervise(t, ctx, &SupervisorConfig{Args: []string{"sh", "-c", tc.script}, Restart: RestartAlways,
				StopTimeout: 300 * time.Millisecond, Stdout: out})
			if st.Code != tc.code || st.Signal != tc.signal || !st.Stopped || len(exits) != 1 {
				t.Fatalf("%+v, %d exits, output %q", st, len(exits), out.String())
			}
			// The stop is bounded by StopTimeout (300 ms), not by
			// DefaultStopTimeout (10 s): half the default is far beyond
			// what a loaded machine adds to the configured one (cancel is
			// the only way Supervise stops a RestartAlways application, so
			// the stop time is there).
			if el := time.Since(<-stopped); el >= DefaultStopTimeout/2 {
				t.Fatalf("stop took %v after the stop, StopTimeout 300ms", el)
			}
		})
	}
}

// TestSupervisorReapsOrphans: a process orphaned by the application is
// reaped (it would stay a zombie under a PID 1 that does not).
func TestSupervisorReapsOrphans(t *testing.T) {
	out := &syncBuf{}
	st, _ := supervise(t, context.Background(), &SupervisorConfig{
		Args:        []string{"sh", "-c", "sleep 0.2 & echo $!; exit 0"},
		Stdout:      out,
		ReapOrphans: true,
	})
	if st.Code != 0 {
		t.Fatalf("%+v", st)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("orphan pid %q", out.String())
	}
	// Supervise returned, so its reaper stopped; reap with a new one, as a
	// long-running init would, and watch the orphan go.
	r, err := startReaper(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Skipf("cannot become a child subreaper: %v", err)
	}
	defer r.stop()
	// A zombie nobody reaps stays forever, so waitLimit only bounds how
	// long a broken reaper takes to show.
	waitUntil(t, fmt.Sprintf("orphan %d reaped", pid), func() bool {
		_, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return err != nil
	})
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
	// onWrite, if set, is called (under the lock) with everything
	// written so far after each write.
	onWrite func(string)
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if s.onWrite != nil {
		s.onWrite(s.b.String())
	}
	return n, err
}
func (s *syncBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestExitStatusRuntimeResolution: init sends the ExitStatus to the host
// (the exit record); its Runtime is the run's length by the enclave's
// clock, which at full resolution would time the application's work for
// the host to the nanosecond. It is given to the millisecond, as record
// times are (TestLogRecordTimeResolution).
func TestExitStatusRuntimeResolution(t *testing.T) {
	for range 3 { // a run a whole number of ms long by chance: 1 in 10^6 each
		st, exits := supervise(t, context.Background(), &SupervisorConfig{Args: []string{"sh", "-c", "exit 0"}})
		b, _ := json.Marshal(st)
		var m struct {
			Runtime int64 `json:"runtime_ns"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.Runtime%int64(time.Millisecond) != 0 || len(exits) != 1 || exits[0].Runtime%time.Millisecond != 0 {
			t.Fatalf("exit status %s (OnExit got %v): the run timed finer than a millisecond", b, exits)
		}
	}
}
