// SPDX-License-Identifier: Apache-2.0

//go:build !unix

package boundedfile

// nonBlock is 0 where named pipes are not opened through the file system.
const nonBlock = 0
