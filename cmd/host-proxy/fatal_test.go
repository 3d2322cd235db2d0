// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/cli"
)

// A proxy that cannot go on (an event worker panicked) ends host-proxy
// with exit status 1, a runtime failure, after the usual error and hint
// lines: not the Go runtime's status 2, which a supervisor takes for a
// usage error.
func TestExitOnFatal(t *testing.T) {
	var stderr bytes.Buffer
	p := &cli.Program{Name: "host-proxy", Stdout: io.Discard, Stderr: &stderr}
	code := -1
	exitOnFatal(p, func(c int) { code = c }, time.Minute)(errors.New("proxy: event worker panicked: injected"))
	if code != cli.ExitFailure {
		t.Errorf("exit status %d, want %d", code, cli.ExitFailure)
	}
	want := "host-proxy: error: event worker panicked: injected\n" +
		"host-proxy: hint: " + fatalHint + "\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
}

// A stderr that blocks (the log sink is what failed) does not keep
// host-proxy from exiting: the error line is given the wait, then the
// process exits 1 without it.
func TestExitOnFatalStuckStderr(t *testing.T) {
	pr, pw := io.Pipe() // never read
	defer pr.Close()
	p := &cli.Program{Name: "host-proxy", Stdout: io.Discard, Stderr: pw}
	codes := make(chan int, 1)
	go exitOnFatal(p, func(c int) { codes <- c }, 50*time.Millisecond)(errors.New("proxy: event worker panicked: injected"))
	select {
	case c := <-codes:
		if c != cli.ExitFailure {
			t.Errorf("exit status %d, want %d", c, cli.ExitFailure)
		}
	case <-time.After(waitLimit):
		t.Fatal("no exit while stderr blocks")
	}
}
