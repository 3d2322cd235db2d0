// SPDX-License-Identifier: Apache-2.0

//go:build linux

package boot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSupervisorStopReachesTheWholeApplication: an application whose
// entrypoint is a shell wrapper starting the real server (`server & wait`)
// is stopped as a whole: SIGTERM reaches the server too, not only the
// wrapper, so it can finish its work; one that ignores it is killed after
// StopTimeout. Supervise returns once every process of the application is
// gone (reaped: it runs as PID 1 does, with ReapOrphans), so nothing of it
// outlives init.
func TestSupervisorStopReachesTheWholeApplication(t *testing.T) {
	for _, tc := range []struct {
		name, trap  string
		stopTimeout time.Duration
		gotTerm     bool
	}{
		{"server handles SIGTERM", `trap "echo bye > %[1]s; exit 0" TERM`, 5 * time.Second, true},
		{"server ignores SIGTERM", `trap "" TERM`, 300 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			marker, pidFile := filepath.Join(dir, "server-got-term"), filepath.Join(dir, "server-pid")
			server := fmt.Sprintf(`echo $$ > %[2]s.tmp; mv %[2]s.tmp %[2]s; `+tc.trap+`; while :; do sleep 0.05; done`, marker, pidFile)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var pid int
			var stopAt time.Time
			go func() { // polls until the server has started (pid), then stops
				for deadline := time.Now().Add(waitLimit); pid == 0 && time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
					b, _ := os.ReadFile(pidFile)
					pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
				}
				stopAt = time.Now()
				cancel()
			}()
			st, exits := supervise(t, ctx, &SupervisorConfig{Args: []string{"sh", "-c", "sh -c '" + server + "' & wait"},
				StopTimeout: tc.stopTimeout, ReapOrphans: true})
			el := time.Since(stopAt)
			defer func() { _ = syscall.Kill(pid, syscall.SIGKILL) }()
			if pid == 0 || !st.Stopped || len(exits) != 1 {
				t.Fatalf("%+v, %d exits", st, len(exits))
			}
			if _, err := os.Stat(marker); (err == nil) != tc.gotTerm {
				t.Fatalf("stopped (%+v): the server process %d got SIGTERM: %v, want %v", st, pid, err == nil, tc.gotTerm)
			}
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
				t.Fatalf("stopped (%+v) after %v: the server process %d is still there (running or a zombie)", st, el, pid)
			}
			if tc.gotTerm && el >= tc.stopTimeout/2 {
				t.Fatalf("a server that handles SIGTERM took %v to stop: killed after StopTimeout %v?", el, tc.stopTimeout)
			}
			if !tc.gotTerm && el >= DefaultStopTimeout/2 {
				t.Fatalf("stop took %v, StopTimeout %v", el, tc.stopTimeout)
			}
		})
	}
}
