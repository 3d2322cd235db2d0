// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// parkedDirs counts the directions of p's connections that are parked
// (no goroutine, their source in the parker's epoll set).
func parkedDirs(p *Proxy) int {
	n := 0
	p.parker.forEach(func(pr *pair) {
		pr.mu.Lock()
		for d := range pr.dirs {
			if pr.dirs[d].state == dirParked {
				n++
			}
		}
		pr.mu.Unlock()
	})
	return n
}

// waitParked waits until want directions are parked.
func waitParked(t *testing.T, p *Proxy, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for parkedDirs(p) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d directions parked, want %d", parkedDirs(p), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// goroutineConfig is egressConfig on the goroutine path (the path of
// systems without the event engine), whose idle directions park.
func goroutineConfig(t *testing.T, up *server) *Config {
	cfg := egressConfig(t, up)
	cfg.goroutines = true
	return cfg
}

// exchange writes msg and reads len(msg) bytes back.
func exchange(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("got %q, %v; want %q", got, err, msg)
	}
}

// TestParkedPairWakes: an idle connection parks both directions and holds
// no goroutine; data arriving from either side starts the direction again,
// many times over.
func TestParkedPairWakes(t *testing.T) {
	push := make(chan []byte)
	up := startServer(t, func(c net.Conn) {
		go func() {
			for m := range push { // the destination speaks first
				_, _ = c.Write(m)
			}
		}()
		echo(c)
	})
	p, _ := startProxy(t, goroutineConfig(t, up))
	runtime.GC()
	c := dialRoute(t, p, "r")
	defer c.Close()
	exchange(t, c, []byte("first"))
	waitParked(t, p, 2)
	for i := range 5 {
		exchange(t, c, []byte("again "+itoa(i)))
		waitParked(t, p, 2)
		push <- []byte("unprompted " + itoa(i))
		got := make([]byte, len("unprompted 0"))
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "unprompted "+itoa(i) {
			t.Fatalf("from a parked destination direction: %q, %v", got, err)
		}
		waitParked(t, p, 2)
	}
	close(push)
	if got := metricValue(p.m.active.WithLabelValues("r")); got != 1 {
		t.Fatalf("active = %v, want 1", got)
	}
}

// TestParkedPairIdleTimeout: a parked connection has no read deadline to
// expire; the parker's sweep closes it after the idle timeout, counted as
// idle, and frees its slot.
func TestParkedPairIdleTimeout(t *testing.T) {
	up := startServer(t, echo)
	cfg := goroutineConfig(t, up)
	cfg.IdleTimeout = 400 * time.Millisecond
	p, _ := startProxy(t, cfg)
	c := dialRoute(t, p, "r")
	defer c.Close()
	exchange(t, c, []byte("x"))
	start := time.Now()
	waitParked(t, p, 2)
	expectClosed(t, c, 5*time.Second)
	if el := time.Since(start); el < 350*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", el)
	}
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonIdle), 1)
	waitMetric(t, p.m.active.WithLabelValues("r"), 0)
	if n := parkedDirs(p); n != 0 {
		t.Errorf("%d directions still parked", n)
	}
}

// TestParkedPeerCloses: a peer closing while its connection is parked ends
// the connection on both sides, from either end, and frees the slot.
func TestParkedPeerCloses(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		upDone := make(chan error, 1)
		up := startServer(t, func(c net.Conn) {
			buf := make([]byte, 1)
			_, _ = c.Read(buf)
			_, _ = c.Write(buf)
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := c.Read(buf) // the proxy's half-close
			upDone <- err
		})
		p, _ := startProxy(t, goroutineConfig(t, up))
		c := dialRoute(t, p, "r")
		exchange(t, c, []byte("x"))
		waitParked(t, p, 2)
		c.Close()
		if err := <-upDone; err != io.EOF {
			t.Fatalf("destination read %v, want io.EOF", err)
		}
		waitMetric(t, p.m.active.WithLabelValues("r"), 0)
	})
	t.Run("destination", func(t *testing.T) {
		closeUp := make(chan struct{})
		up := startServer(t, func(c net.Conn) {
			buf := make([]byte, 1)
			_, _ = c.Read(buf)
			_, _ = c.Write(buf)
			<-closeUp
		})
		cfg := goroutineConfig(t, up)
		cfg.HalfCloseGrace = 300 * time.Millisecond
		p, _ := startProxy(t, cfg)
		c := dialRoute(t, p, "r")
		defer c.Close()
		exchange(t, c, []byte("x"))
		waitParked(t, p, 2)
		close(closeUp)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("client read %d, %v; want io.EOF", n, err)
		}
		// The client keeps its side open: the half-close grace, not the
		// idle timeout, bounds it, although its direction was parked.
		start := time.Now()
		waitMetric(t, p.m.active.WithLabelValues("r"), 0)
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("closed %v after the destination, want about the 300ms grace", el)
		}
	})
}

// TestParkedLimit: parked connections keep their max_connections slots, so
// idle connections opened by the parent still cannot exceed the limit.
func TestParkedLimit(t *testing.T) {
	up := startServer(t, echo)
	cfg := goroutineConfig(t, up)
	cfg.Routes[0].MaxConnections = 2
	cfg.ConnectTimeout = 300 * time.Millisecond
	p, _ := startProxy(t, cfg)
	held := []net.Conn{dialRoute(t, p, "r"), dialRoute(t, p, "r")}
	for _, c := range held {
		defer c.Close()
		exchange(t, c, []byte("x"))
	}
	waitParked(t, p, 4)
	c := dialRoute(t, p, "r")
	expectClosed(t, c, 5*time.Second)
	c.Close()
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonLimit), 1)
	held[0].Close()
	waitMetric(t, p.m.active.WithLabelValues("r"), 1)
	c = dialRoute(t, p, "r")
	defer c.Close()
	exchange(t, c, []byte("a slot was freed"))
}

// TestCloseAllParked: at the drain deadline the forced close ends parked
// connections too (they have no goroutine to notice their sockets closing),
// and Serve returns.
func TestCloseAllParked(t *testing.T) {
	up := startServer(t, echo)
	cfg := goroutineConfig(t, up)
	cfg.ShutdownTimeout = 200 * time.Millisecond
	p, stop := startProxy(t, cfg)
	var cs []net.Conn
	for range 20 {
		c := dialRoute(t, p, "r")
		defer c.Close()
		exchange(t, c, []byte("x"))
		cs = append(cs, c)
	}
	// One connection keeps a direction running (mid-read) while the others
	// are parked.
	waitParked(t, p, 40)
	if _, err := cs[0].Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stop()
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("Serve returned after %v", el)
	}
	for _, c := range cs[1:] {
		expectClosed(t, c, 2*time.Second)
	}
	waitMetric(t, p.m.active.WithLabelValues("r"), 0)
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonShutdown), 20)
}

// TestManyParked: 500 connections park with no goroutine each, all wake
// for an exchange at once, and nothing is left after they close.
func TestManyParked(t *testing.T) {
	up := startServer(t, echo)
	cfg := goroutineConfig(t, up)
	p, _ := startProxy(t, cfg)
	runtime.GC()
	baseFD := countFDs(t)
	const n = 500
	cs := make([]net.Conn, n)
	for i := range cs {
		cs[i] = dialRoute(t, p, "r")
		exchange(t, cs[i], []byte("x"))
	}
	waitParked(t, p, 2*n)
	baseG := runtime.NumGoroutine()
	// Every proxied connection parked: the goroutines left are the
	// upstream's echo handlers (one per connection) and the fixed ones.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			msg := []byte("wake up")
			if _, err := c.Write(msg); err != nil {
				errs <- err
				return
			}
			if _, err := io.ReadFull(c, msg); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitParked(t, p, 2*n)
	// The clients' goroutines may still be exiting after wg.Wait.
	if g := settle(baseG+5, runtime.NumGoroutine); g > baseG+5 {
		t.Errorf("goroutines: %d with every connection parked before the exchanges, %d after", baseG, g)
	}
	for _, c := range cs {
		c.Close()
	}
	waitMetric(t, p.m.active.WithLabelValues("r"), 0)
	if fd := settle(baseFD, func() int { return countFDs(t) }); fd > baseFD {
		t.Errorf("file descriptors: %d before, %d after", baseFD, fd)
	}
	if n := parkedDirs(p); n != 0 {
		t.Errorf("%d directions still parked", n)
	}
}

// TestParkerStaleKey: an event for a pair that has ended, or for an earlier
// pair in a reused slot, names no pair.
func TestParkerStaleKey(t *testing.T) {
	k := newParker(time.Second, nil)
	if k == nil {
		t.Fatal("newParker failed")
	}
	defer k.stop()
	a := &pair{}
	if !k.add(a) {
		t.Fatal("add failed")
	}
	key := parkKey(a.slot, a.gen, dirOut)
	if pr, d := k.lookup(key); pr != a || d != dirOut {
		t.Fatalf("lookup = %p, %d; want %p, %d", pr, d, a, dirOut)
	}
	k.remove(a)
	if pr, _ := k.lookup(key); pr != nil {
		t.Fatal("a removed pair is still found")
	}
	b := &pair{}
	if !k.add(b) || b.slot != a.slot {
		t.Fatalf("slot not reused: %d, %d", a.slot, b.slot)
	}
	if pr, _ := k.lookup(key); pr != nil {
		t.Fatal("the old key names the slot's new pair")
	}
	if pr, _ := k.lookup(parkKey(b.slot, b.gen, dirIn)); pr != b {
		t.Fatal("the new key does not name the new pair")
	}
	if pr, _ := k.lookup(parkKey(1000, 0, dirIn)); pr != nil {
		t.Fatal("a slot beyond the table names a pair")
	}
	k.remove(b)
	k.shutdown()
	if k.add(&pair{}) {
		t.Fatal("add after shutdown")
	}
}

// TestReleaseAfterBurst: memory is released once a burst of running
// directions (at least burst of them at once) has fallen to a quarter,
// not for smaller peaks, not while the burst is still running, and at most
// every releaseGap.
func TestReleaseAfterBurst(t *testing.T) {
	var calls atomic.Int32
	k := newParker(time.Hour, func() { calls.Add(1) }) // the loop never sweeps
	if k == nil {
		t.Fatal("newParker failed")
	}
	defer k.stop()
	k.burst = 8
	expect := func(want int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for calls.Load() != want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // and no more than that
		if got := calls.Load(); got != want {
			t.Fatalf("release called %d times, want %d", got, want)
		}
	}
	run := func(n int) {
		for range n {
			k.goStart()
		}
	}
	end := func(n int) {
		for range n {
			k.goEnd()
		}
	}
	now := time.Now()
	run(7)
	end(7)
	k.afterBurst(now)
	expect(0) // a peak below the burst size
	run(10)
	k.afterBurst(now)
	expect(0) // still running
	end(7)
	k.afterBurst(now)
	expect(0) // 3 of 10 still running: more than a quarter
	end(1)
	k.afterBurst(now)
	expect(1)
	run(10)
	end(10)
	k.afterBurst(now.Add(k.releaseGap / 2))
	expect(1) // too soon after the last
	k.afterBurst(now.Add(k.releaseGap))
	expect(2)
	k.afterBurst(now.Add(3 * k.releaseGap))
	expect(2) // no burst since
}
