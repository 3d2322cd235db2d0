// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reaper reaps orphans re-parented to this process (PID 1, or a child
// subreaper), leaving the supervised application to exec.Cmd.Wait.
type reaper struct {
	mu      sync.Mutex // held while starting the application and while reaping
	managed int        // pid of the running application, 0 when none
	log     *slog.Logger
	sig     chan os.Signal
	done    chan struct{}
	wg      sync.WaitGroup
}

func startReaper(log *slog.Logger) (*reaper, error) {
	if os.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, err
		}
	}
	r := &reaper{log: log, sig: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(r.sig, unix.SIGCHLD)
	r.wg.Add(1)
	go r.loop()
	return r, nil
}

func (r *reaper) loop() {
	defer r.wg.Done()
	t := time.NewTicker(time.Second) // SIGCHLD can coalesce: sweep anyway
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-r.sig:
		case <-t.C:
		}
		r.sweep()
	}
}

// sweep reaps every waitable child except the managed one: waitid with
// WNOWAIT peeks at a child without reaping it.
func (r *reaper) sweep() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
			return // ECHILD: no children
		}
		pid := int(siginfoPid(&info))
		if pid == 0 || pid == r.managed {
			return // nothing waitable, or the application (exec.Cmd reaps it)
		}
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err != nil {
			return
		}
		r.log.Debug("boot: reaped an orphaned process", slog.Int("pid", pid), slog.Int("status", ws.ExitStatus()))
	}
}

// siginfoPid reads si_pid: the first field of the union after si_signo,
// si_errno, si_code and padding, at byte 16 on 64-bit Linux.
func siginfoPid(info *unix.Siginfo) int32 {
	return *(*int32)(unsafe.Add(unsafe.Pointer(info), 16))
}

func (r *reaper) stop() {
	signal.Stop(r.sig)
	close(r.done)
	r.wg.Wait()
}
