// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// localNonLoopback returns an address of one of this host's interfaces that
// is not loopback (the parent's VPC address, docker0, ...), or skips.
func localNonLoopback(t *testing.T) netip.Addr {
	t.Helper()
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("net.InterfaceAddrs: %v", err)
	}
	for _, ifa := range ifas {
		n, ok := ifa.(*net.IPNet)
		if !ok {
			continue
		}
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		a = a.Unmap()
		if a.Is4() && !a.IsLoopback() && !a.IsLinkLocalUnicast() {
			return a
		}
	}
	t.Skip("no non-loopback IPv4 interface address on this host")
	return netip.Addr{}
}

// An allow-listed name whose DNS the attacker controls (a partner API, DNS
// rebinding) answers with the parent's own interface address: host-proxy
// must not connect the enclave to the parent's services bound to 0.0.0.0
// (sshd, exporters, its own ingress routes).
func TestNameResolvingToParentOwnAddressRefused(t *testing.T) {
	own := localNonLoopback(t)
	l, err := net.Listen("tcp", "0.0.0.0:0") // a parent-only service on every interface
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("PARENT-ONLY SERVICE"))
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	res := &fakeResolver{}
	res.set("api.partner.test", own.String())
	log, logs := testLogger(t)
	p, _ := startProxy(t, &Config{
		Logger: log, Resolver: res,
		AllowList: []AllowEntry{{Address: "api.partner.test", Port: port}},
		Routes: []Route{{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0",
			Destination: "tcp://api.partner.test:" + itoa(port)}},
	})
	c := dialRoute(t, p, "r")
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	if n > 0 {
		t.Fatalf("the enclave reached the parent's own service at %s: read %q", own, buf[:n])
	}
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonNotAllowed), 1)
	waitMetric(t, p.m.dns.WithLabelValues("r"), 1)
	if !logged(logs, "address="+own.String()) || !logged(logs, "an address of this host") {
		t.Errorf("refusal of %s not logged with its reason:\n%s", own, logs.String())
	}
}

// Rule 2 applies to the host's own addresses and to special IPv4 addresses
// embedded in IPv6 forms; an IP or CIDR entry (rule 1) still allows them.
func TestCheckResolvedOwnAndEmbedded(t *testing.T) {
	own := localNonLoopback(t)
	al, errs := compileAllowList([]AllowEntry{
		{Address: "api.partner.test", Port: 22},
		{Address: own.String(), Port: 9100},
		{Address: "64:ff9b::7f00:0/104", Port: 8443}, // 127.0.0.0/8 in NAT64
	})
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		ip   string
		port int
		want string // "" allowed, else substring
	}{
		{own.String(), 22, "an address of this host"},
		{"::ffff:" + own.String(), 22, "an address of this host"},
		{"::a9fe:a9fe", 22, "169.254.169.254 embedded (IPv4-compatible)"},
		{"::7f00:1", 22, "127.0.0.1 embedded (IPv4-compatible)"},
		{"64:ff9b::a9fe:a9fe", 22, "169.254.169.254 embedded (NAT64)"},
		{"64:ff9b::7f00:1", 22, "127.0.0.1 embedded (NAT64)"},
		{"2002:a9fe:a9fe::1", 22, "169.254.169.254 embedded (6to4)"},
		{"2002:7f00:1::", 22, "127.0.0.1 embedded (6to4)"},
		{"64:ff9b::" + own.String(), 22, "an address of this host"},
		// Ordinary addresses, embedded or not, are left to rule 3.
		{"198.51.100.7", 22, ""},
		{"64:ff9b::c633:6407", 22, ""},
		{"2002:c633:6407::1", 22, ""},
		{"2001:db8::1", 22, ""},
		// Rule 1: the operator listed them.
		{own.String(), 9100, ""},
		{"64:ff9b::7f00:1", 8443, ""},
	}
	for _, tt := range tests {
		got := al.checkResolved("api.partner.test", netip.MustParseAddr(tt.ip), tt.port)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("checkResolved(%s, %d) = %q, want %q", tt.ip, tt.port, got, tt.want)
		}
	}
}

// The host's addresses are read when the list is compiled and again after
// localAddrRefresh, on a goroutine, not per check; a failed reading keeps
// the previous one.
func TestLocalAddrsRefresh(t *testing.T) {
	al, errs := compileAllowList([]AllowEntry{{Address: "api.partner.test", Port: 22}})
	if errs != nil {
		t.Fatal(errs)
	}
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	reads := 0
	addrs := []net.Addr{&net.IPNet{IP: net.ParseIP("10.1.2.3"), Mask: net.CIDRMask(24, 32)}}
	var readErr error
	al.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	al.readLocal = func() ([]net.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		return addrs, readErr
	}
	al.loadLocal()
	check := func(ip, want string) {
		t.Helper()
		got := al.checkResolved("api.partner.test", netip.MustParseAddr(ip), 22)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("checkResolved(%s) = %q, want %q", ip, got, want)
		}
	}
	for i := 0; i < 100; i++ {
		check("10.1.2.3", "an address of this host")
		check("10.1.2.4", "")
	}
	waitReads := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; {
			mu.Lock()
			r := reads
			mu.Unlock()
			if r >= n && !al.refreshing.Load() {
				if r > n {
					t.Fatalf("%d readings, want %d", r, n)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d readings, want %d", r, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitReads(1)
	// The address moves (DHCP, an ENI attached): seen after the interval.
	mu.Lock()
	addrs = []net.Addr{&net.IPNet{IP: net.ParseIP("10.1.2.4"), Mask: net.CIDRMask(24, 32)}}
	now = now.Add(localAddrRefresh)
	mu.Unlock()
	check("10.1.2.4", "") // this check starts the reading...
	waitReads(2)
	check("10.1.2.4", "an address of this host") // ...the next ones see it
	check("10.1.2.3", "")
	// A failed reading keeps the previous addresses.
	mu.Lock()
	readErr = errors.New("netlink: no buffer space")
	now = now.Add(localAddrRefresh)
	mu.Unlock()
	check("10.1.2.4", "an address of this host")
	waitReads(3)
	check("10.1.2.4", "an address of this host")
}
