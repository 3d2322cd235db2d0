// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsServer is a miekg/dns server on 127.0.0.1 with a mutable answer:
// name → A records with one TTL, reached through an alias CNAME.
type dnsServer struct {
	addr string

	mu      sync.Mutex
	a       []string
	ttl     uint32
	cnTTL   uint32
	rcode   int
	queries map[uint16]int
}

func startDNSServer(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{addr: pc.LocalAddr().String(), ttl: 60, cnTTL: 3600, queries: map[uint16]int{}}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return s
}

func (s *dnsServer) set(ttl uint32, rcode int, a ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl, s.rcode, s.a = ttl, rcode, a
}

func (s *dnsServer) count(t uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[t]
}

func (s *dnsServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(req)
	q := req.Question[0]
	s.queries[q.Qtype]++
	if s.rcode != dns.RcodeSuccess {
		m.Rcode = s.rcode
		w.WriteMsg(m)
		return
	}
	switch strings.ToLower(q.Name) {
	case "upstream.test.":
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: s.cnTTL},
			Target: "real.upstream.test."})
		if q.Qtype == dns.TypeA {
			for _, a := range s.a {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "real.upstream.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: s.ttl},
					A: net.ParseIP(a)})
			}
		}
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func testDNSClient(s *dnsServer) *dnsClient {
	return (&dnsClient{servers: []string{s.addr}, timeout: 2 * time.Second}).init()
}

// TestDNSClientTTL: the answer's addresses through the CNAME chain, and the
// smallest TTL along it.
func TestDNSClientTTL(t *testing.T) {
	s := startDNSServer(t)
	s.set(7, dns.RcodeSuccess, "192.0.2.10", "192.0.2.11")
	c := testDNSClient(s)
	addrs, ttl, err := c.LookupNetIPTTL(context.Background(), "ip", "upstream.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 2 || addrs[0] != netip.MustParseAddr("192.0.2.10") || ttl != 7*time.Second {
		t.Fatalf("addrs %v ttl %v", addrs, ttl)
	}
	if s.count(dns.TypeA) != 1 || s.count(dns.TypeAAAA) != 1 {
		t.Errorf("queries: A %d, AAAA %d", s.count(dns.TypeA), s.count(dns.TypeAAAA))
	}
	if _, _, err := c.LookupNetIPTTL(context.Background(), "ip6", "upstream.test"); err == nil {
		t.Error("ip6: an answer without AAAA records")
	}
	if _, _, err := c.LookupNetIPTTL(context.Background(), "ip4", "missing.test"); err == nil || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("NXDOMAIN: %v", err)
	}
}

// TestSystemDNSClient reads the servers of a resolv.conf.
func TestSystemDNSClient(t *testing.T) {
	p := t.TempDir() + "/resolv.conf"
	if err := os.WriteFile(p, []byte("nameserver 192.0.2.53\nnameserver 2001:db8::53\noptions timeout:3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newSystemDNSClient(p)
	if c == nil || strings.Join(c.servers, ",") != "192.0.2.53:53,[2001:db8::53]:53" || c.timeout != 3*time.Second {
		t.Fatalf("%+v", c)
	}
	if newSystemDNSClient(t.TempDir()+"/missing") != nil {
		t.Error("a client without a resolv.conf")
	}
}

// TestDNSCacheTTL: an answer is used for its TTL, bounded to [5 s,
// DNSRefresh]; when the DNS query fails, Go's resolver answers at the fixed
// interval.
func TestDNSCacheTTL(t *testing.T) {
	s := startDNSServer(t)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	fallback := &fakeResolver{}
	fallback.set("upstream.test", "192.0.2.99")
	d := &dnsCache{resolver: fallback, ttl: testDNSClient(s), name: "upstream.test", network: "ip4",
		maxTTL: 5 * time.Minute, fixed: FallbackDNSRefresh, now: clock.Now}
	ctx := context.Background()
	want := func(addr string, queries int) {
		t.Helper()
		got, stale, err := d.lookup(ctx)
		if err != nil || stale != nil || len(got) != 1 || got[0].String() != addr {
			t.Fatalf("lookup: %v %v %v, want %s", got, stale, err, addr)
		}
		if n := s.count(dns.TypeA); n != queries {
			t.Fatalf("%d queries, want %d", n, queries)
		}
	}
	s.set(7, dns.RcodeSuccess, "192.0.2.10")
	want("192.0.2.10", 1)
	s.set(7, dns.RcodeSuccess, "192.0.2.20")
	clock.Advance(6 * time.Second)
	want("192.0.2.10", 1) // within the TTL
	clock.Advance(2 * time.Second)
	want("192.0.2.20", 2) // the TTL (7 s) has passed

	// A TTL of 1 s is raised to 5 s.
	s.set(1, dns.RcodeSuccess, "192.0.2.30")
	clock.Advance(8 * time.Second)
	want("192.0.2.30", 3)
	clock.Advance(4 * time.Second)
	want("192.0.2.30", 3)
	clock.Advance(2 * time.Second)
	want("192.0.2.30", 4)

	// A TTL of a day is cut to DNSRefresh (5 min).
	s.set(86400, dns.RcodeSuccess, "192.0.2.40")
	clock.Advance(6 * time.Second)
	want("192.0.2.40", 5)
	clock.Advance(4*time.Minute + 50*time.Second)
	want("192.0.2.40", 5)
	clock.Advance(11 * time.Second)
	want("192.0.2.40", 6)

	// The server fails: Go's resolver answers, kept for the fixed 30 s.
	s.set(60, dns.RcodeServerFailure)
	clock.Advance(5*time.Minute + time.Second)
	want("192.0.2.99", 7)
	if fallback.calls != 1 {
		t.Fatalf("fallback resolver called %d times", fallback.calls)
	}
	s.set(60, dns.RcodeSuccess, "192.0.2.50")
	clock.Advance(29 * time.Second)
	want("192.0.2.99", 7)
	clock.Advance(2 * time.Second)
	want("192.0.2.50", 8)
}

// TestDNSTTLAnswersChecked: an answer obtained with its TTL is still checked
// against the allow-list: a name pointed at the parent's loopback is refused.
func TestDNSTTLAnswersChecked(t *testing.T) {
	up := startServer(t, echo)
	s := startDNSServer(t)
	s.set(30, dns.RcodeSuccess, "127.0.0.1")
	log, logs := testLogger(t)
	p, _ := startProxy(t, &Config{
		Logger: log, Resolver: testDNSClient(s),
		AllowList: []AllowEntry{{Address: "upstream.test", Port: up.port()}},
		Routes: []Route{{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0",
			Destination: "tcp://upstream.test:" + itoa(up.port())}},
	})
	c := dialRoute(t, p, "r")
	defer c.Close()
	expectClosed(t, c, 5*time.Second)
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonNotAllowed), 1)
	if !logged(logs, "address=127.0.0.1") {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}
}

// FuzzFollow: any DNS message the servers may send: no panic, and every
// address returned is of the type asked for.
func FuzzFollow(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("upstream.test.", dns.TypeA)
	m.Answer = []dns.RR{
		&dns.CNAME{Hdr: dns.RR_Header{Name: "upstream.test.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "b.test."},
		&dns.CNAME{Hdr: dns.RR_Header{Name: "b.test.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "upstream.test."},
		&dns.A{Hdr: dns.RR_Header{Name: "b.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.ParseIP("192.0.2.1")},
	}
	b, _ := m.Pack()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m dns.Msg
		if m.Unpack(b) != nil {
			return
		}
		for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
			addrs, ttl := follow(m.Answer, "upstream.test.", typ)
			if ttl < 0 {
				t.Fatalf("negative TTL %v", ttl)
			}
			for _, a := range addrs {
				if a.Is4() != (typ == dns.TypeA) {
					t.Fatalf("%v for type %d", a, typ)
				}
			}
		}
	})
}
