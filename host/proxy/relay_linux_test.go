// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// heldPipes counts the splice pipes the engine's connections hold.
func heldPipes(p *Proxy) int {
	held := 0
	for _, w := range p.eng.workers {
		d := make(chan struct{})
		w.post(wmsg{kind: msgCall, done: d, fn: func(w *worker) {
			for _, c := range w.conns {
				if c == nil {
					continue
				}
				for i := range c.dirs {
					if c.dirs[i].pipe != nil {
						held++
					}
				}
			}
		}})
		<-d
	}
	return held
}

// A TCP↔TCP direction that streamed (reads of 64 KiB or more, so through
// a splice pipe) and then went quiet returns its pipe to the worker's
// pool within two sweep periods: an idle connection holds no pipe (two
// descriptors of the worker's 64). It used to keep it for as long as it
// stayed quiet.
func TestIdleConnectionHoldsNoPipe(t *testing.T) {
	up := startServer(t, echo)
	p, _ := startProxy(t, egressConfig(t, up))
	const conns = 4
	for range conns {
		c := dialRoute(t, p, "r")
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		data := bytes.Repeat([]byte("s"), 4<<20)
		go func() { _, _ = c.Write(data) }()
		if _, err := io.ReadFull(c, make([]byte, len(data))); err != nil {
			t.Fatal(err)
		}
	}
	var spliced int64
	for _, w := range p.eng.workers {
		spliced += w.spliced.Load()
	}
	if spliced == 0 {
		t.Fatal("nothing went through a pipe: the test shows nothing")
	}
	// Idle now: the pipes go back within two sweep periods.
	sweep := p.eng.sweep
	deadline := time.Now().Add(2*sweep + time.Second)
	held := heldPipes(p)
	for ; held > 0 && time.Now().Before(deadline); held = heldPipes(p) {
		time.Sleep(10 * time.Millisecond)
	}
	if held > 0 {
		t.Fatalf("%d idle connections hold %d splice pipes (%d descriptors) %v after they went quiet (sweep period %v)", conns, held, 2*held, 2*sweep+time.Second, sweep)
	}
	// The connections still stream afterwards.
	c := dialRoute(t, p, "r")
	defer c.Close()
	if got := roundTrip(t, c, bytes.Repeat([]byte("t"), 1<<20)); len(got) != 1<<20 {
		t.Fatalf("echoed %d bytes, want %d", len(got), 1<<20)
	}
}

// A connection that ends in an error reaches the other peer as a reset,
// not as a clean end of stream: a response the destination cut by a
// reset, or a connection cut as idle, must not look complete to a
// protocol framed by the end of stream. A clean end stays a FIN.
func TestAbnormalEndResetsThePeer(t *testing.T) {
	bothPaths(t, func(t *testing.T, gor bool) {
		t.Run("destination reset", func(t *testing.T) {
			up := startServer(t, func(c net.Conn) {
				_, _ = c.Write(bytes.Repeat([]byte("r"), 64<<10))
				time.Sleep(100 * time.Millisecond) // the 64 KiB reach the proxy
				_ = c.(*net.TCPConn).SetLinger(0)  // then a reset: the response is cut
			})
			cfg := egressConfig(t, up)
			cfg.goroutines = gor
			p, _ := startProxy(t, cfg)
			c := dialRoute(t, p, "r")
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			waitMetric(t, p.m.errors.WithLabelValues("r", reasonCopy), 1)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("the destination reset the connection; the client read %d bytes and %v, want ECONNRESET", len(got), err)
			}
		})
		t.Run("idle cut", func(t *testing.T) {
			up := startServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
			cfg := egressConfig(t, up)
			cfg.goroutines = gor
			cfg.IdleTimeout = 200 * time.Millisecond
			p, _ := startProxy(t, cfg)
			c := dialRoute(t, p, "r")
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err := io.ReadAll(c)
			waitMetric(t, p.m.errors.WithLabelValues("r", reasonIdle), 1)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("cut as idle, the client read %v, want ECONNRESET", err)
			}
		})
		t.Run("clean end", func(t *testing.T) {
			up := startServer(t, func(c net.Conn) { _, _ = c.Write([]byte("complete")) })
			cfg := egressConfig(t, up)
			cfg.goroutines = gor
			p, _ := startProxy(t, cfg)
			c := dialRoute(t, p, "r")
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if got, err := io.ReadAll(c); err != nil || string(got) != "complete" {
				t.Fatalf("clean end: read %q, %v", got, err)
			}
		})
	})
}

// A client that reads slowly but steadily (4 KiB every 40 ms) a download
// longer than the idle timeout is not cut as idle: bytes move toward it
// all along, from the proxy's pending buffer or from the kernel's send
// buffer. The engine used to refresh its idle clock only on reads, the
// goroutine path to fail a write that outlived one absolute deadline.
func TestSlowSteadyReaderIsNotIdle(t *testing.T) {
	bothPaths(t, func(t *testing.T, gor bool) {
		up := startServer(t, func(c net.Conn) {
			big := bytes.Repeat([]byte("d"), 1<<20)
			for range 16 {
				if _, err := c.Write(big); err != nil {
					return
				}
			}
		})
		cfg := egressConfig(t, up)
		cfg.IdleTimeout = time.Second
		cfg.goroutines = gor
		p, _ := startProxy(t, cfg)
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<10) })
		}}
		c, err := d.Dial("tcp", p.Addr("r").String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 4<<10)
		start := time.Now()
		var got int
		for time.Since(start) < 3*time.Second { // three idle timeouts
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, err := io.ReadFull(c, buf)
			got += n
			if err != nil {
				t.Fatalf("read after %v (%d KiB): %v", time.Since(start).Round(time.Millisecond), got>>10, err)
			}
			if idle := metricValue(p.m.errors.WithLabelValues("r", reasonIdle)); idle != 0 {
				t.Fatalf("cut as idle after %v although the client read 4 KiB every 40 ms (%d KiB so far)",
					time.Since(start).Round(time.Millisecond), got>>10)
			}
			time.Sleep(40 * time.Millisecond)
		}
	})
}

// A client that stops reading is still cut once the buffers toward it are
// full and have not moved for the idle timeout.
func TestStoppedReaderIsCut(t *testing.T) {
	bothPaths(t, func(t *testing.T, gor bool) {
		up := startServer(t, func(c net.Conn) {
			big := bytes.Repeat([]byte("d"), 1<<20)
			for range 64 {
				if _, err := c.Write(big); err != nil {
					return
				}
			}
		})
		cfg := egressConfig(t, up)
		cfg.IdleTimeout = 300 * time.Millisecond
		cfg.goroutines = gor
		p, _ := startProxy(t, cfg)
		c := dialRoute(t, p, "r")
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, 4<<10)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		waitMetric(t, p.m.errors.WithLabelValues("r", reasonIdle), 1) // then it stops reading
		if el := time.Since(start); el > 5*cfg.IdleTimeout {
			t.Fatalf("a client that stopped reading was cut after %v (idle timeout %v)", el, cfg.IdleTimeout)
		}
	})
}

// A byte the client sends as TCP urgent data (MSG_OOB) is relayed in its
// place in the stream, as an ordinary byte (SO_OOBINLINE on the proxy's
// TCP sockets): without it read(2) skipped the byte and the destination
// got the stream without it.
func TestUrgentByteRelayedInline(t *testing.T) {
	bothPaths(t, func(t *testing.T, gor bool) {
		for _, lead := range []int{3, 256 << 10} { // a short stream, and one that streams (splice on the engine)
			up := startServer(t, echo)
			cfg := egressConfig(t, up)
			cfg.goroutines = gor
			p, _ := startProxy(t, cfg)
			c := dialRoute(t, p, "r")
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			head := bytes.Repeat([]byte("a"), lead)
			want := string(head) + "Xdef"
			got := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(c); got <- b }()
			if _, err := c.Write(head); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			rc, _ := c.(*net.TCPConn).SyscallConn()
			var serr error
			_ = rc.Control(func(fd uintptr) { serr = unix.Sendto(int(fd), []byte("X"), unix.MSG_OOB, nil) })
			if serr != nil {
				t.Fatal(serr)
			}
			time.Sleep(50 * time.Millisecond)
			_, _ = c.Write([]byte("def"))
			_ = c.(*net.TCPConn).CloseWrite()
			if b := <-got; string(b) != want {
				t.Fatalf("sent %d bytes, X (MSG_OOB), def: %d bytes came back, ending %q, want ending %q",
					lead, len(b), b[max(0, len(b)-8):], want[max(0, len(want)-8):])
			}
		}
	})
}
