// SPDX-License-Identifier: Apache-2.0

//go:build !unix

package boot

import (
	"os"
	"os/exec"
	"syscall"
)

// inOwnGroup does nothing without Unix process groups: the supervisor
// signals the application's first process only.
func inOwnGroup(*exec.Cmd) {}

func signalGroup(pid int, sig syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Signal(sig)
}

func groupAlive(int) bool { return false }
