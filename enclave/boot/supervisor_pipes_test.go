// SPDX-License-Identifier: Apache-2.0

//go:build linux

package boot

import (
	"context"
	"strings"
	"testing"
)

// TestSupervisorPipesEnv: with PipesEnv set, the application's environment
// names the pipes its stdout and stderr are (what fstat of its fd 1 and 2
// gives), a value inherited in Env is replaced, each run gets pipes of its
// own, and a pipe the application makes itself is not one of them. What it
// writes still reaches Stdout and Stderr, before OnExit.
func TestSupervisorPipesEnv(t *testing.T) {
	out, errOut := &syncBuf{}, &syncBuf{}
	script := `echo "env=$FWD"; stat -L -c 'fd1=%d:%i' /proc/self/fd/1; stat -L -c 'own=%d:%i' /proc/self/fd/1 | cat; stat -L -c 'fd2=%d:%i' /proc/self/fd/2 >&2`
	st, exits := supervise(t, context.Background(), &SupervisorConfig{Args: []string{"sh", "-c", script},
		Env: []string{"PATH=/usr/bin:/bin", "FWD=1:2,3:4"}, PipesEnv: "FWD", Stdout: out, Stderr: errOut,
		Restart: RestartAlways, MaxRestarts: 1, Backoff: 1})
	if st.Code != 0 || len(exits) != 2 {
		t.Fatalf("status %+v, %d exits", st, len(exits))
	}
	field := func(s, name string, run int) string {
		var vals []string
		for _, l := range strings.Split(s, "\n") {
			if v, ok := strings.CutPrefix(l, name+"="); ok {
				vals = append(vals, v)
			}
		}
		if len(vals) != 2 {
			t.Fatalf("%s: want one a run, got %q in\n%s", name, vals, s)
		}
		return vals[run]
	}
	var first string
	for run := range 2 {
		env := field(out.String(), "env", run)
		want := field(out.String(), "fd1", run) + "," + field(errOut.String(), "fd2", run)
		if env != want {
			t.Errorf("run %d: FWD=%q, want stdout's and stderr's %q", run, env, want)
		}
		if own := field(out.String(), "own", run); strings.Contains(env, own) {
			t.Errorf("run %d: the application's own pipe %s is named in FWD=%s", run, own, env)
		}
		if run == 0 {
			first = env
		} else if env == first {
			t.Errorf("both runs got the pipes %s", env)
		}
	}
}
