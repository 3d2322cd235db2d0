// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"

	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/enclave/boot"
	"github.com/enclavekit/enclavekit/internal/cli"
)

// appExit carries the application's non-zero exit code out of init: run
// returns it as enclave-agent's own status.
type appExit struct{ code int }

func (e *appExit) Error() string { return fmt.Sprintf("the application exited with status %d", e.code) }

// initCmd is "enclave-agent init": the boot tasks, then the application
// under supervision (package enclave/boot), optionally with the agent's
// endpoints in the same process.
func (a *app) initCmd(args []string) error {
	fs := a.flags("init")
	seed := fs.Bool("seed-entropy", true, "")
	seedBytes := fs.Int("seed-bytes", boot.DefaultSeedBytes, "")
	loopback := fs.Bool("loopback", true, "")
	timeFrom := fs.String("time-from", "", "")
	maxStep := fs.Duration("max-clock-step", boot.DefaultMaxClockStep, "")
	logsTo := fs.String("logs-to", "", "")
	restart := fs.String("restart", boot.RestartNever, "")
	maxRestarts := fs.Int("max-restarts", 0, "")
	stopTimeout := fs.Duration("stop-timeout", boot.DefaultStopTimeout, "")
	listen := fs.String("listen", "", "")
	kmsListen := fs.String("kms-listen", "", "")
	maxAttest := fs.Int("max-concurrent-attestations", agent.DefaultEndpointMaxConcurrent, "")
	command, err := a.parseTop(fs, args)
	if err != nil {
		return err
	}
	if err := a.g.check(); err != nil {
		return err
	}
	if len(command) == 0 {
		return usagef("init: give the application after the flags: init [flags] -- COMMAND [ARGS...]")
	}
	switch *restart {
	case boot.RestartNever, boot.RestartOnFailure, boot.RestartAlways:
	default:
		return usagef("init: --restart %q: want no, on-failure or always", *restart)
	}
	if *seedBytes < 1 || *seedBytes > 4096 {
		return usagef("init: --seed-bytes %d: want 1 to 4096", *seedBytes)
	}
	if *maxStep > boot.MaxClockStepLimit || *maxStep < 0 {
		return cli.WithHint(usagef("init: --max-clock-step %v: want at most %v (and positive)", *maxStep, boot.MaxClockStepLimit),
			"--max-clock-step bounds how far the parent instance can move the clock from the NSM's; the default is "+boot.DefaultMaxClockStep.String())
	}
	if *maxStep <= 0 || *stopTimeout <= 0 || *maxRestarts < 0 {
		return usagef("init: --max-clock-step and --stop-timeout must be positive, --max-restarts not negative")
	}
	if *listen != "" {
		if _, err := cli.ParseAddr("init: --listen", *listen); err != nil {
			return err
		}
	}
	if err := checkMaxAttest("init", *maxAttest); err != nil {
		return err
	}
	path, err := exec.LookPath(command[0])
	if err != nil {
		return usagef("init: application %q: %v", command[0], err)
	}
	log, err := a.logger()
	if err != nil {
		return err
	}
	nsm, err := a.openNSM()
	if err != nil {
		return err
	}
	defer nsm.Close()
	ctx := a.ctx

	// 1. Entropy first: everything after it may use crypto/rand.
	if *seed {
		n, err := boot.SeedEntropy(nsm, boot.KernelPool(), *seedBytes)
		if errors.Is(err, boot.ErrEntropyHealth) {
			return cli.WithHint(err, "nothing was credited to the kernel's pool and the application did not start; if it recurs after a new boot, the NSM's random source is broken")
		}
		if err != nil {
			return cli.WithHint(err, "init needs CAP_SYS_ADMIN for RNDADDENTROPY; --seed-entropy=false outside an enclave")
		}
		log.Info("init: kernel random pool seeded from the NSM", slog.Int("bytes", n))
	}
	// 2. Loopback, for the local endpoints and the application.
	if *loopback {
		if err := boot.LoopbackUp(); err != nil {
			return cli.WithHint(err, "init needs CAP_NET_ADMIN to bring up lo; --loopback=false outside an enclave")
		}
		log.Info("init: loopback up")
	}
	// 3. The clock: a failure is logged, not fatal (the clock may be right).
	if *timeFrom != "" {
		if _, err := boot.SyncClock(ctx, &boot.ClockConfig{Addr: *timeFrom, MaxStep: *maxStep, Reference: boot.NSMTime(nsm), Logger: log}); err != nil {
			log.Error("init: clock not set from the host", slog.String("error", err.Error()))
		}
	}
	// 4. Logs: the application's output goes to the host, never waiting.
	// The forwarder runs until the application has exited for good, then
	// sends what is left (for at most its WriteWait, 5 s) before init
	// returns.
	var stdout, stderr io.Writer = os.Stdout, os.Stderr
	var fwd *boot.LogForwarder
	var fwdOut, fwdErr io.WriteCloser
	var fwdDone sync.WaitGroup
	pipesEnv := ""
	fwdCtx, stopFwd := context.WithCancel(context.Background())
	defer func() { stopFwd(); fwdDone.Wait() }()
	if *logsTo != "" {
		fwd, err = boot.NewLogForwarder(&boot.LogForwarderConfig{Addr: *logsTo, Logger: log})
		if err != nil {
			return cli.Usage(err)
		}
		fwdDone.Add(1)
		go func() { defer fwdDone.Done(); fwd.Run(fwdCtx) }()
		fwdOut, fwdErr = fwd.Writer("stdout"), fwd.Writer("stderr")
		stdout, stderr = fwdOut, fwdErr
		// The application learns which pipes reach the parent: the KMS
		// commands refuse to write key material to them.
		pipesEnv = envForwardedPipes
	}
	// 5. The agent's own endpoints, in this process.
	ctx, waitKMS, kmsAddr, err := a.startKMSEndpoint(ctx, "init", nsm, *kmsListen)
	if err != nil {
		return err
	}
	var attAddr boundAddr
	waitEndpoint := func() error { return nil }
	if *listen != "" {
		epCfg := &agent.EndpointConfig{NSM: nsm, Kind: a.g.nsm, MaxConcurrent: *maxAttest, Logger: log}
		h, err := agent.NewEndpoint(epCfg)
		if err != nil {
			_ = waitKMS()
			return err
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		sctx := ctx
		logListening := endpointListening(log, *listen, epCfg)
		wait, err := startListening(ctx, func(ready func(net.Addr)) error {
			return agent.Serve(sctx, *listen, h, ready)
		}, func(addr net.Addr) { attAddr.set(addr); logListening(addr) }, cancel)
		if err != nil {
			cancel()
			_ = waitKMS()
			return listenError("init", "--listen", *listen, err)
		}
		waitEndpoint = func() error { cancel(); return wait() }
	}
	// 6. The application, once both endpoints listen (step 5 waited for
	// them): its first request finds them, and it never runs when one of
	// them could not listen. Its environment names the addresses they
	// listen on (a kernel-assigned port resolved: --kms-listen
	// 127.0.0.1:0 leaves no port to find free and race for).
	st, err := boot.Supervise(ctx, &boot.SupervisorConfig{
		Path: path, Args: command, Env: appEnv(os.Environ(), kmsAddr, attAddr.get()),
		Restart: *restart, MaxRestarts: *maxRestarts, StopTimeout: *stopTimeout,
		Stdout: stdout, Stderr: stderr, PipesEnv: pipesEnv, ReapOrphans: os.Getpid() == 1, Logger: log,
		OnExit: func(st boot.ExitStatus) {
			if fwd != nil {
				// A last line without a newline goes before the exit
				// report (the writers take lines again on a restart).
				fwdOut.Close()
				fwdErr.Close()
				b, _ := json.Marshal(st)
				fwd.Record("exit", string(b))
			}
		},
	})
	if eerr := waitEndpoint(); err == nil {
		err = eerr
	}
	if kerr := waitKMS(); err == nil {
		err = kerr
	}
	if fwd != nil {
		stopFwd()
		fwdDone.Wait() // the statistics are final once Run has returned
		s := fwd.Stats()
		log.Info("init: log forwarding", slog.Uint64("forwarded", s.Forwarded), slog.Uint64("dropped_lines", s.DroppedLines),
			slog.Uint64("dropped_bytes", s.DroppedBytes), slog.Uint64("split", s.Split))
	}
	if err != nil {
		return err
	}
	if st.Code != 0 && !st.Stopped {
		if st.Code < 0 { // ended by a signal
			return &appExit{code: cli.ExitFailure}
		}
		return &appExit{code: st.Code}
	}
	return nil
}
