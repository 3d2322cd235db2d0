// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package transport

import "syscall"

// controlUnixMode does nothing outside Linux, whose bind(2) alone takes
// the mode from the socket: [listenUnix] chmods the file after bind.
func controlUnixMode(string, string, syscall.RawConn) error { return nil }
