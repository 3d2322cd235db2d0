// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Restart policies for [SupervisorConfig].
const (
	RestartNever     = "no"
	RestartOnFailure = "on-failure"
	RestartAlways    = "always"
)

// Defaults for [SupervisorConfig].
const (
	DefaultStopTimeout = 10 * time.Second
	maxBackoff         = 30 * time.Second
	// stableRun resets the backoff: a child that ran this long was up.
	stableRun = time.Minute
)

// ExitStatus is how one run of the application ended.
type ExitStatus struct {
	// Code is the exit code, or -1 when a signal ended the process.
	Code int `json:"code"`
	// Signal names the signal that ended the process, if any.
	Signal string `json:"signal,omitempty"`
	// Restarts is how many times the application had been restarted
	// before this run.
	Restarts int `json:"restarts"`
	// Runtime is how long this run lasted, to the millisecond only (in
	// nanoseconds on the wire, a whole number of milliseconds): init sends
	// the ExitStatus to the parent instance, and a finer reading of the
	// enclave's clock would time the application's work (secret-dependent,
	// perhaps) for it better than the records' arrival does. Record times
	// have the same resolution ([LogRecord]); to the millisecond it still
	// tells the operator how long a failing application ran.
	Runtime time.Duration `json:"runtime_ns"`
	// Stopped is true when the supervisor stopped it (SIGTERM to init).
	Stopped bool `json:"stopped,omitempty"`
}

// SupervisorConfig configures [Supervise].
type SupervisorConfig struct {
	// Path and Args are the application (Args[0] included, as exec.Cmd).
	Path string
	Args []string
	// Env is the environment; nil is the supervisor's own.
	Env []string
	// Dir is the working directory; "" is the supervisor's.
	Dir string
	// Restart is RestartNever (""), RestartOnFailure or RestartAlways.
	Restart string
	// MaxRestarts bounds restarts; 0 is no bound.
	MaxRestarts int
	// Backoff is the first wait before a restart, doubling up to 30 s and
	// back to Backoff after a run of a minute or more; 0 is 1 s.
	Backoff time.Duration
	// StopTimeout is how long the application has between SIGTERM and
	// SIGKILL when the supervisor stops; 0 is DefaultStopTimeout. Both go
	// to its process group (every process it started, unless one left the
	// group), and the stop ends once the group is gone, or a second after
	// the SIGKILL if a process of it is not reaped (ReapOrphans unset).
	StopTimeout time.Duration
	// Stdout and Stderr receive the application's output (a
	// [LogForwarder]'s writers, which never block); nil discards.
	Stdout, Stderr io.Writer
	// PipesEnv, when set, makes the supervisor give each run of the
	// application its stdout and stderr through pipes of its own making
	// (copied to Stdout and Stderr) and name them in the application's
	// environment as PipesEnv=STDOUT_ID,STDERR_ID, each a [FileID]: a
	// program that must not write a secret where Stdout or Stderr sends it
	// (a [LogForwarder], to the parent instance) can compare its own stdout
	// with them, and refuse only when it is one of them (not when the
	// application gave it a pipe or file of its own). A value of PipesEnv
	// in Env is replaced. Unix only: elsewhere it is ignored.
	PipesEnv string
	// OnExit is called after every run (to report the exit to the host).
	OnExit func(ExitStatus)
	// ReapOrphans makes the supervisor a child subreaper that reaps every
	// process orphaned under it (what PID 1 must do); Linux only.
	ReapOrphans bool
	// Logger; nil is slog.Default().
	Logger *slog.Logger
}

// Supervise runs the application until it exits and the restart policy
// says stop, or until ctx is done; then it sends SIGTERM to the
// application's process group (on Unix it starts the application in a
// group of its own, so a shell wrapper's children get it too), waits up to
// StopTimeout for the group to exit, and kills what is left of it. It
// returns the last run's status.
func Supervise(ctx context.Context, cfg *SupervisorConfig) (ExitStatus, error) {
	c := *cfg
	if c.Path == "" {
		return ExitStatus{}, errors.New("boot: no application to supervise")
	}
	if len(c.Args) == 0 {
		c.Args = []string{c.Path}
	}
	switch c.Restart {
	case "":
		c.Restart = RestartNever
	case RestartNever, RestartOnFailure, RestartAlways:
	default:
		return ExitStatus{}, fmt.Errorf("boot: restart policy %q: want %s, %s or %s", c.Restart, RestartNever, RestartOnFailure, RestartAlways)
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var reap *reaper
	if c.ReapOrphans {
		var err error
		if reap, err = startReaper(c.Logger); err != nil {
			return ExitStatus{}, err
		}
		defer reap.stop()
	}
	backoff := c.Backoff
	for restarts := 0; ; restarts++ {
		st, err := runOnce(ctx, &c, reap)
		st.Restarts = restarts
		if errors.Is(err, errStoppedBeforeStart) {
			// A stop requested before or while starting (SIGTERM to init
			// during boot, or during the restart backoff) is a clean stop:
			// nothing ran, so nothing is reported through OnExit.
			c.Logger.Info("boot: stopped before the application started", slog.Int("restarts", restarts), slog.Bool("stopped", true))
			return st, nil
		}
		if err != nil {
			return st, err
		}
		c.Logger.Info("boot: application exited", slog.Int("code", st.Code), slog.String("signal", st.Signal),
			slog.Int("restarts", restarts), slog.Duration("runtime", st.Runtime), slog.Bool("stopped", st.Stopped))
		if c.OnExit != nil {
			c.OnExit(st)
		}
		again := !st.Stopped && ctx.Err() == nil &&
			(c.Restart == RestartAlways || (c.Restart == RestartOnFailure && st.Code != 0)) &&
			(c.MaxRestarts == 0 || restarts < c.MaxRestarts)
		if !again {
			return st, nil
		}
		if st.Runtime >= stableRun {
			backoff = c.Backoff
		}
		c.Logger.Info("boot: restarting the application", slog.Duration("after", backoff), slog.String("policy", c.Restart))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return st, nil
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// errStoppedBeforeStart is runOnce's answer when ctx was done before the
// application started.
var errStoppedBeforeStart = errors.New("boot: stopped before the application started")

func runOnce(ctx context.Context, c *SupervisorConfig, reap *reaper) (ExitStatus, error) {
	if ctx.Err() != nil {
		return ExitStatus{Code: -1, Stopped: true}, errStoppedBeforeStart
	}
	cmd := exec.CommandContext(ctx, c.Path)
	cmd.Args = c.Args
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = c.Stdout, c.Stderr
	pipes, err := c.outputPipes(cmd)
	if err != nil {
		return ExitStatus{Code: -1}, err
	}
	// The application runs in a process group of its own, and a stop
	// signals the group: SIGTERM, then SIGKILL StopTimeout later (exec's
	// WaitDelay kills the first process then, stopGroup the rest).
	inOwnGroup(cmd)
	var termAt atomic.Int64
	cmd.Cancel = func() error {
		termAt.Store(time.Now().UnixNano())
		return signalGroup(cmd.Process.Pid, syscall.SIGTERM)
	}
	cmd.WaitDelay = c.StopTimeout
	start := time.Now()
	if reap != nil {
		reap.mu.Lock()
	}
	err = cmd.Start()
	pipes.started()
	if reap != nil {
		if err == nil {
			reap.managed = cmd.Process.Pid
		}
		reap.mu.Unlock()
	}
	if err != nil {
		pipes.wait(0)
		if ctx.Err() != nil {
			// exec.Cmd.Start refuses a done context without starting.
			return ExitStatus{Code: -1, Stopped: true}, errStoppedBeforeStart
		}
		return ExitStatus{Code: -1}, fmt.Errorf("boot: starting %s: %w", c.Path, err)
	}
	werr := cmd.Wait()
	runtime := time.Since(start).Truncate(time.Millisecond)
	if reap != nil {
		reap.mu.Lock()
		reap.managed = 0
		reap.mu.Unlock()
	}
	if ctx.Err() != nil {
		var t time.Time
		if n := termAt.Load(); n != 0 {
			t = time.Unix(0, n)
		}
		stopGroup(cmd.Process.Pid, t, c.StopTimeout)
	}
	// What the application wrote is copied before OnExit reports the exit
	// (exec.Cmd's own pipes: Wait waited for them, up to WaitDelay).
	pipes.wait(c.StopTimeout)
	st := ExitStatus{Code: -1, Runtime: runtime, Stopped: ctx.Err() != nil}
	if ps := cmd.ProcessState; ps != nil {
		st.Code = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			st.Signal = ws.Signal().String()
		}
		return st, nil
	}
	return st, fmt.Errorf("boot: waiting for %s: %w", c.Path, werr)
}

// outPipes are the pipes of [SupervisorConfig.PipesEnv] for one run.
type outPipes struct {
	r, w   []*os.File
	copied sync.WaitGroup
}

// outputPipes gives cmd the pipes of c.PipesEnv, named in its environment,
// copied to c.Stdout and c.Stderr; nil when c.PipesEnv is not set (or
// FileID is unsupported).
func (c *SupervisorConfig) outputPipes(cmd *exec.Cmd) (*outPipes, error) {
	if c.PipesEnv == "" {
		return nil, nil
	}
	p := &outPipes{}
	var ids []string
	for _, dst := range []*io.Writer{&cmd.Stdout, &cmd.Stderr} {
		r, w, err := os.Pipe()
		if err != nil {
			p.wait(0)
			return nil, fmt.Errorf("boot: output pipe: %w", err)
		}
		p.r, p.w = append(p.r, r), append(p.w, w)
		id, err := FileID(w)
		if errors.Is(err, ErrUnsupported) {
			p.wait(0)
			return nil, nil
		}
		if err != nil {
			p.wait(0)
			return nil, fmt.Errorf("boot: output pipe: %w", err)
		}
		ids = append(ids, id)
		out := *dst
		if out == nil {
			out = io.Discard
		}
		*dst = w
		p.copied.Add(1)
		go func() { defer p.copied.Done(); _, _ = io.Copy(out, r) }()
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = make([]string, 0, len(env)+1)
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name != c.PipesEnv {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, c.PipesEnv+"="+strings.Join(ids, ","))
	return p, nil
}

// started closes the supervisor's copy of the write ends, once the
// application has its own (or failed to start): the copies end when every
// process holding one has closed it.
func (p *outPipes) started() {
	if p == nil {
		return
	}
	for _, w := range p.w {
		w.Close()
	}
}

// wait waits up to limit for the copies to end (the application, and any
// process it left behind holding its output, gone), then closes the read
// ends, which ends them.
func (p *outPipes) wait(limit time.Duration) {
	if p == nil {
		return
	}
	p.started()
	done := make(chan struct{})
	go func() { p.copied.Wait(); close(done) }()
	if limit > 0 {
		t := time.NewTimer(limit)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	for _, r := range p.r {
		r.Close()
	}
	<-done
}

// stopGroup ends what is left of a stopped application once its first
// process has exited: a wrapper's children get the rest of StopTimeout
// from the SIGTERM (sent at termAt; now, if the application exited before
// the stop and was not sent one) to exit, then SIGKILL. It returns once no
// process is left in the group (exited and reaped: the reaper reaps them
// as init), waiting at most a second after the SIGKILL for the reaping.
func stopGroup(pgid int, termAt time.Time, timeout time.Duration) {
	if !groupAlive(pgid) {
		return
	}
	if termAt.IsZero() {
		termAt = time.Now()
		if signalGroup(pgid, syscall.SIGTERM) != nil {
			return
		}
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for killed := false; groupAlive(pgid); <-tick.C {
		switch now := time.Now(); {
		case !killed && !now.Before(termAt.Add(timeout)):
			if signalGroup(pgid, syscall.SIGKILL) != nil {
				return
			}
			killed = true
		case !now.Before(termAt.Add(timeout + time.Second)):
			return // not reaped: no reaper, or a zombie's parent still runs
		}
	}
}
