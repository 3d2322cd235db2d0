// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"regexp"
	"sync"
	"testing"
	"time"
)

// waitLimit bounds the waits for an event in these tests. It is no
// property of the code: it only turns an event that never comes into a
// failure that names it rather than a hang until go test's -timeout, so
// it is far beyond what a loaded machine needs.
const waitLimit = time.Minute

// waitUntil polls cond until it holds, failing the test (naming what) if
// it does not within waitLimit.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", waitLimit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logWatch is a log writer a test can wait on: the command under test
// writes its log into it while the test waits for a line.
type logWatch struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newLogWatch() *logWatch { return &logWatch{changed: make(chan struct{}, 1)} }

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	n, err := w.b.Write(p)
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (w *logWatch) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.b.String() }

// waitFor waits for the log to match re and returns the last submatch;
// it fails the test if exited is closed first (the command ended) or after
// waitLimit.
func (w *logWatch) waitFor(t *testing.T, re string, exited <-chan struct{}) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	limit := time.After(waitLimit)
	for {
		if m := rx.FindStringSubmatch(w.String()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-w.changed:
		case <-exited:
			if m := rx.FindStringSubmatch(w.String()); m != nil {
				return m[len(m)-1]
			}
			t.Fatalf("the command ended before logging %q:\n%s", re, w.String())
		case <-limit:
			t.Fatalf("no %q in the log after %v:\n%s", re, waitLimit, w.String())
		}
	}
}
