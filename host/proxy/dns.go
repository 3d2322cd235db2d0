// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Resolver resolves host names. *net.Resolver implements it; tests inject a
// fake.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// dnsCache resolves one egress destination name and keeps the answer for
// its records' TTL, bounded to [MinDNSTTL, maxTTL], when ttl (the direct
// DNS client, or a TTLResolver given in Config.Resolver) answers; otherwise
// Go's resolver answers and the answer is kept for the fixed interval. When
// a refresh fails the previous answer keeps being used (and the failure
// logged) until a refresh succeeds.
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
	expires  time.Time
	inflight chan struct{} // closed when the running lookup finishes
}

// lookup returns the current addresses, resolving again when the cached
// answer is older than the refresh interval. stale is the refresh error when an old
// answer is returned instead.
func (d *dnsCache) lookup(ctx context.Context) (addrs []netip.Addr, stale error, err error) {
	for {
		d.mu.Lock()
		if d.addrs != nil && d.now().Before(d.expires) {
			a := d.addrs
			d.mu.Unlock()
			return a, nil, nil
		}
		if ch := d.inflight; ch != nil {
			d.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		d.inflight = ch
		d.mu.Unlock()

		got, keep, lerr := d.resolve(ctx)
		d.mu.Lock()
		d.inflight = nil
		close(ch)
		if lerr != nil {
			old := d.addrs
			if old != nil {
				// Retry sooner than a full interval, without a lookup per
				// connection while the resolver is failing.
				d.expires = d.now().Add(d.fixed / 4)
			}
			d.mu.Unlock()
			if old != nil {
				return old, lerr, nil
			}
			return nil, nil, lerr
		}
		for i := range got {
			got[i] = got[i].Unmap()
		}
		d.addrs = got
		d.expires = d.now().Add(keep)
		d.mu.Unlock()
		return got, nil, nil
	}
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
