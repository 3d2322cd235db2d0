// SPDX-License-Identifier: Apache-2.0

//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package keystore

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("would block")

// lockFile is unsupported here: the directory store needs flock(2).
func lockFile(*os.File) error {
	return errors.New("directory locking (flock) is not supported on this platform")
}
