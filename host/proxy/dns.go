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
// the refresh interval. Go's resolver does not return record TTLs, so the
// interval (Config.DNSRefresh) stands in for them. When a refresh fails the
// previous answer keeps being used (and the failure logged) until a refresh
// succeeds.
type dnsCache struct {
	resolver Resolver
	name     string
	network  string // "ip", "ip4" or "ip6"
	refresh  time.Duration
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

		got, lerr := d.resolver.LookupNetIP(ctx, d.network, d.name)
		if lerr == nil && len(got) == 0 {
			lerr = fmt.Errorf("no addresses")
		}
		d.mu.Lock()
		d.inflight = nil
		close(ch)
		if lerr != nil {
			old := d.addrs
			if old != nil {
				// Retry sooner than a full interval, without a lookup per
				// connection while the resolver is failing.
				d.expires = d.now().Add(d.refresh / 4)
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
		d.expires = d.now().Add(d.refresh)
		d.mu.Unlock()
		return got, nil, nil
	}
}
