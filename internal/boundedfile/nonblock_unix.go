// SPDX-License-Identifier: Apache-2.0

//go:build unix

package boundedfile

import "syscall"

// nonBlock makes opening a named pipe return at once instead of waiting
// for a writer.
const nonBlock = syscall.O_NONBLOCK
