// SPDX-License-Identifier: Apache-2.0

package proccpu

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and a parenthesis, as the kernel writes it.
	line := []byte("4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 12 3 20 0 1 0 5 0 0\n")
	got, err := parseStat(4242, line)
	if err != nil {
		t.Fatal(err)
	}
	want := Times{Self: 3250 * time.Millisecond, Children: 150 * time.Millisecond}
	if got != want || got.Total() != 3400*time.Millisecond {
		t.Fatalf("parseStat = %+v, want %+v", got, want)
	}
}

func TestParseStatRejects(t *testing.T) {
	for name, line := range map[string]string{
		"no command":   "4242 a S 1 2 3",
		"short":        "4242 (a) S 1 4242 4242 0 -1 4194560 100 0 0 0 250\n",
		"not a number": "4242 (a) S 1 4242 4242 0 -1 4194560 100 0 0 0 x 75 12 3 20\n",
		"negative":     "4242 (a) S 1 4242 4242 0 -1 4194560 100 0 0 0 -1 75 12 3 20\n",
	} {
		_, err := parseStat(4242, []byte(line))
		var se *StatError
		if !errors.As(err, &se) || se.PID != 4242 {
			t.Errorf("%s: err = %v, want a *StatError for PID 4242", name, err)
		}
	}
}

func TestOfMissingProcess(t *testing.T) {
	_, err := Of(-1)
	var se *StatError
	if !errors.As(err, &se) || se.PID != -1 {
		t.Fatalf("Of(-1) = %v, want a *StatError", err)
	}
}

// TestOfSelfAgrees burns CPU and checks that /proc and getrusage see it.
func TestOfSelfAgrees(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no /proc/PID/stat on " + runtime.GOOS)
	}
	// Busy work until getrusage has seen 200 ms of CPU (not 200 ms of wall
	// time: on a loaded machine that can be a few ms of CPU); the minute
	// only bounds how long a Self that never grows takes to show.
	before, self0 := mustOf(t), Self()
	start := time.Now()
	for Self()-self0 < 200*time.Millisecond {
		if time.Since(start) > time.Minute {
			t.Fatalf("Self grew by %v over a minute of busy work", Self()-self0)
		}
	}
	after := mustOf(t)
	// /proc counts in clock ticks (10 ms here), and Of read before Self.
	if d := after.Self - before.Self; d < 150*time.Millisecond {
		t.Fatalf("Of(self) grew by %v while Self grew by 200 ms", d)
	}
}

func mustOf(t *testing.T) Times {
	t.Helper()
	ts, err := Of(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 12 3 20 0 1 0 5 0 0\n"))
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 9\n"))
	f.Add([]byte(")))"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := parseStat(7, b)
		if err == nil && (ts.Self < 0 || ts.Children < 0) {
			t.Fatalf("negative times %+v from %q", ts, b)
		}
	})
}
