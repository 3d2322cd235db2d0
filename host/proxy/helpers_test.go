// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func prometheusRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

// waitMetric waits (briefly) for a counter or gauge to reach want: handlers
// record outcomes just after closing the connection a test observes.
func waitMetric(t testing.TB, c prometheus.Collector, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := metricValue(c)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("metric = %v, want %v", got, want)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitUntil polls cond until it holds, failing the test (naming what) if
// it does not within 10 seconds.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// logged reports whether buf holds s within 10 s: the proxy's log lines
// are written by its log writer goroutine, after the event they report.
func logged(buf *syncBuffer, s string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// metricValue reads a counter or gauge.
func metricValue(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var pb dto.Metric
	if err := (<-ch).Write(&pb); err != nil {
		panic(err)
	}
	switch {
	case pb.Counter != nil:
		return pb.Counter.GetValue()
	case pb.Gauge != nil:
		return pb.Gauge.GetValue()
	}
	panic("not a counter or gauge")
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testLogger logs to a buffer (returned) and to t.Log on failure.
func testLogger(t *testing.T) (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// startProxy validates cfg, listens, serves in the background and stops at
// cleanup (or when the returned stop is called, which waits for Serve).
func startProxy(t testing.TB, cfg *Config) (*Proxy, func()) {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := p.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Serve did not return")
			}
		})
	}
	t.Cleanup(stop)
	for !p.serving.Load() {
		time.Sleep(time.Millisecond)
	}
	return p, stop
}

// server is a loopback TCP upstream running handler per connection.
type server struct {
	l  net.Listener
	wg sync.WaitGroup
}

func startServer(t testing.TB, handler func(net.Conn)) *server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{l: l}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); defer c.Close(); handler(c) }()
		}
	}()
	t.Cleanup(func() { l.Close(); s.wg.Wait() })
	return s
}

func (s *server) port() int { return s.l.Addr().(*net.TCPAddr).Port }

func (s *server) url() string { return "tcp://" + s.l.Addr().String() }

func echo(c net.Conn) { _, _ = io.Copy(c, c) }

// egressConfig is one egress route from tcp://127.0.0.1:0 to dest, with
// dest's IP and port allow-listed.
func egressConfig(t *testing.T, dest *server) *Config {
	log, _ := testLogger(t)
	return &Config{
		AllowList: []AllowEntry{{Address: "127.0.0.1", Port: dest.port()}},
		Routes:    []Route{{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: dest.url()}},
		Logger:    log,
	}
}

func dialRoute(t testing.TB, p *Proxy, name string) net.Conn {
	t.Helper()
	a := p.Addr(name)
	c, err := net.DialTimeout(a.Network(), a.String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// roundTrip sends msg, half-closes, and returns everything read back.
func roundTrip(t testing.TB, c net.Conn, msg []byte) []byte {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := c.(closeWriter).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// expectClosed asserts the proxy closes c without sending data.
func expectClosed(t testing.TB, c net.Conn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection not closed by the proxy: n=%d err=%v", n, err)
	}
}

// fakeResolver answers from a mutable table.
type fakeResolver struct {
	mu    sync.Mutex
	table map[string][]netip.Addr
	calls int
}

func (f *fakeResolver) set(name string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.table == nil {
		f.table = map[string][]netip.Addr{}
	}
	f.table[name] = nil
	for _, a := range addrs {
		f.table[name] = append(f.table[name], netip.MustParseAddr(a))
	}
}

func (f *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	as, ok := f.table[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range as {
		if network == "ip" || network == "ip4" && a.Is4() || network == "ip6" && a.Is6() {
			out = append(out, a)
		}
	}
	return out, nil
}

// fakeClock is an adjustable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func countFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// settle waits until f() <= want, returning the last value.
func settle(want int, f func() int) int {
	deadline := time.Now().Add(10 * time.Second)
	n := f()
	for n > want && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
		n = f()
	}
	return n
}

func itoa(i int) string { return strconv.Itoa(i) }

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
