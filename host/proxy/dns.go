// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Resolver resolves host names. *net.Resolver implements it; tests inject a
// fake. LookupNetIP must return once ctx is done: [Proxy.Serve] cancels the
// lookups still running when it shuts down, and waits for them up to 5 s
// (then returns, logging how many it left running).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// dnsCache resolves one egress destination name and keeps the answer for
// its records' TTL, bounded to [MinDNSTTL, maxTTL], when ttl (the direct
// DNS client, or a TTLResolver given in Config.Resolver) answers; otherwise
// Go's resolver answers and the answer is kept for the fixed interval. When
// a refresh fails the previous answer keeps being used (and the failure
// logged) until a refresh succeeds; with no previous answer the failure is
// kept for MinDNSTTL (at most maxTTL), so a storm of connections to a
// failing name makes one lookup, not one per connection.
//
// A lookup runs under its own timeout, not the caller's context: a caller
// that gives up (its connection's deadline, or the client leaving) gets its
// context's error, and the lookup goes on for the next caller. A lookup
// cut short by its caller counted as a failed refresh and kept an expired
// answer for fixed/4 more, indefinitely while callers kept giving up. The
// lookup does end with the proxy (lookups): Serve cancels it and waits
// for it before it returns.
type dnsCache struct {
	resolver Resolver
	ttl      TTLResolver // nil: resolver only, at the fixed interval
	name     string
	network  string // "ip", "ip4" or "ip6"
	maxTTL   time.Duration
	fixed    time.Duration // interval when the TTL is unknown
	now      func() time.Time

	mu       sync.Mutex
	addrs    []netip.Addr
	err      error // the last failure while addrs is nil
	expires  time.Time
	inflight *dnsFlight // the running lookup

	// lookups runs the lookups, each on a goroutine of its own, within
	// the proxy's lifetime; nil: context.Background (tests).
	lookups *lookupGroup
}

// lookupGroup runs a proxy's lookups, DNS and the host's interface
// addresses (allowList.isLocal), and ends them when the proxy shuts down:
// [Proxy.Serve] cancels their context and waits for them, so none outlives
// it by up to dnsLookupTimeout. The wait is bounded (wait), for a
// [Resolver] that ignores its context.
type lookupGroup struct {
	ctx    context.Context
	cancel context.CancelFunc
	wait   time.Duration // how long stop waits for the running lookups

	mu      sync.Mutex
	stopped bool
	running int
	wg      sync.WaitGroup
}

// lookupStopWait is how long [Proxy.Serve] waits for the lookups it has
// cancelled: they return at once unless a Resolver ignores its context.
const lookupStopWait = 5 * time.Second

func newLookupGroup() *lookupGroup {
	ctx, cancel := context.WithCancel(context.Background())
	return &lookupGroup{ctx: ctx, cancel: cancel, wait: lookupStopWait}
}

// errStopped is a lookup's error once the proxy has shut down.
var errStopped = errors.New("proxy: shut down")

// start runs f on a goroutine with the group's context, or returns false
// once the group is stopped.
func (g *lookupGroup) start(f func(context.Context)) bool {
	if g == nil {
		go f(context.Background())
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	g.wg.Add(1)
	g.running++
	go func() {
		defer g.wg.Done()
		defer func() { g.mu.Lock(); g.running--; g.mu.Unlock() }()
		f(g.ctx)
	}()
	return true
}

// stop cancels the running lookups, refuses new ones and waits up to
// g.wait for the running ones to return (a [Resolver] must return when its
// context is done, as net.Resolver and the direct client do). It returns
// how many are still running then, left behind.
func (g *lookupGroup) stop() (left int) {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	g.cancel()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case <-done:
		return 0
	case <-t.C:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running
}

// dnsFlight is one lookup and its outcome, read by every caller waiting for
// it once done is closed.
type dnsFlight struct {
	done  chan struct{}
	addrs []netip.Addr
	stale error
	err   error
}

// dnsLookupTimeout bounds one lookup (the direct client's queries, then
// Go's resolver), whatever its callers' deadlines.
const dnsLookupTimeout = 30 * time.Second

// lookup returns the current addresses, resolving again when the cached
// answer is older than the refresh interval. stale is the refresh error when an old
// answer is returned instead.
func (d *dnsCache) lookup(ctx context.Context) (addrs []netip.Addr, stale error, err error) {
	d.mu.Lock()
	if d.now().Before(d.expires) {
		a, e := d.addrs, d.err
		d.mu.Unlock()
		if a == nil {
			return nil, nil, e // a recent failure, kept for a while
		}
		return a, nil, nil
	}
	f := d.inflight
	if f == nil {
		f = &dnsFlight{done: make(chan struct{})}
		if !d.lookups.start(func(lctx context.Context) { d.refresh(lctx, f) }) {
			d.mu.Unlock()
			return nil, nil, errStopped
		}
		d.inflight = f
	}
	d.mu.Unlock()
	select {
	case <-f.done:
		return f.addrs, f.stale, f.err
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// refresh runs the lookup f and caches its outcome.
func (d *dnsCache) refresh(ctx context.Context, f *dnsFlight) {
	ctx, cancel := context.WithTimeout(ctx, dnsLookupTimeout)
	defer cancel()
	got, keep, lerr := d.resolve(ctx)
	d.mu.Lock()
	switch {
	case lerr != nil && d.addrs != nil:
		// Retry sooner than a full interval, without a lookup per
		// connection while the resolver is failing.
		d.expires = d.now().Add(d.fixed / 4)
		f.addrs, f.stale = d.addrs, lerr
	case lerr != nil:
		d.err = lerr
		d.expires = d.now().Add(clampTTL(MinDNSTTL, d.maxTTL))
		f.err = lerr
	default:
		for i := range got {
			got[i] = got[i].Unmap()
		}
		d.addrs, d.err = got, nil
		d.expires = d.now().Add(keep)
		f.addrs = got
	}
	d.inflight = nil
	d.mu.Unlock()
	close(f.done)
}

// fresh returns the cached answer while it is current, without resolving
// (nil otherwise: [dnsCache.lookup] resolves, and may block).
func (d *dnsCache) fresh() []netip.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.addrs != nil && d.now().Before(d.expires) {
		return d.addrs
	}
	return nil
}

// resolve looks the name up: with its TTL when it can, else with Go's
// resolver and the fixed interval. keep is how long the answer is used.
func (d *dnsCache) resolve(ctx context.Context) (addrs []netip.Addr, keep time.Duration, err error) {
	if d.ttl != nil {
		addrs, ttl, err := d.ttl.LookupNetIPTTL(ctx, d.network, d.name)
		if err == nil && len(addrs) > 0 {
			return addrs, clampTTL(ttl, d.maxTTL), nil
		}
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		// The servers did not answer, or the name is not in DNS (it may
		// be in /etc/hosts): Go's resolver decides, at the fixed interval.
	}
	addrs, err = d.resolver.LookupNetIP(ctx, d.network, d.name)
	if err == nil && len(addrs) == 0 {
		err = fmt.Errorf("no addresses")
	}
	return addrs, d.fixed, err
}

// clampTTL bounds a record TTL to [MinDNSTTL, max] (max below MinDNSTTL
// wins: the operator asked for a shorter interval).
func clampTTL(ttl, max time.Duration) time.Duration {
	if ttl < MinDNSTTL {
		ttl = MinDNSTTL
	}
	if ttl > max {
		ttl = max
	}
	return ttl
}
