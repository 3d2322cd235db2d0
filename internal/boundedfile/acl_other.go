// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package boundedfile

import (
	"io/fs"
	"os"
)

// withACL returns fi: POSIX ACLs are read on Linux only.
func withACL(_ *os.File, fi fs.FileInfo) fs.FileInfo { return fi }
