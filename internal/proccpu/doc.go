// SPDX-License-Identifier: Apache-2.0

// Package proccpu reads the CPU time of processes, for the benchmarks and
// load tests that report CPU per operation beside wall time: [Self] for the
// calling process (getrusage), [Of] for another process by its PID, with
// the time of the children it has reaped (Linux /proc/PID/stat).
//
// It is a measuring aid for tests and benchmarks; nothing in the binaries
// uses it.
package proccpu
