// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func zeroised(rk *ringKey) bool {
	if rk.priv.D.Sign() != 0 {
		return false
	}
	for _, p := range rk.priv.Primes {
		if p.Sign() != 0 {
			return false
		}
	}
	return true
}

func TestKeyringRotation(t *testing.T) {
	clk := &testClock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	k, err := newKeyring(rand.Reader, 2048, time.Hour, clk.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.acquire()
	if err != nil {
		t.Fatal(err)
	}
	if a.priv.N.BitLen() != 2048 {
		t.Fatalf("key is %d bits", a.priv.N.BitLen())
	}
	clk.Add(59 * time.Minute)
	a2, _ := k.acquire()
	if a2 != a {
		t.Fatal("key replaced before its rotation period")
	}
	k.release(a2)
	clk.Add(2 * time.Minute)
	b, err := k.acquire() // rotates; a is still held
	if err != nil {
		t.Fatal(err)
	}
	if b == a || b.priv.N.Cmp(a.priv.N) == 0 {
		t.Fatal("key not replaced after its rotation period")
	}
	if zeroised(a) {
		t.Fatal("retired key zeroised while a request still uses it")
	}
	k.release(a)
	if !zeroised(a) {
		t.Fatal("retired key not zeroised after its last use")
	}
	k.release(b)
	if zeroised(b) {
		t.Fatal("current key zeroised")
	}
	k.close()
	if !zeroised(b) {
		t.Fatal("key not zeroised on close")
	}
	if _, err := k.acquire(); !errors.Is(err, errClosed) {
		t.Fatalf("acquire after close: %v", err)
	}
}
