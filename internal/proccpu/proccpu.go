// SPDX-License-Identifier: Apache-2.0

package proccpu

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// tick is one clock tick of /proc/PID/stat: USER_HZ, 100 per second on
// every Linux architecture.
const tick = time.Second / 100

// maxTicks bounds each field so that the sum of two, in nanoseconds, fits
// an int64 (about 1,400 years of CPU time).
const maxTicks = math.MaxInt64 / int64(tick) / 2

// Times is the CPU time of one process: its own user + system time, and the
// user + system time of the children it has waited for.
type Times struct {
	Self, Children time.Duration
}

// Total is Self plus Children.
func (t Times) Total() time.Duration { return t.Self + t.Children }

// StatError reports a /proc/PID/stat that could not be read or parsed.
type StatError struct {
	PID int
	Err error
}

func (e *StatError) Error() string { return fmt.Sprintf("proccpu: /proc/%d/stat: %v", e.PID, e.Err) }

// Unwrap returns the underlying error.
func (e *StatError) Unwrap() error { return e.Err }

// Of returns the CPU times of process pid from /proc/PID/stat, to the
// clock tick (10 ms). It fails with a [*StatError] where there is no /proc
// or no such process.
func Of(pid int) (Times, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Times{}, &StatError{PID: pid, Err: err}
	}
	return parseStat(pid, b)
}

// parseStat reads utime, stime, cutime and cstime: the 14th to 17th fields
// of the line, counted after the command name, which is in parentheses and
// may itself hold spaces and parentheses.
func parseStat(pid int, b []byte) (Times, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Times{}, &StatError{PID: pid, Err: fmt.Errorf("no command name")}
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is the state (field 3); utime is field 14, so f[11].
	if len(f) < 15 {
		return Times{}, &StatError{PID: pid, Err: fmt.Errorf("%d fields after the command name, want at least 15", len(f))}
	}
	var v [4]int64
	for k := range v {
		n, err := strconv.ParseInt(string(f[11+k]), 10, 64)
		if err != nil || n < 0 || n > maxTicks {
			return Times{}, &StatError{PID: pid, Err: fmt.Errorf("field %d: %q is not a tick count", 14+k, f[11+k])}
		}
		v[k] = n
	}
	return Times{Self: time.Duration(v[0]+v[1]) * tick, Children: time.Duration(v[2]+v[3]) * tick}, nil
}
