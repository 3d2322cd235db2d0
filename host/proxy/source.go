// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"net"
	"net/netip"

	"github.com/mdlayher/vsock"
)

// PerSourceUnlimited as a route's MaxConnectionsPerSource turns the
// per-source limit off (see [Route]).
const PerSourceUnlimited = -1

// perSourceDivisor sets the default per-source limit of a TCP ingress
// route: a sixteenth of max_connections (at least 1). A source then needs
// 16 addresses to take every slot, and 32 to take the slots and the wait
// queue; a browser opens about 6 connections per host, so the default
// max_connections of 1024 leaves 64 to each address, a NAT of several
// clients included.
const perSourceDivisor = 16

// srcKey names a connection's source for the per-source limit: an IPv4
// address (family 4), the /64 prefix of an IPv6 address (family 6; an
// IPv4-mapped address counts as IPv4), or a vsock context ID (family 'v').
// A comparable value, a map key without allocation.
type srcKey struct {
	family byte
	a      [8]byte
}

// ipSrcKey is the key of an IP source address.
func ipSrcKey(ip netip.Addr) srcKey {
	ip = ip.Unmap()
	if ip.Is4() {
		b := ip.As4()
		return srcKey{family: 4, a: [8]byte{b[0], b[1], b[2], b[3]}}
	}
	b := ip.As16()
	k := srcKey{family: 6}
	copy(k.a[:], b[:8]) // the /64: one host's addresses, its temporary ones included
	return k
}

// cidSrcKey is the key of a vsock peer.
func cidSrcKey(cid uint32) srcKey {
	return srcKey{family: 'v', a: [8]byte{byte(cid >> 24), byte(cid >> 16), byte(cid >> 8), byte(cid)}}
}

// netSrcKey is the key of a peer address on the goroutine path; false for
// addresses the limit does not apply to (unix sockets).
func netSrcKey(a net.Addr) (srcKey, bool) {
	switch v := a.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(v.IP)
		if !ok {
			return srcKey{}, false
		}
		return ipSrcKey(ip), true
	case *vsock.Addr:
		return cidSrcKey(v.ContextID), true
	}
	return srcKey{}, false
}

// sources counts a route's connections per source, slots and wait places
// together. Its lock is the caller's: the engine's eroute.mu, or
// route.srcMu on the goroutine path.
type sources struct {
	max int
	n   map[srcKey]int32
}

// take counts one more connection from k; false (nothing counted) when k
// has max already.
func (s *sources) take(k srcKey) bool {
	n := s.n[k]
	if int(n) >= s.max {
		return false
	}
	s.n[k] = n + 1
	return true
}

// put uncounts a connection from k.
func (s *sources) put(k srcKey) {
	if n := s.n[k]; n > 1 {
		s.n[k] = n - 1
	} else {
		delete(s.n, k)
	}
}
