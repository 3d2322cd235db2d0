// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingTTLResolver answers (or fails) every lookup, counting them and
// the lookups made with a context already done.
type countingTTLResolver struct {
	calls, live atomic.Int64
	addrs       []netip.Addr
	err         error
	gate        chan struct{} // nil: answer at once; else wait for it
}

func (f *countingTTLResolver) LookupNetIP(ctx context.Context, n, h string) ([]netip.Addr, error) {
	a, _, err := f.LookupNetIPTTL(ctx, n, h)
	return a, err
}

func (f *countingTTLResolver) LookupNetIPTTL(ctx context.Context, n, h string) ([]netip.Addr, time.Duration, error) {
	f.calls.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f.live.Add(1)
	if f.err != nil {
		return nil, 0, f.err
	}
	return f.addrs, time.Minute, nil
}

// TestDNSCancelledLookupKeepsNoStaleAnswer: a lookup the caller gives up on
// (its connection's deadline, or the client leaving) is not a failed DNS
// refresh. It extended the expired answer by fixed/4 each time, so callers
// that give up could keep a stale address in use indefinitely without DNS
// ever being asked with a live context (found by review).
func TestDNSCancelledLookupKeepsNoStaleAnswer(t *testing.T) {
	now := time.Unix(1000, 0)
	old, fresh := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.99")
	f := &countingTTLResolver{addrs: []netip.Addr{fresh}}
	d := &dnsCache{resolver: f, ttl: f, name: "kms.example", network: "ip", maxTTL: 5 * time.Minute, fixed: 30 * time.Second,
		now: func() time.Time { return now }}
	d.addrs, d.expires = []netip.Addr{old}, now.Add(-time.Hour) // expired an hour ago
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		d.lookup(ctx)
	}
	got, stale, err := d.lookup(context.Background())
	if err != nil || stale != nil || len(got) != 1 || got[0] != fresh {
		t.Fatalf("lookup after cancelled ones: %v %v %v, want %v (a live lookup past expiry)", got, stale, err, fresh)
	}
	if f.live.Load() == 0 {
		t.Fatal("no lookup with a live context")
	}
}

// TestDNSCallerGivesUpLookupGoesOn: a caller whose context ends while the
// lookup runs gets its context's error, and the lookup's answer is cached
// for the next caller.
func TestDNSCallerGivesUpLookupGoesOn(t *testing.T) {
	now := time.Unix(1000, 0)
	want := netip.MustParseAddr("203.0.113.99")
	f := &countingTTLResolver{addrs: []netip.Addr{want}, gate: make(chan struct{})}
	d := &dnsCache{resolver: f, ttl: f, name: "kms.example", network: "ip", maxTTL: 5 * time.Minute, fixed: 30 * time.Second,
		now: func() time.Time { return now }}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := d.lookup(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lookup past the caller's deadline: %v, want context.DeadlineExceeded", err)
	}
	close(f.gate)
	got, stale, err := d.lookup(context.Background())
	if err != nil || stale != nil || len(got) != 1 || got[0] != want {
		t.Fatalf("next lookup: %v %v %v, want %v", got, stale, err, want)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d resolver calls, want 1 (the next caller waits for the running lookup)", n)
	}
}

// TestDNSNegativeCache: a name that fails with no previous answer is not
// asked again for every connection: 10,000 simultaneous lookups made
// 20,000 resolver calls (the direct client, then Go's resolver, for each;
// found by review). The failure is kept for MinDNSTTL.
func TestDNSNegativeCache(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	f := &countingTTLResolver{err: errors.New("SERVFAIL")}
	d := &dnsCache{resolver: f, ttl: f, name: "kms.example", network: "ip", maxTTL: 5 * time.Minute, fixed: 30 * time.Second,
		now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := 0; i < 10000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := d.lookup(context.Background()); err == nil || err.Error() != "SERVFAIL" {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Errorf("%d lookups did not fail with SERVFAIL", n)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("10000 lookups: %d resolver calls, want 2 (one lookup: the direct client, then Go's resolver)", n)
	}
	mu.Lock()
	now = now.Add(MinDNSTTL - time.Millisecond)
	mu.Unlock()
	if _, _, err := d.lookup(context.Background()); err == nil || err.Error() != "SERVFAIL" {
		t.Errorf("within MinDNSTTL: %v, want SERVFAIL", err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("within MinDNSTTL: %d resolver calls, want 2", n)
	}
	mu.Lock()
	now = now.Add(time.Millisecond)
	mu.Unlock()
	f.err = nil
	f.addrs = []netip.Addr{netip.MustParseAddr("203.0.113.7")}
	if got, _, err := d.lookup(context.Background()); err != nil || len(got) != 1 {
		t.Errorf("after MinDNSTTL: %v %v, want a fresh answer", got, err)
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("after MinDNSTTL: %d resolver calls, want 3", n)
	}
}

// blockingResolver answers no lookup: each waits for its context, counted
// while it runs.
type blockingResolver struct {
	started chan struct{}
	running atomic.Int64
}

func (b *blockingResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	b.running.Add(1)
	defer b.running.Add(-1)
	b.started <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestDNSLookupEndsWithServe: a lookup runs on past the connection that
// started it (for the next one), but not past the proxy: when Serve
// returns, no lookup is left running (one used to hold its goroutine, and
// a resolver's socket, for up to dnsLookupTimeout after shutdown).
func TestDNSLookupEndsWithServe(t *testing.T) {
	for _, goroutines := range []bool{false, true} {
		res := &blockingResolver{started: make(chan struct{}, 1)}
		p, stop := startProxy(t, &Config{Resolver: res, ConnectTimeout: 50 * time.Millisecond, goroutines: goroutines,
			AllowList: []AllowEntry{{Address: "api.partner.test", Port: 443}},
			Routes:    []Route{{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://api.partner.test:443"}}})
		c := dialRoute(t, p, "r")
		<-res.started
		// The connection gives up after ConnectTimeout; the lookup goes on.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		c.Read(make([]byte, 1))
		c.Close()
		if res.running.Load() != 1 {
			t.Fatalf("goroutines %v: %d lookups running after the connection gave up, want 1", goroutines, res.running.Load())
		}
		stop()
		if n := res.running.Load(); n != 0 {
			t.Errorf("goroutines %v: %d lookups still running after Serve returned", goroutines, n)
		}
		buf := make([]byte, 1<<20)
		if n := strings.Count(string(buf[:runtime.Stack(buf, true)]), "(*dnsCache).refresh("); n != 0 {
			t.Errorf("goroutines %v: %d lookup goroutines left after Serve returned", goroutines, n)
		}
	}
}
