// SPDX-License-Identifier: Apache-2.0

// Package quote repeats untrusted values in error messages, audit reasons
// and logs safely: each value is quoted as Go's %q does (no newline,
// terminal escape or invalid UTF-8 gets through), at most a given number
// of bytes of it, cut at a rune boundary, with what was cut said; a list
// shows at most a given number of values.
//
// A peer chooses the values (a key service's answer, an image's metadata,
// a request's condition values), so an unbounded echo would let it write
// megabytes or forge lines into an operator's log.
package quote
