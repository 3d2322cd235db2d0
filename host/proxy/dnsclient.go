// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// TTLResolver resolves host names and says how long the answer may be
// used: the smallest TTL of the records that made it (CNAMEs included).
// [Config].Resolver may implement it; the default resolver does, asking the
// servers of /etc/resolv.conf directly (Go's resolver does not expose
// TTLs).
type TTLResolver interface {
	LookupNetIPTTL(ctx context.Context, network, host string) ([]netip.Addr, time.Duration, error)
}

// resolvConf names the DNS servers the default resolver asks directly.
const resolvConf = "/etc/resolv.conf"

// Bounds on how long a DNS answer is used.
const (
	// MinDNSTTL is the shortest: a record with a TTL of 0 or 1 s is not
	// looked up again for every connection.
	MinDNSTTL = 5 * time.Second
	// FallbackDNSRefresh is the fixed interval used when the TTL is not
	// known (the resolver does not give it, or the direct DNS query failed
	// and Go's resolver answered), bounded by DNSRefresh.
	FallbackDNSRefresh = 30 * time.Second
)

// dnsClient asks DNS servers directly for A and AAAA records, to learn
// their TTLs.
type dnsClient struct {
	servers []string // host:port
	timeout time.Duration
	udp     *dns.Client
	tcp     *dns.Client
}

// maxCNAMEs bounds a CNAME chain in one answer.
const maxCNAMEs = 8

// newSystemDNSClient reads the servers of /etc/resolv.conf; nil when it
// cannot (the proxy then uses Go's resolver with the fixed interval).
func newSystemDNSClient(path string) *dnsClient {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil || len(cc.Servers) == 0 {
		return nil
	}
	c := &dnsClient{timeout: time.Duration(cc.Timeout) * time.Second}
	for _, s := range cc.Servers {
		c.servers = append(c.servers, net.JoinHostPort(s, cc.Port))
	}
	return c.init()
}

func (c *dnsClient) init() *dnsClient {
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	c.udp = &dns.Client{Net: "udp", Timeout: c.timeout, UDPSize: dns.DefaultMsgSize}
	c.tcp = &dns.Client{Net: "tcp", Timeout: c.timeout}
	return c
}

// errNoAnswer: the servers answered, without an address for the name.
var errNoAnswer = errors.New("no A or AAAA records")

// LookupNetIPTTL implements [TTLResolver]: network "ip" asks for A and
// AAAA, "ip4" for A, "ip6" for AAAA. The name is taken as fully qualified
// (no search domains).
func (c *dnsClient) LookupNetIPTTL(ctx context.Context, network, host string) ([]netip.Addr, time.Duration, error) {
	var types []uint16
	switch network {
	case "ip":
		types = []uint16{dns.TypeA, dns.TypeAAAA}
	case "ip4":
		types = []uint16{dns.TypeA}
	case "ip6":
		types = []uint16{dns.TypeAAAA}
	default:
		return nil, 0, fmt.Errorf("dns: network %q", network)
	}
	name := dns.Fqdn(host)
	var addrs []netip.Addr
	ttl := time.Duration(-1)
	var firstErr error
	for _, t := range types {
		a, tl, err := c.query(ctx, name, t)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		addrs = append(addrs, a...)
		if len(a) > 0 && (ttl < 0 || tl < ttl) {
			ttl = tl
		}
	}
	if len(addrs) == 0 {
		if firstErr == nil {
			firstErr = errNoAnswer
		}
		return nil, 0, fmt.Errorf("dns: %s: %w", host, firstErr)
	}
	return addrs, ttl, nil
}

// query asks each server in turn for name's records of type t, and
// returns the addresses found by following the answer's CNAME chain from
// name, with the smallest TTL along it.
func (c *dnsClient) query(ctx context.Context, name string, t uint16) ([]netip.Addr, time.Duration, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, t)
	m.RecursionDesired = true
	var lastErr error
	for _, srv := range c.servers {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		r, _, err := c.udp.ExchangeContext(ctx, m, srv)
		if err == nil && r.Truncated {
			r, _, err = c.tcp.ExchangeContext(ctx, m, srv)
		}
		if err != nil {
			lastErr = err
			continue
		}
		if len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, name) || r.Question[0].Qtype != t {
			lastErr = errors.New("answer to another question")
			continue
		}
		switch r.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			return nil, 0, fmt.Errorf("%s: no such host", strings.TrimSuffix(name, "."))
		default:
			lastErr = fmt.Errorf("server %s: %s", srv, dns.RcodeToString[r.Rcode])
			continue
		}
		addrs, ttl := follow(r.Answer, name, t)
		return addrs, ttl, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no DNS server")
	}
	return nil, 0, lastErr
}

// follow collects the records of type t for name in answer, following
// CNAMEs (at most maxCNAMEs); the TTL is the smallest along the way.
func follow(answer []dns.RR, name string, t uint16) ([]netip.Addr, time.Duration) {
	target := strings.ToLower(name)
	ttl := time.Duration(-1)
	minTTL := func(h *dns.RR_Header) {
		if d := time.Duration(h.Ttl) * time.Second; ttl < 0 || d < ttl {
			ttl = d
		}
	}
	for hops := 0; hops <= maxCNAMEs; hops++ {
		var addrs []netip.Addr
		var next string
		for _, rr := range answer {
			h := rr.Header()
			if strings.ToLower(h.Name) != target {
				continue
			}
			switch v := rr.(type) {
			case *dns.A:
				if t == dns.TypeA {
					if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
						addrs = append(addrs, a)
						minTTL(h)
					}
				}
			case *dns.AAAA:
				if t == dns.TypeAAAA {
					if a, ok := netip.AddrFromSlice(v.AAAA.To16()); ok {
						addrs = append(addrs, a)
						minTTL(h)
					}
				}
			case *dns.CNAME:
				next = strings.ToLower(v.Target)
				minTTL(h)
			}
		}
		if len(addrs) > 0 || next == "" {
			if ttl < 0 {
				ttl = 0
			}
			return addrs, ttl
		}
		target = next
	}
	return nil, 0
}

// LookupNetIP implements [Resolver] (the TTL dropped), so that a dnsClient
// can stand as Config.Resolver.
func (c *dnsClient) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, _, err := c.LookupNetIPTTL(ctx, network, host)
	return addrs, err
}
