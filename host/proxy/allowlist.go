// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// AllowEntry is one entry of the egress allow-list, in vsock-proxy's format:
//
//	allowlist:
//	  - {address: kms.eu-west-1.amazonaws.com, port: 443}
//	  - {address: 10.0.0.0/8, port: 5432}
//	  - {address: 127.0.0.1, port: 8443}
//
// Address is a DNS name, an IP address or a CIDR prefix.
type AllowEntry struct {
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
}

// allowList is the compiled allow-list.
type allowList struct {
	names    map[string][]int // canonical name → ports
	prefixes []allowPrefix

	// local is the host's own interface addresses (rule 2 refuses them
	// for a name), read when the list is compiled and again, on a
	// goroutine of its own, when a check finds it older than
	// localAddrRefresh: never per connection.
	local      atomic.Pointer[localAddrs]
	refreshing atomic.Bool
	now        func() time.Time
	readLocal  func() ([]net.Addr, error)
	// lookups runs the refresh within the proxy's lifetime (set by New;
	// nil: a plain goroutine). Once it is stopped, the last reading stays.
	lookups *lookupGroup
}

// localAddrRefresh is how long the host's interface addresses are used
// before they are read again (addresses come and go: DHCP, docker0, an ENI
// attached later).
const localAddrRefresh = 30 * time.Second

// localAddrs is one reading of the host's interface addresses.
type localAddrs struct {
	set  map[netip.Addr]struct{}
	read time.Time
}

// loadLocal reads the host's interface addresses. On failure the previous
// reading is kept (and read again at the next interval).
func (al *allowList) loadLocal() {
	prev := al.local.Load()
	ifas, err := al.readLocal()
	if err != nil {
		if prev != nil {
			al.local.Store(&localAddrs{set: prev.set, read: al.now()})
		} else {
			al.local.Store(&localAddrs{read: al.now()})
		}
		return
	}
	set := make(map[netip.Addr]struct{}, len(ifas))
	for _, ifa := range ifas {
		var ip net.IP
		switch v := ifa.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		}
		if a, ok := netip.AddrFromSlice(ip); ok {
			set[a.Unmap().WithZone("")] = struct{}{}
		}
	}
	al.local.Store(&localAddrs{set: set, read: al.now()})
}

// isLocal reports whether ip is one of the host's own interface addresses.
// A reading older than localAddrRefresh is used while a goroutine reads
// the addresses again (in al.lookups: none once [Proxy.Serve] has
// returned).
func (al *allowList) isLocal(ip netip.Addr) bool {
	l := al.local.Load()
	if l == nil {
		return false
	}
	if al.now().Sub(l.read) >= localAddrRefresh && al.refreshing.CompareAndSwap(false, true) {
		if !al.lookups.start(func(context.Context) {
			defer al.refreshing.Store(false)
			al.loadLocal()
		}) {
			al.refreshing.Store(false)
		}
	}
	_, ok := l.set[ip.WithZone("")]
	return ok
}

type allowPrefix struct {
	prefix netip.Prefix
	port   int
	text   string // as written
}

// canonicalName lower-cases a DNS name and drops a trailing dot.
func canonicalName(s string) string {
	return strings.ToLower(strings.TrimSuffix(s, "."))
}

// parseHost classifies an allow-list address or destination host: an IP
// address, a CIDR prefix (only when allowPrefix), or a DNS name.
func parseHost(s string, allowCIDR bool) (ip netip.Addr, prefix netip.Prefix, name string, err error) {
	if s == "" {
		return ip, prefix, "", fmt.Errorf("empty address")
	}
	if strings.Contains(s, "/") {
		if !allowCIDR {
			return ip, prefix, "", fmt.Errorf("%q: a prefix is not allowed here", s)
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return ip, prefix, "", fmt.Errorf("%q is not a valid CIDR prefix", s)
		}
		return ip, p.Masked(), "", nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), prefix, "", nil
	}
	if !transport.ValidHostname(s) {
		return ip, prefix, "", fmt.Errorf("%q is neither an IP address, a CIDR prefix nor a valid host name", s)
	}
	return ip, prefix, canonicalName(s), nil
}

func compileAllowList(entries []AllowEntry) (*allowList, []error) {
	al := &allowList{names: map[string][]int{}, now: time.Now, readLocal: net.InterfaceAddrs}
	al.loadLocal()
	var errs []error
	for i, e := range entries {
		if e.Port < 1 || e.Port > 65535 {
			errs = append(errs, &ConfigError{Where: fmt.Sprintf("allowlist[%d]", i), Err: ErrInvalidConfig,
				Reason: fmt.Sprintf("port %d out of range 1-65535", e.Port)})
			continue
		}
		ip, prefix, name, err := parseHost(e.Address, true)
		if err != nil {
			errs = append(errs, &ConfigError{Where: fmt.Sprintf("allowlist[%d]", i), Err: ErrInvalidConfig, Reason: err.Error()})
			continue
		}
		switch {
		case name != "":
			al.names[name] = append(al.names[name], e.Port)
		case ip.IsValid():
			al.prefixes = append(al.prefixes, allowPrefix{prefix: netip.PrefixFrom(ip, ip.BitLen()), port: e.Port, text: e.Address})
		default:
			al.prefixes = append(al.prefixes, allowPrefix{prefix: prefix, port: e.Port, text: e.Address})
		}
	}
	return al, errs
}

// nameAllowed reports whether name:port is allowed by a name entry.
func (al *allowList) nameAllowed(name string, port int) bool {
	for _, p := range al.names[canonicalName(name)] {
		if p == port {
			return true
		}
	}
	return false
}

// listed reports whether an IP or CIDR entry on port covers ip with a
// prefix of at least minBits bits: 0 for any entry (rule 1), the length of
// ip's refused range for an entry that names ip or part of that range
// rather than covering it by being wide (0.0.0.0/0; rule 2).
func (al *allowList) listed(ip netip.Addr, port, minBits int) bool {
	ip = ip.Unmap()
	for _, p := range al.prefixes {
		if p.port == port && p.prefix.Contains(ip) && p.prefix.Bits() >= minBits {
			return true
		}
	}
	return false
}

// special returns the class of a special address and its range: the
// address classes a DNS answer may not lead to unless an IP or CIDR entry
// within the range lists them (rule 2), because they reach the parent
// instance itself (loopback, the instance metadata service at
// 169.254.169.254, EC2's IPv6 services, 0.0.0.0/8) or are not unicast
// destinations at all. kind is "" for ordinary addresses.
func special(ip netip.Addr) (kind string, rng netip.Prefix) {
	ip = ip.Unmap()
	v4 := ip.Is4()
	bits := ip.BitLen() // ::1, ::, broadcast: the address itself
	switch {
	case ip.IsLoopback():
		kind = "loopback"
		if v4 {
			bits = 8 // 127.0.0.0/8
		}
	case ip.IsLinkLocalUnicast():
		kind, bits = "link-local (instance metadata)", 10 // fe80::/10
		if v4 {
			bits = 16 // 169.254.0.0/16
		}
	case !v4 && imdsV6.Contains(ip):
		kind, bits = "link-local (instance metadata)", 32
	case ip.IsUnspecified():
		kind = "unspecified"
		if v4 {
			bits = 8 // 0.0.0.0/8, as below
		}
	case v4 && ip.As4()[0] == 0:
		// "This network" (RFC 1122 3.2.1.3, RFC 6890): Linux connects
		// 0.0.0.0 to the host itself, and since Linux 5.3 assigns the rest
		// of 0.0.0.0/8 to interfaces.
		kind, bits = "this-network (0.0.0.0/8)", 8
	case ip.IsMulticast(): // link- and interface-local multicast included
		kind, bits = "multicast", 8 // ff00::/8
		if v4 {
			bits = 4 // 224.0.0.0/4
		}
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		kind = "broadcast"
	default:
		return "", netip.Prefix{}
	}
	rng, _ = ip.Prefix(bits)
	return kind, rng
}

var (
	ipv4Compatible = netip.MustParsePrefix("::/96")          // ::a.b.c.d (RFC 4291, deprecated)
	nat64          = netip.MustParsePrefix("64:ff9b::/96")   // well-known NAT64 prefix (RFC 6052)
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48") // local-use NAT64 prefix (RFC 8215)
	imdsV6         = netip.MustParsePrefix("fd00:ec2::/32")  // EC2's IPv6 link-local services (IMDS, DNS, NTP)
	sixToFour      = netip.MustParsePrefix("2002::/16")      // 6to4 (RFC 3056): 2002:AABB:CCDD::/48
	teredo         = netip.MustParsePrefix("2001::/32")      // Teredo (RFC 4380): 2001:0:SERVER:FLAGS:PORT:~CLIENT
)

// embedding is an IPv4 address carried in an IPv6 address: the form's
// name, and the bit offset of the IPv4 address in the IPv6 one.
type embedding struct {
	v4   netip.Addr
	form string
	off  int
}

// embeddedIPv4 returns the IPv4 addresses an IPv6 address carries in a
// form that routes to them: IPv4-compatible, NAT64 (well-known or
// local-use prefix, the IPv4 address in the last 32 bits), 6to4, or
// Teredo, whose packets go to both its IPv4 addresses (the server's, bits
// 32-63, and the client's, the last 32 bits inverted). n is 0 for other
// addresses (IPv4-mapped ones are unmapped before).
func embeddedIPv4(ip netip.Addr) (e [2]embedding, n int) {
	if !ip.Is6() || ip.Is4In6() {
		return e, 0
	}
	b := ip.As16()
	last := netip.AddrFrom4([4]byte(b[12:16]))
	switch {
	case nat64.Contains(ip):
		e[0] = embedding{last, "NAT64", 96}
	case nat64Local.Contains(ip):
		e[0] = embedding{last, "local-use NAT64", 96}
	case sixToFour.Contains(ip):
		e[0] = embedding{netip.AddrFrom4([4]byte(b[2:6])), "6to4", 16}
	case teredo.Contains(ip):
		client := [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
		e[0] = embedding{netip.AddrFrom4([4]byte(b[4:8])), "Teredo server", 32}
		e[1] = embedding{netip.AddrFrom4(client), "Teredo client", 96}
		return e, 2
	case ipv4Compatible.Contains(ip) && !ip.IsUnspecified() && !ip.IsLoopback():
		e[0] = embedding{last, "IPv4-compatible", 96}
	default:
		return e, 0
	}
	return e, 1
}

// refusedKind is rule 2: the reason a DNS answer may not lead to ip ("" when
// it may): a special address ([special]), one of the host's own
// interface addresses, or an IPv6 form embedding either.
func (al *allowList) refusedKind(ip netip.Addr) string {
	k, _ := al.refused(ip)
	return k
}

// article is the indefinite article for a kind of special's ("an
// unspecified address", "a loopback address").
func article(kind string) string {
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an"
	}
	return "a"
}

// refused is refusedKind with the range an IP or CIDR entry must lie
// within to let ip through for a name: the special range, the host's own
// address itself, or, for an embedded IPv4 address, the IPv6 form of its
// range (of both ranges for a Teredo address carrying two refused ones).
func (al *allowList) refused(ip netip.Addr) (kind string, rng netip.Prefix) {
	ip = ip.Unmap()
	if k, r := special(ip); k != "" {
		return article(k) + " " + k + " address", r
	}
	if al.isLocal(ip) {
		return "an address of this host", netip.PrefixFrom(ip, ip.BitLen())
	}
	// An embedded IPv4 address refused for itself refuses the IPv6 form;
	// an entry lets it through only within the IPv6 form of its range,
	// and within every such range when a Teredo address carries two
	// (the ranges all hold ip, so the longest is within the others).
	var kinds []string
	es, n := embeddedIPv4(ip)
	for _, e := range es[:n] {
		bits := 32
		if k, r := special(e.v4); k != "" {
			kinds = append(kinds, fmt.Sprintf("%s %s address (%s embedded (%s))", article(k), k, e.v4, e.form))
			bits = r.Bits()
		} else if al.isLocal(e.v4) {
			kinds = append(kinds, fmt.Sprintf("an address of this host (%s embedded (%s))", e.v4, e.form))
		} else {
			continue
		}
		if p, _ := ip.Prefix(e.off + bits); p.Bits() > rng.Bits() {
			rng = p
		}
	}
	if kinds != nil {
		return strings.Join(kinds, " and "), rng
	}
	return "", netip.Prefix{}
}

// checkResolved decides whether a connection to ip:port, reached by
// resolving the destination name, is allowed. The rules, in order:
//
//  1. an IP or CIDR entry covering ip on port allows it, except that an
//     address rule 2 refuses is allowed only by an entry naming it or a
//     prefix within its special range (a wide prefix such as 0.0.0.0/0
//     does not let DNS steer the enclave to the parent);
//  2. a loopback, link-local (metadata service), unspecified or other
//     0.0.0.0/8 ("this network"), multicast or broadcast address, an address of one of the host's own interfaces,
//     or an IPv6 form embedding any of these IPv4 addresses (IPv4-compatible,
//     NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4, Teredo's server or
//     client) is refused (DNS must not steer the enclave to the parent
//     itself);
//  3. a name entry for the destination name on port allows whatever that
//     name resolves to at check time.
//
// It returns "" when allowed, else the reason.
func (al *allowList) checkResolved(name string, ip netip.Addr, port int) string {
	if k, rng := al.refused(ip); k != "" {
		if al.listed(ip, port, rng.Bits()) {
			return ""
		}
		return fmt.Sprintf("%s resolved to %s, %s; list it explicitly (- {address: %s, port: %d}) to allow it",
			name, ip, k, ip, port)
	}
	if al.listed(ip, port, 0) {
		return ""
	}
	if name != "" && al.nameAllowed(name, port) {
		return ""
	}
	return fmt.Sprintf("%s:%d is not in the allow-list", ip, port)
}
