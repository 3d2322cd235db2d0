// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// loopbackNames are names that resolve to loopback or to the instance
// metadata service by definition, whatever DNS says: a name entry for one
// can never allow a connection (rule 2 of the allow-list refuses those
// addresses), so such an entry is a configuration mistake.
var loopbackNames = map[string]string{
	"localhost":                  "loopback",
	"localhost.localdomain":      "loopback",
	"ip6-localhost":              "loopback",
	"ip6-loopback":               "loopback",
	"instance-data":              "link-local (instance metadata)",
	"instance-data.ec2.internal": "link-local (instance metadata)",
}

// fixedKind returns the address class a name always resolves to (RFC 6761
// reserves localhost and *.localhost for loopback), or "".
func fixedKind(name string) string {
	name = canonicalName(name)
	if k, ok := loopbackNames[name]; ok {
		return k
	}
	if strings.HasSuffix(name, ".localhost") {
		return "loopback"
	}
	return ""
}

// refusedNameReason says why a name entry can never allow anything.
func refusedNameReason(name string, kind string, port int) string {
	example := "127.0.0.1"
	if strings.HasPrefix(kind, "link-local") {
		example = "169.254.169.254"
	}
	return fmt.Sprintf("%q always resolves to %s addresses, which a name entry never allows (DNS must not steer the enclave to the parent); "+
		"if the enclave must reach it, list the address itself: - {address: %s, port: %d}", name, kind, example, port)
}

// nameCheckTimeout bounds each lookup of [Proxy.CheckNames].
const nameCheckTimeout = 2 * time.Second

// CheckNames resolves every name of the allow-list once and refuses a
// name whose every address is one the allow-list refuses for names
// (loopback, link-local, unspecified, multicast, broadcast) and no IP or
// CIDR entry lists: such an entry could never allow a connection, and is
// most likely a mistake (a name in /etc/hosts, a private zone). A name that
// does not resolve now is not an error: DNS may be down at start-up, and
// each connection resolves it again. Every problem is returned at once as
// [ConfigErrors].
func (p *Proxy) CheckNames(ctx context.Context) error {
	type entry struct {
		name  string
		ports []int
	}
	var entries []entry
	for name, ports := range p.c.allow.names {
		entries = append(entries, entry{name, ports})
	}
	var mu sync.Mutex
	var errs ConfigErrors
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lctx, cancel := context.WithTimeout(ctx, nameCheckTimeout)
			addrs, err := p.cfg.Resolver.LookupNetIP(lctx, "ip", e.name)
			cancel()
			if err != nil || len(addrs) == 0 {
				p.log.Warn("allow-list name does not resolve now; it is resolved again for each connection", "name", e.name, "error", err)
				return
			}
			for _, port := range e.ports {
				var kinds []string
				usable := false
				for _, a := range addrs {
					a = a.Unmap()
					if p.c.allow.checkResolved(e.name, a, port) == "" {
						usable = true
						break
					}
					k, _ := special(a)
					if k == "" {
						k = p.c.allow.refusedKind(a) // the host's own, or embedded
					}
					kinds = append(kinds, fmt.Sprintf("%s (%s)", a, k))
				}
				if !usable {
					mu.Lock()
					errs = append(errs, &ConfigError{Where: "allowlist", Err: ErrNotAllowed, Reason: fmt.Sprintf(
						"%q resolves only to addresses the allow-list refuses for a name: %s; list the address itself (- {address: %s, port: %d}) if the enclave must reach it",
						e.name, strings.Join(kinds, ", "), addrs[0].Unmap(), port)})
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// checkFixedNames refuses name entries for names that always resolve to
// addresses rule 2 refuses, unless an IP or CIDR entry on the same port
// lists those addresses.
func checkFixedNames(al *allowList, entries []AllowEntry) []error {
	var errs []error
	for i, e := range entries {
		kind := fixedKind(e.Address)
		if kind == "" || e.Port < 1 || e.Port > 65535 {
			continue
		}
		rep := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}
		if kind != "loopback" {
			rep = []netip.Addr{netip.MustParseAddr("169.254.169.254")}
		}
		listed := false
		for _, a := range rep {
			_, rng := special(a)
			listed = listed || al.listed(a, e.Port, rng.Bits())
		}
		if !listed {
			errs = append(errs, &ConfigError{Where: fmt.Sprintf("allowlist[%d]", i), Err: ErrNotAllowed,
				Reason: refusedNameReason(canonicalName(e.Address), kind, e.Port)})
		}
	}
	return errs
}
