// SPDX-License-Identifier: Apache-2.0

//go:build unix

package flock

import (
	"os"
	"syscall"
)

// Lock takes an exclusive flock on name, creating it (mode 0600) when
// missing, and waits while another holder has it. unlock releases it.
func Lock(name string) (unlock func(), err error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: name, Err: err}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
