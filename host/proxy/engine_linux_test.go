// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestEngineServesRoutes: on Linux every route is served by the event
// engine unless the goroutine path is asked for.
func TestEngineServesRoutes(t *testing.T) {
	up := startServer(t, echo)
	p, _ := startProxy(t, egressConfig(t, up))
	if p.eng == nil || p.parker != nil {
		t.Fatalf("engine %v, parker %v: want the engine", p.eng != nil, p.parker != nil)
	}
	if _, ok := p.listeners["r"].(*fdListener); !ok {
		t.Errorf("route listener %T, want the engine's", p.listeners["r"])
	}
	c := dialRoute(t, p, "r")
	defer c.Close()
	exchange(t, c, []byte("via the engine"))
	waitUntil(t, "the engine counts the connection", func() bool { return p.eng.active() == 1 })
}

// TestEngineNoFDLeak: many connections ending every way an attacker can
// end them (clean, half-closed, reset mid-transfer, silent until the idle
// timeout, refused for the limit, to a dead destination) leave no
// descriptor behind; also with three workers, connections handed between
// them and slots of the limit granted across them.
func TestEngineNoFDLeak(t *testing.T) {
	for _, workers := range []int{0, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) { testEngineNoFDLeak(t, workers) })
	}
}

func testEngineNoFDLeak(t *testing.T, workers int) {
	up := startServer(t, echo)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().(*net.TCPAddr)
	dead.Close()
	log, _ := testLogger(t)
	cfg := &Config{
		Logger:      log,
		IdleTimeout: 200 * time.Millisecond,
		AllowList:   []AllowEntry{{Address: "127.0.0.1", Port: up.port()}, {Address: "127.0.0.1", Port: deadAddr.Port}},
		Routes: []Route{
			{Name: "r", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: up.url(), MaxConnections: 8},
			{Name: "dead", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: "tcp://" + deadAddr.String()},
		},
		workers: workers,
	}
	p, _ := startProxy(t, cfg)
	base := countFDs(t)
	big := bytes.Repeat([]byte("z"), 1<<20)
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c, err := net.Dial("tcp", p.Addr("r").String())
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				switch i % 4 {
				case 0: // clean exchange with half-close
					if got := roundTrip(t, c, []byte("hello")); string(got) != "hello" {
						t.Errorf("got %q", got)
					}
				case 1: // reset in the middle of a transfer
					_, _ = c.Write(big[:256<<10])
					_ = c.(*net.TCPConn).SetLinger(0)
				case 2: // silent: the idle timeout ends it
					expectClosed(t, c, 5*time.Second)
				case 3: // half-close at once, never read
					_ = c.(*net.TCPConn).CloseWrite()
					_, _ = io.Copy(io.Discard, c)
				}
			}(i)
		}
		wg.Wait()
		// Connections to a dead destination.
		for i := 0; i < 4; i++ {
			c := dialRoute(t, p, "dead")
			expectClosed(t, c, 5*time.Second)
			c.Close()
		}
	}
	waitUntil(t, "every connection has ended", func() bool { return p.eng.active() == 0 })
	// The workers' pools of pipes (bounded) are not leaks.
	pooled := func() (n int) {
		for _, w := range p.eng.workers {
			n += 2 * int(w.npipes.Load())
		}
		return n
	}
	if got := settle(base, func() int { return countFDs(t) - pooled() }); got > base {
		t.Errorf("descriptors: %d before, %d after (not counting %d in pipe pools)", base, got, pooled())
	}
}

// TestEngineBackPressure: a destination that never reads does not make the
// proxy buffer what the client sends: the client's writes block once the
// kernel's socket buffers and one pending buffer are full.
func TestEngineBackPressure(t *testing.T) {
	stop := make(chan struct{})
	up := startServer(t, func(c net.Conn) { <-stop })
	defer close(stop)
	p, _ := startProxy(t, egressConfig(t, up))
	c := dialRoute(t, p, "r")
	defer c.Close()
	chunk := make([]byte, 64<<10)
	var sent int
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	for sent < 512<<20 {
		n, err := c.Write(chunk)
		sent += n
		if err != nil {
			break
		}
	}
	// Loopback socket buffers reach a few MiB each way (two sockets on
	// each side of the proxy); 512 MiB would mean unbounded buffering.
	if sent > 64<<20 {
		t.Fatalf("the proxy took %d MiB from a client whose destination never reads", sent>>20)
	}
	t.Logf("client could write %d KiB before blocking", sent>>10)
}

// TestEngineTrickle: a client sending a byte at a time, each within the
// idle timeout, keeps its connection; the bytes all arrive.
func TestEngineTrickle(t *testing.T) {
	up := startServer(t, echo)
	cfg := egressConfig(t, up)
	cfg.IdleTimeout = 300 * time.Millisecond
	p, _ := startProxy(t, cfg)
	c := dialRoute(t, p, "r")
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < 10; i++ { // 10 × 100 ms: over three idle timeouts
		if _, err := c.Write([]byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != byte('a'+i) {
			t.Fatalf("byte %d: %q, %v", i, b, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Then silent: closed after the idle timeout, counted.
	expectClosed(t, c, 5*time.Second)
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonIdle), 1)
}

// TestEngineSilentClient: a client that connects and says nothing is
// closed after the idle timeout.
func TestEngineSilentClient(t *testing.T) {
	up := startServer(t, echo)
	cfg := egressConfig(t, up)
	cfg.IdleTimeout = 200 * time.Millisecond
	p, _ := startProxy(t, cfg)
	c := dialRoute(t, p, "r")
	defer c.Close()
	start := time.Now()
	expectClosed(t, c, 5*time.Second)
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", el)
	}
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonIdle), 1)
}

// TestEngineStalledWriter: a client that sends but never reads what the
// destination sends back is closed after the idle timeout even while its
// own direction keeps the connection active.
func TestEngineStalledWriter(t *testing.T) {
	up := startServer(t, func(c net.Conn) {
		go func() { _, _ = io.Copy(io.Discard, c) }()
		big := make([]byte, 1<<20)
		for {
			if _, err := c.Write(big); err != nil {
				return
			}
		}
	})
	cfg := egressConfig(t, up)
	cfg.IdleTimeout = 300 * time.Millisecond
	p, _ := startProxy(t, cfg)
	c := dialRoute(t, p, "r")
	defer c.Close()
	done := make(chan struct{})
	go func() { // keep the client's direction active, never read
		defer close(done)
		for {
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a client that never reads kept its connection")
	}
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonIdle), 1)
}

// TestEngineResetMidWrite: a client resetting while the destination
// streams to it ends the connection as a copy error, and the destination's
// socket is closed.
func TestEngineResetMidWrite(t *testing.T) {
	upClosed := make(chan struct{})
	up := startServer(t, func(c net.Conn) {
		defer close(upClosed)
		big := make([]byte, 256<<10)
		for {
			if _, err := c.Write(big); err != nil {
				return
			}
		}
	})
	p, _ := startProxy(t, egressConfig(t, up))
	c := dialRoute(t, p, "r")
	if _, err := io.ReadFull(c, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).SetLinger(0)
	c.Close()
	select {
	case <-upClosed:
	case <-time.After(10 * time.Second):
		t.Fatal("the destination kept streaming after the client reset")
	}
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonCopy), 1)
	waitUntil(t, "the connection ended", func() bool { return p.eng.active() == 0 })
}

// TestEngineAcceptEMFILE: out of descriptors, the engine pauses accepting
// (logged and counted) instead of spinning on the listener, and serves the
// queued connections once descriptors are available again.
func TestEngineAcceptEMFILE(t *testing.T) {
	up := startServer(t, echo)
	// The upstream keeps accepting through EMFILE too (startServer's
	// loop ends at its first accept error).
	ul, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up.l.Close()
	up.l = ul
	go func() {
		for {
			c, err := ul.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			go func() { defer c.Close(); echo(c) }()
		}
	}()
	t.Cleanup(func() { ul.Close() })
	cfg := egressConfig(t, up)
	log, logs := testLogger(t)
	cfg.Logger = log
	p, _ := startProxy(t, cfg)
	c0 := dialRoute(t, p, "r") // warm: the upstream side works
	exchange(t, c0, []byte("warm"))
	c0.Close()
	waitUntil(t, "warm-up connection ended", func() bool { return p.eng.active() == 0 })

	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Skip(err)
	}
	// Client sockets made before the limit is lowered, connected after:
	// the proxy's accept4 then finds no descriptor free.
	addr := p.Addr("r").(*net.TCPAddr)
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for range 3 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	func() {
		lim := unix.Rlimit{Cur: uint64(countFDs(t) + 16), Max: old.Max}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Skip(err)
		}
		defer func() { _ = unix.Setrlimit(unix.RLIMIT_NOFILE, &old) }()
		// The limit bounds descriptor numbers: fill every free one.
		var fill []int
		defer func() {
			for _, fd := range fill {
				unix.Close(fd)
			}
		}()
		for {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				break
			}
			fill = append(fill, fd)
		}
		for _, fd := range fds {
			if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: addr.Port}); err != nil {
				t.Errorf("connect: %v", err)
				return
			}
		}
		var before, after unix.Rusage
		_ = unix.Getrusage(unix.RUSAGE_SELF, &before)
		time.Sleep(300 * time.Millisecond)
		_ = unix.Getrusage(unix.RUSAGE_SELF, &after)
		cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
		if cpu > 150*time.Millisecond {
			t.Errorf("%v of CPU in 300 ms out of descriptors: the accept loop spins", cpu)
		}
	}()
	var clients []net.Conn
	for _, fd := range fds {
		f := os.NewFile(uintptr(fd), "client")
		c, err := net.FileConn(f) // a duplicate
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	fds = nil
	if n := metricValue(p.m.errors.WithLabelValues("r", reasonAccept)); n < 1 || n > 30 {
		t.Errorf("%v accept errors counted in 300 ms (want some, and a backoff between them)", n)
	}
	if !logged(logs, "too many open files") {
		t.Errorf("EMFILE not logged:\n%s", logs.String())
	}
	for _, c := range clients {
		exchange(t, c, []byte("after EMFILE"))
		c.Close()
	}
}

// TestEngineForcedCloseWaiting: at the drain deadline, connections still
// waiting for a slot are closed too, counted as shutdown, and Serve
// returns; also with the connections on different workers.
func TestEngineForcedCloseWaiting(t *testing.T) {
	for _, workers := range []int{0, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) { testEngineForcedCloseWaiting(t, workers) })
	}
}

func testEngineForcedCloseWaiting(t *testing.T, workers int) {
	up := startServer(t, echo)
	cfg := egressConfig(t, up)
	cfg.workers = workers
	cfg.Routes[0].MaxConnections = 1
	cfg.ConnectTimeout = time.Minute
	cfg.ShutdownTimeout = 200 * time.Millisecond
	p, stop := startProxy(t, cfg)
	held := dialRoute(t, p, "r")
	defer held.Close()
	exchange(t, held, []byte("held"))
	waiting := dialRoute(t, p, "r")
	defer waiting.Close()
	waitUntil(t, "a connection waits", func() bool { return p.routes[0].waiting.Load() == 1 })
	start := time.Now()
	stop()
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Serve returned after %v", el)
	}
	expectClosed(t, held, time.Second)
	expectClosed(t, waiting, time.Second)
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonShutdown), 2)
	if w := p.routes[0].waiting.Load(); w != 0 {
		t.Errorf("%d still waiting", w)
	}
}

// TestEngineStaleKey: an event naming a connection that has ended (its
// slot's generation moved on, the slot perhaps reused) is dropped.
func TestEngineStaleKey(t *testing.T) {
	e := &engine{}
	w := &worker{e: e}
	old := &econn{state: stOpen}
	w.insert(old)
	slot, gen := old.slot, old.gen
	w.remove(old)
	reused := &econn{state: stWaitSlot}
	w.insert(reused)
	if reused.slot != slot || reused.gen == gen {
		t.Fatalf("slot %d gen %d reused as slot %d gen %d", slot, gen, reused.slot, reused.gen)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setKey(&ev, connKey(slot, gen, kindClient))
	w.event(&ev) // must not touch the new connection
	if reused.side[kindClient].rd {
		t.Fatal("a stale event reached the connection that reuses the slot")
	}
	setKey(&ev, connKey(reused.slot, reused.gen, kindClient))
	w.event(&ev)
	if !reused.side[kindClient].rd {
		t.Fatal("the current key did not reach its connection")
	}
	setKey(&ev, connKey(99, 0, kindUpstream))
	w.event(&ev) // out of the table: dropped
}

// TestEngineSplice: a bulk transfer between TCP sockets moves through
// pipes (splice), arrives intact both ways, and half-closes as the read
// path does; a destination that stops reading holds the client back.
func TestEngineSplice(t *testing.T) {
	up := startServer(t, func(c net.Conn) {
		h := sha256.New()
		n, _ := io.Copy(h, c) // to the client's FIN
		_, _ = fmt.Fprintf(c, "%d %x", n, h.Sum(nil))
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		for range 16 {
			if _, err := c.Write(big); err != nil {
				return
			}
		}
	})
	p, _ := startProxy(t, egressConfig(t, up))
	spliced := func() (n int64) {
		for _, w := range p.eng.workers {
			n += w.spliced.Load()
		}
		return n
	}
	c := dialRoute(t, p, "r")
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	data := make([]byte, 32<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	sum := sha256.Sum256(data)
	go func() {
		_, _ = c.Write(data)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d %x", len(data), sum)
	if !bytes.HasPrefix(got, []byte(want)) {
		t.Fatalf("upstream saw %q, want %q", got[:min(len(got), 100)], want)
	}
	if rest := got[len(want):]; len(rest) != 16<<20 || !bytes.Equal(rest[:1<<20], bytes.Repeat([]byte("0123456789abcdef"), 1<<16)) {
		t.Fatalf("got %d bytes back after the answer, want 16 MiB of the pattern", len(rest))
	}
	if spliced() < 8<<20 {
		t.Errorf("only %d bytes spliced of 48 MiB", spliced())
	}
	waitMetric(t, p.m.bytes.WithLabelValues("r", "in"), float64(len(data)))
	waitMetric(t, p.m.bytes.WithLabelValues("r", "out"), float64(len(want)+16<<20))
}

// TestEngineAllowedCIDs: on a route with allowed_cids, the engine closes a
// connection from any other vsock context ID (logged and counted, before
// it takes a slot) and serves one from an allowed ID. No vsock loopback
// here: the accepted sockets are socket pairs handed to the worker with
// the peer address accept4 would have given.
func TestEngineAllowedCIDs(t *testing.T) {
	up := startServer(t, echo)
	cfg := egressConfig(t, up)
	log, logs := testLogger(t)
	cfg.Logger = log
	cfg.Routes[0].Listen = "vsock://any:4294967295"
	cfg.Routes[0].AllowedCIDs = []uint32{16}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Listen(); err != nil {
		t.Skipf("AF_VSOCK not available: %v", err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, "serving", func() bool { return p.serving.Load() })
	w := p.eng.workers[0]
	hand := func(cid uint32) net.Conn {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fds[1]), "client")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		d := make(chan struct{})
		w.post(wmsg{kind: msgCall, done: d, fn: func(w *worker) {
			w.admit(0, fds[0], &unix.SockaddrVM{CID: cid, Port: 1234})
		}})
		<-d
		return c
	}
	other := hand(17)
	defer other.Close()
	expectClosed(t, other, 5*time.Second)
	waitMetric(t, p.m.errors.WithLabelValues("r", reasonPeer), 1)
	if n := metricValue(p.m.connections.WithLabelValues("r")); n != 0 {
		t.Errorf("a refused peer counted as a connection: %v", n)
	}
	if !logged(logs, "peer=vsock://17:1234") || !logged(logs, "allowed_cids") {
		t.Errorf("refusal not logged with the peer:\n%s", logs.String())
	}
	allowed := hand(16)
	defer allowed.Close()
	exchange(t, allowed, []byte("from the allowed enclave"))
}

// TestEngineWorkerPanicExits: a panic in a worker, or a failed epoll_wait,
// is logged and ends the process through Config.Fatal (host-proxy: exit
// status 1, a runtime failure; systemd restarts it), rather than leaving
// the proxy up with the worker's connections dead. The panic's line, with
// its stack, is written before Fatal is called, also when the log queue is
// full behind a slow sink ("slow": 300 lines queued, 20 ms a write).
// Without Fatal the panic is re-raised ("nil": the runtime's status 2).
func TestEngineWorkerPanicExits(t *testing.T) {
	if mode := os.Getenv("ENCLAVEKIT_ENGINE_PANIC_CHILD"); mode != "" {
		up := startServer(t, echo)
		cfg := egressConfig(t, up)
		var w io.Writer = os.Stderr
		if mode == "slow" {
			w = &slowStderr{d: 20 * time.Millisecond}
		}
		cfg.Logger = slog.New(slog.NewTextHandler(w, nil))
		if mode != "nil" {
			cfg.Fatal = func(err error) {
				fmt.Fprintf(os.Stderr, "fatal hook: %v\n", err)
				os.Exit(1)
			}
		}
		p, _ := startProxy(t, cfg)
		if mode == "slow" {
			p.alog.q.flushTimeout = 500 * time.Millisecond
			for i := range 300 {
				p.log.Info("filler", "i", i)
			}
		}
		fail := func(*worker) { panic("injected") }
		if mode == "epoll" {
			// epoll_wait on a descriptor that is no epoll instance
			// fails with EINVAL.
			fail = func(w *worker) {
				null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err == nil {
					err = unix.Dup3(null, w.epfd, unix.O_CLOEXEC)
				}
				if err != nil {
					fmt.Fprintf(os.Stderr, "replacing the epoll descriptor: %v\n", err)
					os.Exit(3)
				}
			}
		}
		p.eng.workers[0].post(wmsg{kind: msgCall, done: make(chan struct{}), fn: fail})
		time.Sleep(20 * time.Second)
		t.Fatal("the process survived a worker's panic")
	}
	for _, tc := range []struct {
		mode   string
		status int
		panic  string // the log record's panic attribute
		fatal  string // the error given to Config.Fatal
	}{
		{"1", 1, "panic=injected", "fatal hook: proxy: event worker panicked: injected\n"},
		{"slow", 1, "panic=injected", "fatal hook: proxy: event worker panicked: injected\n"},
		{"epoll", 1, `panic="epoll_wait: invalid argument"`, "fatal hook: proxy: event worker panicked: epoll_wait: invalid argument\n"},
		{"nil", 2, "panic=injected", ""},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEngineWorkerPanicExits$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ENCLAVEKIT_ENGINE_PANIC_CHILD="+tc.mode)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Stdout = &stderr
		err := cmd.Run()
		out := stderr.String()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tc.status {
			t.Errorf("%s: child: %v, want exit status %d\n%s", tc.mode, err, tc.status, out)
			continue
		}
		logAt := strings.Index(out, `msg="event worker panicked: exiting" `+tc.panic+` stack="goroutine `)
		if logAt < 0 {
			t.Errorf("%s: no log line with the panic and its stack:\n%s", tc.mode, out)
		}
		if tc.fatal != "" {
			if at := strings.Index(out, tc.fatal); at < logAt {
				t.Errorf("%s: Config.Fatal not given %q after the log line:\n%s", tc.mode, tc.fatal, out)
			}
		} else if !strings.Contains(out, "panic: injected") {
			t.Errorf("%s: the panic was not re-raised:\n%s", tc.mode, out)
		}
		if strings.Contains(out, "the process survived") {
			t.Errorf("%s: the process survived:\n%s", tc.mode, out)
		}
	}
}

// slowStderr writes to stderr, taking d per write.
type slowStderr struct{ d time.Duration }

func (w *slowStderr) Write(p []byte) (int, error) {
	time.Sleep(w.d)
	return os.Stderr.Write(p)
}

// TestEngineSpliceBurstsWithoutClose: a client that writes a burst and then
// waits for the destination's acknowledgement, without closing, gets it for
// every burst. A splice from a socket into a pipe can return short while the
// socket still holds data (the pipe runs out of slots before bytes), and a
// splice from the pipe into a socket can return short while the socket has
// room; a direction that took a short splice for "drained" or "full" would
// wait for an edge that never comes, with the burst's tail stuck in the
// proxy until the idle timeout.
func TestEngineSpliceBurstsWithoutClose(t *testing.T) {
	const burst = 24 << 20
	const bursts = 4
	up := startServer(t, func(c net.Conn) {
		buf := make([]byte, 256<<10)
		for range bursts {
			// Read late, so that every buffer on the way fills up,
			// the proxy's receive queue included, and the client
			// stops sending: then no new data makes a new edge.
			time.Sleep(300 * time.Millisecond)
			var got int
			for got < burst {
				n, err := c.Read(buf[:min(len(buf), burst-got)])
				if err != nil {
					return
				}
				got += n
			}
			if _, err := c.Write([]byte("ok")); err != nil {
				return
			}
		}
	})
	cfg := egressConfig(t, up)
	// 1 MiB pipes: with them the stall happened at every try before the
	// fix (docs/PERFORMANCE.md); with 256 KiB ones it was not seen.
	cfg.pipeSize = 1 << 20
	p, _ := startProxy(t, cfg)
	c := dialRoute(t, p, "r")
	defer c.Close()
	data := make([]byte, burst)
	for i := range data {
		data[i] = byte(i * 13)
	}
	ack := make([]byte, 2)
	for i := range bursts {
		// Far below the route's idle timeout, far above a loaded machine's
		// time for 24 MiB on loopback.
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write(data); err != nil {
			t.Fatalf("burst %d: write: %v", i, err)
		}
		if _, err := io.ReadFull(c, ack); err != nil {
			t.Fatalf("burst %d: no acknowledgement (the burst's tail is stuck in the proxy): %v", i, err)
		}
	}
	var spliced int64
	for _, w := range p.eng.workers {
		spliced += w.spliced.Load()
	}
	if spliced < burst {
		t.Errorf("only %d bytes spliced of %d: the test did not exercise splice", spliced, burst*bursts)
	}
}
