// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"sync"
	"testing"
	"time"
)

// FakeClock is a manual clock for the attested listener's tests: Now
// reads it, Sleep waits until Advance moves it to the wake-up time, and
// each Sleep announces its duration on Slept once it waits.
type FakeClock struct {
	// Slept receives d each time Sleep starts waiting d.
	Slept chan time.Duration

	mu    sync.Mutex
	now   time.Time
	wakes []fakeWake
}

type fakeWake struct {
	at time.Time
	ch chan struct{}
}

// NewFakeClock returns a FakeClock at t.
func NewFakeClock(t time.Time) *FakeClock {
	return &FakeClock{Slept: make(chan time.Duration, 64), now: t}
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d, waking every Sleep whose time it reaches.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.wakes[:0]
	for _, w := range c.wakes {
		if w.at.After(c.now) {
			keep = append(keep, w)
		} else {
			close(w.ch)
		}
	}
	c.wakes = keep
}

// Sleep waits until the clock has advanced d from now, or ctx ends.
func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	w := fakeWake{at: c.now.Add(d), ch: make(chan struct{})}
	c.wakes = append(c.wakes, w)
	c.mu.Unlock()
	select {
	case c.Slept <- d:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NextSleep returns the duration of the next Sleep, failing tb when none
// starts within a minute (that only turns a hang into a failure).
func (c *FakeClock) NextSleep(tb testing.TB) time.Duration {
	tb.Helper()
	select {
	case d := <-c.Slept:
		return d
	case <-time.After(time.Minute):
		tb.Fatal("no Sleep within a minute: the listener does not wait for a token")
		return 0
	}
}

// UseFakeClock makes the listener of cfg read c and wait on it (see
// AttestedConfig.Clock).
func UseFakeClock(cfg *AttestedConfig, c *FakeClock) { cfg.Clock, cfg.sleep = c.Now, c.Sleep }
