// SPDX-License-Identifier: Apache-2.0

//go:build unix

package boot

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// inOwnGroup makes cmd start in a process group of its own, whose id is
// its pid, so that the supervisor can signal the whole application (a
// shell wrapper and the server it started) as dumb-init does. An enclave
// has no controlling terminal, so no terminal job control applies; outside
// one the application is a background job of init's terminal (its stdin is
// /dev/null, so it never reads from it).
func inOwnGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// signalGroup sends sig to every process in the group pgid;
// os.ErrProcessDone when none is left.
func signalGroup(pgid int, sig syscall.Signal) error {
	err := syscall.Kill(-pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// groupAlive reports whether a process (a zombie included) is left in the
// group pgid.
func groupAlive(pgid int) bool { return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) }
