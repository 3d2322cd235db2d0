// SPDX-License-Identifier: Apache-2.0

//go:build unix

package boot

import (
	"fmt"
	"os"
	"syscall"
)

// FileID returns the identity of the open file f as "DEVICE:INODE" (decimal,
// from fstat): two descriptors with the same FileID are the same file, the
// same pipe for a pipe. [SupervisorConfig.PipesEnv] names the application's
// forwarded pipes this way, so a program can compare its own stdout with
// them.
func FileID(f *os.File) (string, error) {
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", ErrUnsupported
	}
	return fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino)), nil
}
