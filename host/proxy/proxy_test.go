// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestEcho(t *testing.T) {
	up := startServer(t, echo)
	p, _ := startProxy(t, egressConfig(t, up))
	c := dialRoute(t, p, "r")
	defer c.Close()
	if got := roundTrip(t, c, []byte("hello enclave")); string(got) != "hello enclave" {
		t.Fatalf("got %q", got)
	}
}

// TestForward64MiB moves 64 MiB each way at once, over a TCP and a unix
// listener, and compares SHA-256 digests of what was sent and received.
func TestForward64MiB(t *testing.T) {
	const size = 64 << 20
	clientData := make([]byte, size)
	serverData := make([]byte, size)
	_, _ = rand.Read(clientData)
	_, _ = rand.Read(serverData)
	wantUp, wantDown := sha256.Sum256(clientData), sha256.Sum256(serverData)

	type result struct {
		sum [32]byte
		err error
	}
	results := make(chan result, 2)
	up := startServer(t, func(c net.Conn) {
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			_, _ = c.Write(serverData)
			_ = c.(closeWriter).CloseWrite()
		}()
		h := sha256.New()
		var r result
		_, r.err = io.Copy(h, c)
		copy(r.sum[:], h.Sum(nil))
		<-wrote // the handler's return closes c
		results <- r
	})
	for _, listen := range []string{"tcp://127.0.0.1:0", "unix://" + filepath.Join(t.TempDir(), "p.sock")} {
		t.Run(strings.SplitN(listen, ":", 2)[0], func(t *testing.T) {
			cfg := egressConfig(t, up)
			cfg.Routes[0].Listen = listen
			p, _ := startProxy(t, cfg)
			c := dialRoute(t, p, "r")
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(60 * time.Second))
			go func() { _, _ = c.Write(clientData); _ = c.(closeWriter).CloseWrite() }()
			h := sha256.New()
			n, err := io.Copy(h, c)
			if err != nil || n != size {
				t.Fatalf("downstream: %d bytes, %v", n, err)
			}
			r := <-results
			if r.err != nil {
				t.Fatalf("upstream: %v", r.err)
			}
			if !bytes.Equal(h.Sum(nil), wantDown[:]) {
				t.Errorf("downstream SHA-256 mismatch")
			}
			if r.sum != wantUp {
				t.Errorf("upstream SHA-256 mismatch")
			}
			waitMetric(t, p.m.bytes.WithLabelValues("r", "in"), size)
			waitMetric(t, p.m.bytes.WithLabelValues("r", "out"), size)
		})
	}
}

func TestHalfClose(t *testing.T) {
	t.Run("client closes first", func(t *testing.T) {
		up := startServer(t, func(c net.Conn) {
			got, _ := io.ReadAll(c) // until the client's FIN arrives through the proxy
			_, _ = c.Write(append([]byte("got:"), got...))
		})
		p, _ := startProxy(t, egressConfig(t, up))
		c := dialRoute(t, p, "r")
		defer c.Close()
		if got := roundTrip(t, c, []byte("request")); string(got) != "got:request" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("server closes first", func(t *testing.T) {
		received := make(chan string, 1)
		up := startServer(t, func(c net.Conn) {
			_, _ = c.Write([]byte("banner"))
			_ = c.(closeWriter).CloseWrite() // server done talking, still listening
			got, _ := io.ReadAll(c)
			received <- string(got)
		})
		p, _ := startProxy(t, egressConfig(t, up))
		c := dialRoute(t, p, "r")
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		banner, err := io.ReadAll(c) // EOF from the server's half-close
		if err != nil || string(banner) != "banner" {
			t.Fatalf("banner %q, %v", banner, err)
		}
		if _, err := c.Write([]byte("still talking")); err != nil {
			t.Fatalf("write after the server's half-close: %v", err)
		}
		_ = c.(closeWriter).CloseWrite()
		select {
		case got := <-received:
			if got != "still talking" {
				t.Fatalf("server received %q", got)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("server never saw the client's data and EOF")
		}
	})
}

// TestIngressUnix forwards an ingress route into a unix socket, standing in
// for the enclave's vsock listener.
func TestIngressUnix(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "enclave.sock")
	l, err := net.Listen("unix", sock)
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
			go func() { defer c.Close(); echo(c) }()
		}
	}()
	log, _ := testLogger(t)
	p, _ := startProxy(t, &Config{Logger: log, Routes: []Route{{Name: "attest", Direction: Ingress,
		Listen: "tcp://127.0.0.1:0", Destination: "unix://" + sock}}})
	c := dialRoute(t, p, "attest")
	defer c.Close()
	if got := roundTrip(t, c, []byte("GET /attestation")); string(got) != "GET /attestation" {
		t.Fatalf("got %q", got)
	}
}

// TestConcurrent1000 runs 1,000 connections at once and checks that no
// goroutine or file descriptor is left afterwards.
func TestConcurrent1000(t *testing.T) {
	up := startServer(t, echo)
	p, _ := startProxy(t, egressConfig(t, up))
	addr := p.Addr("r").String()

	runtime.GC()
	baseG := runtime.NumGoroutine()
	baseFD := countFDs(t)

	const n = 1000
	msg := bytes.Repeat([]byte{'x'}, 1024)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	conns := make(chan net.Conn, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c, err := net.DialTimeout("tcp", addr, 20*time.Second)
			if err != nil {
				errs <- err
				return
			}
			conns <- c
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.Write(msg); err != nil {
				errs <- err
				return
			}
			buf := make([]byte, len(msg))
			if _, err := io.ReadFull(c, buf); err != nil {
				errs <- err
				return
			}
		}()
	}
	close(start)
	// All 1,000 are open at once: hold them until every echo came back.
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	active := metricValue(p.m.active.WithLabelValues("r"))
	if active != n {
		t.Errorf("active connections = %v, want %d (all open at once)", active, n)
	}
	close(conns)
	for c := range conns {
		c.Close()
	}
	g := settle(baseG, runtime.NumGoroutine)
	fd := settle(baseFD, func() int { return countFDs(t) })
	if g > baseG {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after\n%s", baseG, g, buf[:runtime.Stack(buf, true)])
	}
	if fd > baseFD {
		t.Errorf("file descriptors: %d before, %d after", baseFD, fd)
	}
	waitMetric(t, p.m.connections.WithLabelValues("r"), n)
	t.Logf("goroutines %d→%d, fds %d→%d", baseG, g, baseFD, fd)
}

func TestUpstreamRefuses(t *testing.T) {
	// A port with nothing listening.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().(*net.TCPAddr)
	l.Close()
	good := startServer(t, echo)
	log, logs := testLogger(t)
	cfg := &Config{
		Logger:    log,
		AllowList: []AllowEntry{{Address: "127.0.0.1", Port: dead.Port}, {Address: "127.0.0.1", Port: good.port()}},
		Routes: []Route{
			{Name: "dead", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://" + dead.String()},
			{Name: "good", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: good.url()},
		},
		Admin: "tcp://127.0.0.1:0",
	}
	p, _ := startProxy(t, cfg)
	for i := 0; i < 20; i++ {
		c := dialRoute(t, p, "dead")
		expectClosed(t, c, 5*time.Second)
		c.Close()
	}
	waitMetric(t, p.m.errors.WithLabelValues("dead", reasonDial), 20)
	if !logged(logs, "connection refused") || !logged(logs, "reason=dial") {
		t.Errorf("log does not give the reason:\n%s", logs.String())
	}
	// The proxy stays healthy and serves the next connection.
	assertHealthy(t, p)
	c := dialRoute(t, p, "good")
	defer c.Close()
	if got := roundTrip(t, c, []byte("next")); string(got) != "next" {
		t.Fatalf("got %q", got)
	}
}

func assertHealthy(t *testing.T, p *Proxy) {
	t.Helper()
	resp, err := http.Get("http://" + p.Addr("admin").String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("/healthz: %d %q", resp.StatusCode, body)
	}
}

// hangingListener returns a loopback address whose accept queue is full, so
// that a connect to it hangs (Linux drops the SYN).
func hangingListener(t *testing.T) *net.TCPAddr {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skip(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skip(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}
	// Fill the queue; then check that a further connect really hangs.
	for i := 0; i < 2; i++ {
		c, err := net.DialTimeout("tcp", addr.String(), 200*time.Millisecond)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	if c, err := net.DialTimeout("tcp", addr.String(), 200*time.Millisecond); err == nil {
		c.Close()
		t.Skip("the kernel completed a connect to a full accept queue; cannot simulate a hanging upstream")
	}
	return addr
}

func TestUpstreamHangs(t *testing.T) {
	t.Run("connect hangs", func(t *testing.T) {
		hang := hangingListener(t)
		good := startServer(t, echo)
		log, logs := testLogger(t)
		p, _ := startProxy(t, &Config{
			Logger:         log,
			ConnectTimeout: 300 * time.Millisecond,
			AllowList:      []AllowEntry{{Address: "127.0.0.1", Port: hang.Port}, {Address: "127.0.0.1", Port: good.port()}},
			Routes: []Route{
				{Name: "hang", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://" + hang.String()},
				{Name: "good", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: good.url()},
			},
			Admin: "tcp://127.0.0.1:0",
		})
		start := time.Now()
		c := dialRoute(t, p, "hang")
		expectClosed(t, c, 5*time.Second)
		c.Close()
		if el := time.Since(start); el < 250*time.Millisecond {
			t.Errorf("closed after %v, before the connect timeout", el)
		}
		waitMetric(t, p.m.errors.WithLabelValues("hang", reasonDial), 1)
		if !logged(logs, "i/o timeout") {
			t.Errorf("log does not say the connect timed out:\n%s", logs.String())
		}
		assertHealthy(t, p)
		c = dialRoute(t, p, "good")
		defer c.Close()
		if got := roundTrip(t, c, []byte("next")); string(got) != "next" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("accepts and never answers", func(t *testing.T) {
		stuck := startServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
		cfg := egressConfig(t, stuck)
		cfg.IdleTimeout = 300 * time.Millisecond
		p, _ := startProxy(t, cfg)
		c := dialRoute(t, p, "r")
		defer c.Close()
		if _, err := c.Write([]byte("anyone?")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		expectClosed(t, c, 5*time.Second)
		if el := time.Since(start); el < 250*time.Millisecond {
			t.Errorf("closed after %v, before the idle timeout", el)
		}
		waitMetric(t, p.m.errors.WithLabelValues("r", reasonIdle), 1)
	})
}

// TestIdleNotCutWhileOneWayActive: a long one-way transfer with the other
// direction silent is not an idle connection.
func TestIdleNotCutWhileOneWayActive(t *testing.T) {
	up := startServer(t, func(c net.Conn) {
		for i := 0; i < 12; i++ { // 12 × 50 ms = 600 ms, twice the idle timeout
			if _, err := c.Write([]byte("tick")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	cfg := egressConfig(t, up)
	cfg.IdleTimeout = 300 * time.Millisecond
	p, _ := startProxy(t, cfg)
	c := dialRoute(t, p, "r")
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || len(got) != 48 {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	release := make(chan struct{})
	up := startServer(t, func(c net.Conn) { <-release; echo(c) })
	cfg := egressConfig(t, up)
	cfg.Routes[0].MaxConnections = 2
	cfg.ConnectTimeout = time.Second
	log, logs := testLogger(t)
	cfg.Logger = log
	p, _ := startProxy(t, cfg)

	r := p.routes[0]
	held := []net.Conn{dialRoute(t, p, "r"), dialRoute(t, p, "r")}
	defer held[0].Close()
	defer held[1].Close()
	waitUntil(t, "both connections hold their slots", func() bool { return len(r.sem) == 2 })
	c := dialRoute(t, p, "r")
	expectClosed(t, c, 5*time.Second)
	c.Close()
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonLimit), 1)
	if !logged(logs, "concurrency limit reached") {
		t.Errorf("no logged reason:\n%s", logs.String())
	}
	// A connection waiting for a slot gets it when one frees up in time;
	// beyond max_connections waiting ones, a connection is refused at once.
	waiting := dialRoute(t, p, "r")
	defer waiting.Close()
	waiting2 := dialRoute(t, p, "r")
	defer waiting2.Close()
	waitUntil(t, "two connections wait for a slot", func() bool { return r.waiting.Load() == 2 })
	extra := dialRoute(t, p, "r")
	expectClosed(t, extra, 5*time.Second)
	extra.Close()
	// Refused at once, not after waiting the connect timeout: the log
	// says which (wall time would, on a loaded machine, not).
	if !logged(logs, "concurrency limit reached and too many waiting") {
		t.Errorf("third waiting connection not refused for too many waiting:\n%s", logs.String())
	}
	held[0].Close()
	held[1].Close()
	close(release)
	for _, w := range []net.Conn{waiting, waiting2} {
		if got := roundTrip(t, w, []byte("slot")); string(got) != "slot" {
			t.Fatalf("got %q", got)
		}
	}
}

func TestDNSReresolve(t *testing.T) {
	up := startServer(t, echo)
	res := &fakeResolver{}
	res.set("upstream.test", "127.0.0.1")
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	log, logs := testLogger(t)
	cfg := &Config{
		Logger:   log,
		Resolver: res,
		Clock:    clock.Now,
		AllowList: []AllowEntry{
			{Address: "upstream.test", Port: up.port()},
			{Address: "127.0.0.1", Port: up.port()}, // loopback must be listed explicitly
		},
		Routes: []Route{{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0",
			Destination: "tcp://upstream.test:" + itoa(up.port())}},
		DNSRefresh: 30 * time.Second,
	}
	p, _ := startProxy(t, cfg)
	ok := func() {
		t.Helper()
		c := dialRoute(t, p, "r")
		defer c.Close()
		if got := roundTrip(t, c, []byte("hi")); string(got) != "hi" {
			t.Fatalf("got %q", got)
		}
	}
	refused := func(addr string) {
		t.Helper()
		c := dialRoute(t, p, "r")
		defer c.Close()
		expectClosed(t, c, 5*time.Second)
		if !logged(logs, "address="+addr) {
			t.Errorf("refusal of %s not logged:\n%s", addr, logs.String())
		}
	}
	ok()
	// The name now points at the parent's other loopback address: until
	// the refresh interval passes the cached (allowed) answer is used...
	res.set("upstream.test", "127.0.0.2")
	ok()
	if res.calls != 1 {
		t.Errorf("resolver called %d times within the interval", res.calls)
	}
	// ...then the new answer is checked and refused, without a restart.
	clock.Advance(31 * time.Second)
	refused("127.0.0.2")
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonNotAllowed), 1)
	// The instance metadata service is refused the same way.
	res.set("upstream.test", "169.254.169.254")
	clock.Advance(31 * time.Second)
	refused("169.254.169.254")
	// A mixed answer: the refused address is skipped, the allowed one used.
	res.set("upstream.test", "169.254.169.254", "127.0.0.1")
	clock.Advance(31 * time.Second)
	ok()
	waitMetric(t, p.m.dns.WithLabelValues("r"), 3)
	// Resolution failure with a cached answer: keep using it.
	res.mu.Lock()
	delete(res.table, "upstream.test")
	res.mu.Unlock()
	clock.Advance(31 * time.Second)
	ok()
	if !logged(logs, "DNS refresh failed: using the previous answer") {
		t.Errorf("stale answer not logged")
	}
}

func TestDNSFailureNoCache(t *testing.T) {
	up := startServer(t, echo)
	log, logs := testLogger(t)
	p, _ := startProxy(t, &Config{
		Logger: log, Resolver: &fakeResolver{},
		AllowList: []AllowEntry{{Address: "missing.test", Port: up.port()}},
		Routes: []Route{{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0",
			Destination: "tcp://missing.test:" + itoa(up.port())}},
	})
	c := dialRoute(t, p, "r")
	defer c.Close()
	expectClosed(t, c, 5*time.Second)
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonDNS), 1)
	if !logged(logs, "no such host") {
		t.Errorf("reason not logged:\n%s", logs.String())
	}
}

func TestShutdownDrain(t *testing.T) {
	t.Run("active connection finishes", func(t *testing.T) {
		up := startServer(t, func(c net.Conn) {
			got, _ := io.ReadAll(c)
			_, _ = c.Write(got)
		})
		cfg := egressConfig(t, up)
		cfg.Admin = "tcp://127.0.0.1:0"
		p, stop := startProxy(t, cfg)
		addr := p.Addr("r").String()
		admin := p.Addr("admin").String()
		c := dialRoute(t, p, "r")
		defer c.Close()
		if _, err := c.Write([]byte("in flight")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		stopped := make(chan struct{})
		go func() { stop(); close(stopped) }()
		// No longer accepting; /healthz says draining.
		deadline := time.Now().Add(5 * time.Second)
		for {
			c2, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				break
			}
			c2.Close()
			if time.Now().After(deadline) {
				t.Fatal("still accepting after shutdown began")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if resp, err := http.Get("http://" + admin + "/healthz"); err == nil {
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("/healthz while draining: %d", resp.StatusCode)
			}
			resp.Body.Close()
		}
		select {
		case <-stopped:
			t.Fatal("Serve returned before the active connection finished")
		default:
		}
		if got := roundTrip(t, c, []byte(" and done")); string(got) != "in flight and done" {
			t.Fatalf("got %q", got)
		}
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after the last connection")
		}
	})
	t.Run("deadline closes stragglers", func(t *testing.T) {
		up := startServer(t, echo)
		cfg := egressConfig(t, up)
		cfg.ShutdownTimeout = 200 * time.Millisecond
		p, stop := startProxy(t, cfg)
		c := dialRoute(t, p, "r")
		defer c.Close()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadFull(c, make([]byte, 1))
		start := time.Now()
		stop()
		if el := time.Since(start); el < 150*time.Millisecond || el > 5*time.Second {
			t.Errorf("Serve returned after %v, want about the 200ms deadline", el)
		}
		expectClosed(t, c, time.Second)
		waitMetric(t, p.m.errors.WithLabelValues("r", reasonShutdown), 1)
	})
}

func TestMetricsEndpoint(t *testing.T) {
	up := startServer(t, echo)
	cfg := egressConfig(t, up)
	cfg.Admin = "tcp://127.0.0.1:0"
	p, _ := startProxy(t, cfg)
	c := dialRoute(t, p, "r")
	roundTrip(t, c, []byte("12345"))
	c.Close()
	time.Sleep(20 * time.Millisecond)
	resp, err := http.Get("http://" + p.Addr("admin").String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`hostproxy_connections_total{route="r"} 1`,
		`hostproxy_bytes_total{direction="in",route="r"} 5`,
		`hostproxy_bytes_total{direction="out",route="r"} 5`,
		`hostproxy_connections_active{route="r"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestServeBeforeListen(t *testing.T) {
	p, err := New(&Config{Routes: []Route{{Name: "a", Direction: Ingress, Listen: "tcp://127.0.0.1:0", Destination: "vsock://16:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Serve(context.Background()); err == nil {
		t.Fatal("Serve without Listen succeeded")
	}
}

func TestListenConflictNamesRoute(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := New(&Config{Routes: []Route{
		{Name: "free", Direction: Ingress, Listen: "tcp://127.0.0.1:0", Destination: "vsock://16:1"},
		{Name: "busy", Direction: Ingress, Listen: "tcp://" + l.Addr().String(), Destination: "vsock://16:1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Listen()
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "proxy: busy: listen on") {
		t.Fatalf("Listen: %v", err)
	}
	var le *ListenError
	if !errors.As(err, &le) || le.Route != "busy" || le.Service != "" || le.Addr != "tcp://"+l.Addr().String() || !errors.Is(le.Err, syscall.EADDRINUSE) {
		t.Fatalf("Listen: %#v, want a *ListenError for route busy", err)
	}
	if p.Addr("free") != nil {
		t.Error("the other listener stayed bound")
	}
}

func TestListenErrorNamesService(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := New(&Config{
		Routes: []Route{{Name: "free", Direction: Ingress, Listen: "tcp://127.0.0.1:0", Destination: "vsock://16:1"}},
		Admin:  "tcp://" + l.Addr().String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Listen()
	want := "proxy: admin: listen on tcp://" + l.Addr().String() + ": "
	var le *ListenError
	if !errors.As(err, &le) || le.Route != "" || le.Service != "admin" || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Listen: %v, want a *ListenError for the admin endpoint starting %q", err, want)
	}
}
