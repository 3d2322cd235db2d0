// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/vsock"
	"golang.org/x/sys/unix"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// engineSupported: routes are served by the event engine (see doc.go, Data
// path) unless Config.goroutines asks for the goroutine path.
const engineSupported = true

// Keys of epoll events: the low two bits say what the event is about, the
// rest name it. A connection's sockets are named by the slot of the
// connection in its worker's table and the slot's generation (the high 32
// bits), so that an event for a connection that has ended, or whose
// descriptor number was reused, is recognised and dropped.
const (
	kindClient   = 0 // the accepted socket of a connection
	kindUpstream = 1 // its destination socket
	kindListener = 2 // a route's listening socket (index in engine.ls)
	kindWake     = 3 // the worker's eventfd (messages in its inbox)
)

func connKey(slot, gen uint32, kind int) uint64 {
	return uint64(gen)<<32 | uint64(slot)<<2 | uint64(kind)
}

// Connection states.
const (
	stWaitSlot   = iota + 1 // no free slot of the route: in its wait queue
	stResolving             // a goroutine resolves and dials (a name to look up)
	stConnecting            // non-blocking connect in flight
	stOpen                  // both sockets open: bytes are copied
	stClosed
)

// Wait states (guarded by eroute.mu).
const (
	waitNone = iota
	waitQueued
	waitGranted // a released slot was handed to this connection
)

// Sizes: each worker reads into one scratch buffer; a direction whose
// write was partial keeps the rest in a pooled buffer of the smallest class
// that holds it, and reads no more until it is written.
const (
	scratchSize = 256 << 10
	pumpBudget  = 16 // reads per direction per wake-up before yielding
)

var (
	pendPools = [...]struct {
		size int
		pool sync.Pool
	}{{size: 4 << 10}, {size: 64 << 10}, {size: scratchSize}}
)

func getPend(n int) *[]byte {
	for i := range pendPools {
		pp := &pendPools[i]
		if n <= pp.size {
			if b, ok := pp.pool.Get().(*[]byte); ok {
				return b
			}
			b := make([]byte, pp.size)
			return &b
		}
	}
	b := make([]byte, n)
	return &b
}

func putPend(b *[]byte) {
	for i := range pendPools {
		if len(*b) == pendPools[i].size {
			pendPools[i].pool.Put(b)
			return
		}
	}
}

// engine serves the routes: engineWorkers workers, each a goroutine locked
// to its thread and waiting in its own epoll set. The first worker accepts
// on every route's listening socket and keeps each connection or hands it
// to the least loaded worker (admit, pick); each worker copies the
// connections it was given.
type engine struct {
	p       *Proxy
	ls      []*elistener
	workers []*worker
	sweep   time.Duration
	spare   bool           // GOMAXPROCS leaves a P besides the workers'
	pipe    int            // the size asked for each splice pipe
	count   atomic.Int64   // connections in the engine
	wg      sync.WaitGroup // workers
	dialers sync.WaitGroup // goroutines resolving a name
}

// eroute is the engine's state of a route.
type eroute struct {
	allowed map[uint32]bool // allowed_cids; nil: any peer
	fixed   []netip.Addr    // egress to an IP address
	dest    unix.Sockaddr   // ingress to an address needing no resolution; nil: resolve
	destNet string          // "tcp", "unix" or "vsock" (errors)
	tcp     bool            // dest is TCP: set TCP_NODELAY

	mu sync.Mutex // the route's slots (r.sem) and wait queue
	q  []*econn
}

// elistener is a route's listening socket.
type elistener struct {
	r  *route
	fd int
}

// worker is one event loop.
type worker struct {
	e    *engine
	epfd int
	evfd int

	conns   []*econn // by slot
	gens    []uint32
	free    []uint32
	ready   []*econn     // connections with more to copy (their budget ran out)
	pipes   []*epipe     // free, empty
	npipes  atomic.Int32 // pipes of the worker's, free or in use
	spliced atomic.Int64 // bytes moved through pipes (tests)
	load    atomic.Int32 // connections the worker serves or was handed
	adopted atomic.Int64 // connections handed to it by the accepting worker

	scratch []byte
	now     time.Time
	next    time.Time // next sweep
	lst     []lstate  // per listener
	paused  int       // listeners paused after an accept error
	stopped bool

	mu       sync.Mutex
	inbox    []wmsg
	signaled bool
	closed   bool // the worker has ended: post refuses
}

// lstate is a worker's view of a listener: paused after EMFILE and the like.
type lstate struct {
	off      bool // removed from the epoll set (paused or stopped)
	stopped  bool
	resumeAt time.Time
	backoff  time.Duration
}

// Messages to a worker.
const (
	msgGrant  = iota + 1 // c was handed a slot
	msgDialed            // c's destination, dialled by a goroutine: fd or err
	msgStopAccept
	msgForceClose
	msgStop
	msgCall  // run fn on the worker (tests)
	msgAdopt // serve an accepted connection (fd, sa, listener l)
)

type wmsg struct {
	kind   int
	c      *econn
	fd     int
	reason string
	err    error
	done   chan struct{}
	fn     func(*worker)
	sa     unix.Sockaddr
	l      int
}

type eside struct {
	fd     int // -1: none
	rd, wr bool
	hup    bool // the peer has closed or reset: read until EOF or error
}

type edir struct {
	buf       *[]byte // pending bytes: buf[off:end]
	off, end  int
	pipe      *epipe // splicing: inPipe bytes are in the pipe
	inPipe    int
	leave     bool      // return the pipe once it is empty
	stall     time.Time // when the pending bytes were last stuck
	done      bool
	shutAfter bool // the source ended: half-close the destination once buf is written
	err       error
}

// econn is one connection in the engine.
type econn struct {
	conn
	w         *worker
	er        *eroute
	slot, gen uint32
	state     uint8
	waitState uint8 // eroute.mu
	holdsSlot bool
	posted    bool
	splice    bool // neither socket is AF_VSOCK
	sa        unix.Sockaddr
	side      [2]eside // kindClient, kindUpstream
	dirs      [2]edir  // dirIn, dirOut
	deadline  time.Time
	addrs     []netip.Addr
	next      int
	errs      []error
	cancel    context.CancelFunc

	lastActive time.Time
	graceUntil time.Time
	outq       [2]int32  // the sockets' send queues (SIOCOUTQ) at outqAt; -1 unknown
	outqAt     time.Time // when sweep sampled them (sendQueuesMoved)
	in, out    int64
	inF, outF  int64 // counted in the metrics
}

// sockaddrSrcKey is the key of a client for the per-source limit; false
// for unix sockets.
func sockaddrSrcKey(sa unix.Sockaddr) (srcKey, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return ipSrcKey(netip.AddrFrom4(a.Addr)), true
	case *unix.SockaddrInet6:
		return ipSrcKey(netip.AddrFrom16(a.Addr)), true
	case *unix.SockaddrVM:
		return cidSrcKey(a.CID), true
	}
	return srcKey{}, false
}

// RemoteAddr is the client's address, for logs.
func (c *econn) RemoteAddr() net.Addr { return sockaddrToNet(c.sa) }

func sockaddrToNet(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	case *unix.SockaddrVM:
		return &vsock.Addr{ContextID: a.CID, Port: a.Port}
	}
	return nil
}

// fdListener is what Proxy.Listen keeps for a route served by the engine:
// the listening socket, outside Go's netpoller (so that a new connection
// wakes one worker and nothing else), its address and its close.
type fdListener struct {
	fd     int
	addr   net.Addr
	unlink string
	once   sync.Once
}

var errEngineAccept = errors.New("proxy: the event engine accepts on this listener")

func (l *fdListener) Accept() (net.Conn, error) { return nil, errEngineAccept }
func (l *fdListener) Addr() net.Addr            { return l.addr }
func (l *fdListener) Close() error {
	l.once.Do(func() {
		unix.Close(l.fd)
		if l.unlink != "" {
			_ = os.Remove(l.unlink)
		}
	})
	return nil
}

// listenEngine binds a for the engine: TCP and unix through
// transport.Listen (the same semantics), whose socket is then taken out of
// Go's netpoller; vsock directly (the vsock package gives no descriptor).
func listenEngine(a transport.Addr) (net.Listener, error) {
	if a.Network == transport.NetworkVsock {
		return listenVsockFD(a.CID, a.Port)
	}
	l, err := transport.Listen(a)
	if err != nil {
		return nil, err
	}
	sc, ok := l.(syscall.Conn)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("listener %T has no descriptor", l)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		l.Close()
		return nil, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		l.Close()
		return nil, errors.Join(err, derr)
	}
	fl := &fdListener{fd: fd, addr: l.Addr()}
	if ul, ok := l.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
		fl.unlink = a.Address
	}
	l.Close() // the socket stays open through fd
	if err := unix.SetNonblock(fd, true); err != nil {
		fl.Close()
		return nil, err
	}
	if a.Network == transport.NetworkTCP {
		// Accepted sockets inherit it: one setsockopt per route, not per
		// connection.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	return fl, nil
}

func listenVsockFD(cid, port uint32) (net.Listener, error) {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrVM{CID: cid, Port: port}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(fd, 4096); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("listen", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	return &fdListener{fd: fd, addr: sockaddrToNet(sa)}, nil
}

// newEngine prepares the routes' engine state and starts the workers.
func newEngine(p *Proxy, ls map[string]net.Listener) (*engine, error) {
	e := &engine{p: p, sweep: engineSweep(p), pipe: pipeSize}
	if p.cfg.pipeSize > 0 {
		e.pipe = p.cfg.pipeSize
	}
	for _, r := range p.routes {
		fl, ok := ls[r.Name].(*fdListener)
		if !ok {
			return nil, fmt.Errorf("proxy: route %s: no engine listener", r.Name)
		}
		er := &eroute{}
		if len(r.AllowedCIDs) > 0 {
			er.allowed = map[uint32]bool{}
			for _, c := range r.AllowedCIDs {
				er.allowed[c] = true
			}
		}
		if r.Direction == Egress {
			er.destNet, er.tcp = "tcp", true
			if r.destIP.IsValid() {
				er.fixed = []netip.Addr{r.destIP.Unmap()}
			}
		} else {
			er.destNet = r.dest.Network
			switch r.dest.Network {
			case transport.NetworkVsock:
				er.dest = &unix.SockaddrVM{CID: r.dest.CID, Port: r.dest.Port}
			case transport.NetworkUnix:
				er.dest = &unix.SockaddrUnix{Name: r.dest.Address}
			case transport.NetworkTCP:
				if ap, err := netip.ParseAddrPort(r.dest.Address); err == nil {
					er.dest, er.tcp = ipSockaddr(ap.Addr().Unmap(), int(ap.Port())), true
				}
			}
		}
		r.e = er
		e.ls = append(e.ls, &elistener{r: r, fd: fl.fd})
	}
	procs := runtime.GOMAXPROCS(0)
	nw := engineWorkers(procs)
	if p.cfg.workers > 0 {
		nw = p.cfg.workers
	}
	e.spare = nw < procs
	for range nw {
		w, err := e.newWorker()
		if err != nil {
			for _, w := range e.workers {
				w.close()
			}
			return nil, err
		}
		e.workers = append(e.workers, w)
	}
	for _, w := range e.workers {
		e.wg.Add(1)
		go w.run()
	}
	return e, nil
}

// engineWorkers is the number of workers for procs Ps: one fewer, at
// least one. A worker blocked in epoll_wait is in a system call, and while
// no P is idle the runtime's monitor takes the P of a thread in a system
// call after 20 µs and wakes another thread to poll the network, two
// context switches for every wait (measured: 5.8 per connection against
// 3.8, and 40-60% more CPU per connection on two cores); a spare P avoids
// that, and keeps one for the runtime's own goroutines (the garbage
// collector, timers, name resolution, the admin endpoint).
func engineWorkers(procs int) int { return max(1, procs-1) }

// hotWait (ms) bounds a busy worker's wait outside the runtime's
// bookkeeping: a worker that waits that long with nothing to do waits
// again as a system call, so an idle proxy is not preempted every 10 ms.
const hotWait = 5

// rawEpollWait is epoll_wait(2) without the runtime's system-call
// bookkeeping: the P stays with the worker while it waits (a signal, e.g.
// the runtime's preemption, ends the wait with EINTR).
func rawEpollWait(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_WAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(msec), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// engineSweep is how often a worker checks its connections' deadlines: an
// eighth of the shortest idle, connect or half-close timeout, within
// [10ms, 1s].
func engineSweep(p *Proxy) time.Duration {
	period := time.Second
	if g := p.cfg.HalfCloseGrace; g > 0 {
		period = min(period, g/8)
	}
	for _, r := range p.routes {
		if r.idleTimeout > 0 {
			period = min(period, r.idleTimeout/8)
		}
		if r.connectTimeout > 0 {
			period = min(period, r.connectTimeout/8)
		}
	}
	return max(period, 10*time.Millisecond)
}

func ipSockaddr(a netip.Addr, port int) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4(), Port: port}
	}
	return &unix.SockaddrInet6{Addr: a.As16(), Port: port}
}

func (e *engine) newWorker() (*worker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	w := &worker{e: e, epfd: epfd, evfd: evfd, scratch: make([]byte, scratchSize), lst: make([]lstate, len(e.ls))}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setKey(&ev, kindWake)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		w.close()
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	for i, l := range e.ls {
		if len(e.workers) > 0 {
			// Worker 0 accepts; admit hands connections on.
			w.lst[i] = lstate{off: true, stopped: true}
			continue
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE}
		setKey(&ev, uint64(i)<<2|kindListener)
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, l.fd, &ev); err != nil {
			w.close()
			return nil, os.NewSyscallError("epoll_ctl", err)
		}
	}
	return w, nil
}

func (w *worker) close() {
	for _, p := range w.pipes {
		sysClose(p.r)
		sysClose(p.w)
	}
	w.pipes = nil
	unix.Close(w.epfd)
	unix.Close(w.evfd)
}

// post queues m for the worker and wakes it; false when the worker has
// ended (m is not handled).
func (w *worker) post(m wmsg) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.inbox = append(w.inbox, m)
	wake := !w.signaled
	w.signaled = true
	w.mu.Unlock()
	if wake {
		var one = [8]byte{1}
		_, _ = unix.Write(w.evfd, one[:])
	}
	return true
}

// shut refuses further messages and settles those still queued: a worker
// that has ended closes the descriptors it was handed and releases what
// they held, so nothing leaks and nobody waits for it.
func (w *worker) shut() {
	w.mu.Lock()
	w.closed = true
	msgs := w.inbox
	w.inbox = nil
	w.mu.Unlock()
	for _, m := range msgs {
		w.refuse(m)
	}
}

// refuse settles a message the worker will not handle.
func (w *worker) refuse(m wmsg) {
	switch m.kind {
	case msgAdopt:
		w.e.unadmit(w, m.fd)
	case msgDialed:
		if m.fd >= 0 {
			unix.Close(m.fd)
		}
	}
	if m.done != nil {
		close(m.done)
	}
}

// each posts a message to every worker and waits until all have handled it.
func (e *engine) each(kind int) {
	var dones []chan struct{}
	for _, w := range e.workers {
		d := make(chan struct{})
		if w.post(wmsg{kind: kind, done: d}) {
			dones = append(dones, d)
		}
	}
	for _, d := range dones {
		<-d
	}
}

// stopAccepting takes every listener out of every worker; the listeners
// can be closed once it returns.
func (e *engine) stopAccepting() { e.each(msgStopAccept) }

// forceClose closes every connection (the drain deadline); it returns how
// many there were.
func (e *engine) forceClose() int {
	n := int(e.count.Load())
	e.each(msgForceClose)
	return n
}

// active is the number of connections in the engine.
func (e *engine) active() int { return int(e.count.Load()) }

// stop ends the workers once no connection is left.
func (e *engine) stop() {
	e.dialers.Wait()
	for _, w := range e.workers {
		w.post(wmsg{kind: msgStop})
	}
	e.wg.Wait()
}

// run is the worker's loop. A panic (a failed epoll_wait included) is
// logged with its stack and ends the process through Config.Fatal
// (host-proxy exits 1; systemd restarts it), or, without Fatal, by being
// re-raised: a worker holds many connections and the engine cannot run
// without it.
func (w *worker) run() {
	runtime.LockOSThread()
	defer w.e.wg.Done()
	defer func() {
		if v := recover(); v != nil {
			// Written (or given LogFlushTimeout) before the process ends.
			w.e.p.logFatal("event worker panicked: exiting", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if fatal := w.e.p.cfg.Fatal; fatal != nil {
				fatal(fmt.Errorf("proxy: event worker panicked: %v", v))
			}
			panic(v) // no Fatal, or it returned
		}
	}()
	defer w.close()
	defer w.shut()
	events := make([]unix.EpollEvent, 256)
	w.now = time.Now()
	w.next = w.now.Add(w.e.sweep)
	hot := false
	for !w.stopped {
		var n int
		var err error
		if hot && w.e.spare {
			// Busy: wait without the runtime's system-call bookkeeping
			// (the worker keeps its P; a spare P serves the rest of the
			// process), at most hotWait, below the 10 ms after which
			// the runtime preempts a goroutine it thinks is running.
			wait := min(w.timeout(), hotWait)
			n, err = rawEpollWait(w.epfd, events, wait)
			hot = n > 0 || err != nil || wait == 0 // still busy: the ready list is not empty
		} else {
			n, err = unix.EpollWait(w.epfd, events, w.timeout())
			hot = n > 0
		}
		w.now = time.Now()
		if err != nil && err != unix.EINTR {
			panic(fmt.Sprintf("epoll_wait: %v", err))
		}
		for i := 0; i < n; i++ {
			w.event(&events[i])
		}
		w.runReady()
		if w.paused > 0 {
			w.resume()
		}
		if !w.now.Before(w.next) {
			w.sweep()
			w.next = w.now.Add(w.e.sweep)
		}
	}
}

// timeout is epoll_wait's: until the next sweep or listener resume, 0 when
// connections are waiting in the ready list.
func (w *worker) timeout() int {
	if len(w.ready) > 0 {
		return 0
	}
	until := w.next
	for i := range w.lst {
		if ls := &w.lst[i]; ls.off && !ls.stopped && ls.resumeAt.Before(until) {
			until = ls.resumeAt
		}
	}
	d := time.Until(until)
	if d <= 0 {
		return 0
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

func (w *worker) event(ev *unix.EpollEvent) {
	key := getKey(ev)
	switch kind := int(key & 3); kind {
	case kindListener:
		w.accept(int(uint32(key) >> 2))
	case kindWake:
		var b [8]byte
		_, _ = unix.Read(w.evfd, b[:])
		w.drainInbox()
	default:
		slot, gen := uint32(key)>>2, uint32(key>>32)
		if int(slot) >= len(w.conns) || w.gens[slot] != gen || w.conns[slot] == nil {
			return // stale: the connection has ended
		}
		c := w.conns[slot]
		s := &c.side[kind]
		m := ev.Events
		if m&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			s.rd = true
		}
		if m&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			s.hup = true
		}
		if m&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			s.wr = true
		}
		if kind == kindClient && c.state != stOpen && w.clientGone(c, m) {
			return
		}
		switch c.state {
		case stConnecting:
			switch {
			case kind != kindUpstream:
			case m&(unix.EPOLLHUP|unix.EPOLLERR) != 0:
				w.connected(c) // failed (SO_ERROR says why), or a spurious wake-up
			case m&unix.EPOLLOUT != 0:
				// A connecting socket turns writable only once established
				// (a failure raises EPOLLERR): no getsockopt(SO_ERROR).
				w.open(c)
			}
		case stOpen:
			w.pump(c)
		}
	}
}

// clientGone drops a connection not yet proxied (waiting for a slot,
// resolving or connecting) whose client has gone: reset (EPOLLHUP or
// EPOLLERR), or closed without sending anything (EPOLLRDHUP with nothing
// to read). It would otherwise keep its wait place or slot until the
// connect timeout and still be dialled. A client that sent its request
// and then half-closed is served.
func (w *worker) clientGone(c *econn, m uint32) bool {
	fd := c.side[kindClient].fd
	switch {
	case m&(unix.EPOLLHUP|unix.EPOLLERR) != 0:
		err := error(unix.ECONNRESET)
		if soerr, gerr := sysGetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); gerr == nil && soerr != 0 {
			err = syscall.Errno(soerr)
		}
		w.failEarly(c, reasonCopy, "connection closed: the client went away before it was proxied",
			"error", os.NewSyscallError("read", err))
		return true
	case m&unix.EPOLLRDHUP != 0:
		var b [1]byte
		n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if n != 0 || err != nil {
			return false // bytes to relay (or nothing to decide on yet)
		}
		w.failEarly(c, reasonCopy, "connection closed: the client went away before it was proxied",
			"error", io.EOF)
		return true
	}
	return false
}

func (w *worker) drainInbox() {
	w.mu.Lock()
	msgs := w.inbox
	w.inbox = nil
	w.signaled = false
	w.mu.Unlock()
	for _, m := range msgs {
		switch m.kind {
		case msgGrant:
			c := m.c
			if c.state == stWaitSlot {
				c.holdsSlot = true
				c.waitState = waitNone
				w.dial(c)
			}
		case msgDialed:
			w.dialed(m)
		case msgStopAccept:
			for i := range w.lst {
				ls := &w.lst[i]
				if !ls.off {
					_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, w.e.ls[i].fd, nil)
				} else if !ls.stopped {
					w.paused--
				}
				ls.off, ls.stopped = true, true
			}
			close(m.done)
		case msgForceClose:
			for _, c := range w.conns {
				if c != nil {
					w.forceClose(c)
				}
			}
			close(m.done)
		case msgCall:
			m.fn(w)
			close(m.done)
		case msgAdopt:
			if w.stopped {
				w.refuse(m)
				continue
			}
			w.adopted.Add(1)
			w.newConn(w.e.ls[m.l].r, m.fd, m.sa)
		case msgStop:
			for _, c := range w.conns {
				if c != nil {
					w.forceClose(c)
				}
			}
			w.stopped = true
		}
	}
}

// accept takes a connection from listener i: one per event, as nginx does
// by default (the listener is level-triggered, so a backlog wakes the
// worker again at once, between other connections' events), which spares
// the accept4 that would only say EAGAIN.
func (w *worker) accept(i int) {
	ls := &w.lst[i]
	if ls.off {
		return
	}
	l := w.e.ls[i]
	for {
		fd, sa, err := sysAccept4(l.fd)
		switch err {
		case nil:
		case unix.EAGAIN:
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue
		default:
			// EMFILE, ENFILE, ENOBUFS...: the connection stays queued, so
			// the listener would wake the worker at once again. Pause it.
			ls.backoff = min(max(2*ls.backoff, 5*time.Millisecond), time.Second)
			ls.resumeAt = w.now.Add(ls.backoff)
			ls.off = true
			w.paused++
			_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, l.fd, nil)
			w.e.p.m.errors.WithLabelValues(l.r.Name, reasonAccept).Inc()
			w.e.p.log.Warn("accept failed", "route", l.r.Name, "error", os.NewSyscallError("accept4", err),
				"retry_in", ls.backoff.String())
			return
		}
		ls.backoff = 0
		w.admit(i, fd, sa)
		return
	}
}

// resume puts paused listeners back.
func (w *worker) resume() {
	for i := range w.lst {
		ls := &w.lst[i]
		if !ls.off || ls.stopped || w.now.Before(ls.resumeAt) {
			continue
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE}
		setKey(&ev, uint64(i)<<2|kindListener)
		if unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, w.e.ls[i].fd, &ev) == nil {
			ls.off = false
			w.paused--
		}
	}
}

// admit takes a connection accepted from listener i: the peer check, then
// the worker that serves it (pick).
func (w *worker) admit(i int, fd int, sa unix.Sockaddr) {
	r := w.e.ls[i].r
	if er := r.e; er.allowed != nil {
		if vm, ok := sa.(*unix.SockaddrVM); !ok || !er.allowed[vm.CID] {
			w.e.p.peerRefused(r.Name)(sockaddrToNet(sa))
			sysClose(fd)
			return
		}
	}
	w.give(w.e.pick(w), i, fd, sa)
}

// give has worker t serve a connection that w accepted from listener i:
// w itself, or t through its inbox (w serves it when t has ended). The
// connection counts from here, so the drain waits for it, and t's load
// counts it at once, so the next pick sees it.
func (w *worker) give(t *worker, i int, fd int, sa unix.Sockaddr) {
	w.e.p.wg.Add(1)
	w.e.count.Add(1)
	t.load.Add(1)
	if t != w {
		if t.post(wmsg{kind: msgAdopt, fd: fd, sa: sa, l: i}) {
			return
		}
		t.load.Add(-1)
		w.load.Add(1)
	}
	w.newConn(w.e.ls[i].r, fd, sa)
}

// unadmit closes a connection given to t that t will not serve (t has
// ended) and undoes what give counted.
func (e *engine) unadmit(t *worker, fd int) {
	sysClose(fd)
	t.load.Add(-1)
	e.count.Add(-1)
	e.p.wg.Done()
}

// balanceSlack is how many more connections than the least loaded worker
// the accepting worker keeps before it hands a new one on. A slack of 0
// would hand off every other connection at concurrency 1 (the previous
// connection's close is often not yet handled when the next is
// accepted), and a hand-off costs a wake-up of the other worker; 2 keeps
// concurrency 1 on the accepting worker and 64 connections within 33/31.
const balanceSlack = 2

// pick chooses the worker for a connection w accepted: w, unless another
// worker serves more than balanceSlack connections fewer (then the least
// loaded one).
func (e *engine) pick(w *worker) *worker {
	own := w.load.Load()
	best, bl := w, own
	for _, o := range e.workers {
		if l := o.load.Load(); l < bl {
			best, bl = o, l
		}
	}
	if bl+balanceSlack >= own {
		return w
	}
	return best
}

// newConn starts a connection admitted to w: its route's slot, then the
// destination (the goroutine path's order, logs and metrics).
func (w *worker) newConn(r *route, fd int, sa unix.Sockaddr) {
	p, er := w.e.p, r.e
	c := &econn{w: w, er: er, sa: sa, state: stWaitSlot}
	c.conn = conn{p: p, r: r, start: w.now, peer: c}
	c.side[kindClient].fd, c.side[kindUpstream].fd = fd, -1
	c.deadline = w.now.Add(r.connectTimeout)
	switch sa.(type) {
	case *unix.SockaddrInet4, *unix.SockaddrInet6:
		_ = sysSetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_OOBINLINE, 1) // see urgentInline
	}
	r.mConns.Inc()
	r.mActive.Inc()
	w.insert(c)
	if err := w.register(fd, c, kindClient); err != nil {
		w.failEarly(c, reasonCopy, "connection closed: registering the socket failed", "error", err)
		return
	}
	if w.acquire(c) {
		w.dial(c)
	}
}

func (w *worker) insert(c *econn) {
	var i uint32
	if n := len(w.free); n > 0 {
		i = w.free[n-1]
		w.free = w.free[:n-1]
	} else {
		i = uint32(len(w.conns))
		w.conns = append(w.conns, nil)
		w.gens = append(w.gens, 0)
	}
	w.conns[i] = c
	c.slot, c.gen = i, w.gens[i]
}

func (w *worker) remove(c *econn) {
	w.load.Add(-1)
	w.conns[c.slot] = nil
	w.gens[c.slot]++
	w.free = append(w.free, c.slot)
}

// register adds fd to the epoll set, edge-triggered for reading and
// writing: no epoll_ctl is needed again for the life of the socket.
func (w *worker) register(fd int, c *econn, kind int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET}
	setKey(&ev, connKey(c.slot, c.gen, kind))
	if err := sysEpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// acquire takes a slot of the route, or queues c for one (false).
func (w *worker) acquire(c *econn) bool {
	r, er := c.r, c.er
	er.mu.Lock()
	if r.src != nil {
		if c.src, c.srcHeld = sockaddrSrcKey(c.sa); c.srcHeld && !r.src.take(c.src) {
			c.srcHeld = false
			er.mu.Unlock()
			c.refuseSource()
			w.drop(c)
			return false
		}
	}
	select {
	case r.sem <- struct{}{}:
		er.mu.Unlock()
		c.holdsSlot = true
		return true
	default:
	}
	if r.waiting.Add(1) > int64(cap(r.sem)) {
		r.waiting.Add(-1)
		if c.srcHeld {
			c.srcHeld = false
			r.src.put(c.src)
		}
		er.mu.Unlock()
		w.failEarly(c, reasonLimit, "connection refused: concurrency limit reached and too many waiting",
			"max_connections", cap(r.sem))
		return false
	}
	c.waitState = waitQueued
	er.q = append(er.q, c)
	er.mu.Unlock()
	return false
}

// unqueue takes c out of its route's wait queue; false when a slot has been
// handed to it already (c then holds it).
func (c *econn) unqueue() bool {
	er := c.er
	er.mu.Lock()
	defer er.mu.Unlock()
	switch c.waitState {
	case waitQueued:
		for i, q := range er.q {
			if q == c {
				er.q = append(er.q[:i], er.q[i+1:]...)
				break
			}
		}
		c.r.waiting.Add(-1)
		c.waitState = waitNone
		return true
	case waitGranted:
		c.holdsSlot = true
		c.waitState = waitNone
		return false
	}
	return true
}

// releaseSlot gives c's slot to the first connection waiting for one, or
// back to the route.
func (c *econn) releaseSlot() {
	if !c.holdsSlot {
		if c.srcHeld { // ended while waiting
			c.srcHeld = false
			c.er.mu.Lock()
			c.r.src.put(c.src)
			c.er.mu.Unlock()
		}
		return
	}
	c.holdsSlot = false
	r, er := c.r, c.er
	er.mu.Lock()
	if c.srcHeld {
		c.srcHeld = false
		r.src.put(c.src)
	}
	if len(er.q) > 0 {
		wc := er.q[0]
		er.q[0] = nil
		er.q = er.q[1:]
		wc.waitState = waitGranted
		r.waiting.Add(-1)
		er.mu.Unlock()
		wc.w.post(wmsg{kind: msgGrant, c: wc})
		return
	}
	<-r.sem
	er.mu.Unlock()
}

// dial starts connecting c to its destination: from the loop when no name
// must be resolved (or the route's answer is current), else on a goroutine.
func (w *worker) dial(c *econn) {
	r, er := c.r, c.er
	switch {
	case er.fixed != nil:
		c.addrs = er.fixed
	case er.dest != nil:
	case r.Direction == Egress && r.dns != nil:
		got := r.dns.fresh()
		if got == nil {
			w.dialSlow(c)
			return
		}
		addrs, err := w.e.p.allowedAddrs(r, got, c.log)
		if err != nil {
			w.failEarly(c, reasonNotAllowed, "destination unavailable: closing connection", "destination", r.dest.String(), "error", err)
			return
		}
		c.addrs = addrs
	default:
		w.dialSlow(c)
		return
	}
	c.state = stConnecting
	w.connectNext(c)
}

// dialSlow resolves and dials on a goroutine (the goroutine path's dial,
// with its checks and logs) and hands the socket back to the worker.
func (w *worker) dialSlow(c *econn) {
	c.state = stResolving
	c.log() // built here: the goroutine and the worker both log
	ctx, cancel := context.WithDeadline(context.Background(), c.deadline)
	c.cancel = cancel
	p := w.e.p
	w.e.dialers.Add(1)
	go func() {
		defer w.e.dialers.Done()
		defer cancel()
		up, reason, err := p.dial(ctx, c.r, c.log)
		fd := -1
		if err == nil {
			fd, err = takeFD(up)
			if err != nil {
				reason = reasonDial
			}
		}
		if !w.post(wmsg{kind: msgDialed, c: c, fd: fd, reason: reason, err: err}) && fd >= 0 {
			unix.Close(fd) // the worker has ended (it closed c)
		}
	}()
}

// takeFD returns a non-blocking duplicate of c's descriptor and closes c.
func takeFD(c net.Conn) (int, error) {
	defer c.Close()
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("connection %T has no descriptor", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, os.NewSyscallError("fcntl", derr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (w *worker) dialed(m wmsg) {
	c := m.c
	if c.state != stResolving {
		if m.fd >= 0 {
			unix.Close(m.fd)
		}
		return
	}
	c.cancel = nil
	if m.err != nil {
		w.failEarly(c, m.reason, "destination unavailable: closing connection", "destination", c.r.dest.String(), "error", m.err)
		return
	}
	c.side[kindUpstream] = eside{fd: m.fd}
	if err := w.register(m.fd, c, kindUpstream); err != nil {
		w.failEarly(c, reasonDial, "destination unavailable: closing connection", "destination", c.r.dest.String(), "error", err)
		return
	}
	w.open(c)
}

// connectNext tries the next address (c.addrs, or the route's fixed
// destination), until one connects or is in progress.
func (w *worker) connectNext(c *econn) {
	er := c.er
	for {
		var sa unix.Sockaddr
		tcp := er.tcp
		if c.addrs != nil {
			if c.next >= len(c.addrs) {
				w.dialFailed(c)
				return
			}
			sa = ipSockaddr(c.addrs[c.next], c.r.destPort)
			tcp = true
		} else {
			if c.next > 0 {
				w.dialFailed(c)
				return
			}
			sa = copySockaddr(er.dest) // unix.Connect writes into it: one per call
		}
		c.next++
		family := unix.AF_INET
		switch sa.(type) {
		case *unix.SockaddrInet6:
			family = unix.AF_INET6
		case *unix.SockaddrUnix:
			family = unix.AF_UNIX
		case *unix.SockaddrVM:
			family = unix.AF_VSOCK
		}
		fd, err := sysSocket(family)
		if err != nil {
			c.errs = append(c.errs, c.dialError(sa, os.NewSyscallError("socket", err)))
			continue
		}
		if tcp {
			_ = sysSetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			_ = sysSetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_OOBINLINE, 1) // see urgentInline
		}
		err = sysConnect(fd, sa)
		switch err {
		case nil, unix.EINPROGRESS, unix.EINTR:
		default:
			sysClose(fd)
			c.errs = append(c.errs, c.dialError(sa, os.NewSyscallError("connect", err)))
			continue
		}
		c.side[kindUpstream] = eside{fd: fd}
		if rerr := w.register(fd, c, kindUpstream); rerr != nil {
			sysClose(fd)
			c.side[kindUpstream].fd = -1
			c.errs = append(c.errs, rerr)
			continue
		}
		if err == nil {
			w.open(c)
		}
		return // EPOLLOUT says when it is connected
	}
}

// copySockaddr returns a copy of a route's destination address.
func copySockaddr(sa unix.Sockaddr) unix.Sockaddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &unix.SockaddrInet4{Addr: a.Addr, Port: a.Port}
	case *unix.SockaddrInet6:
		return &unix.SockaddrInet6{Addr: a.Addr, Port: a.Port, ZoneId: a.ZoneId}
	case *unix.SockaddrUnix:
		return &unix.SockaddrUnix{Name: a.Name}
	case *unix.SockaddrVM:
		return &unix.SockaddrVM{CID: a.CID, Port: a.Port, Flags: a.Flags}
	}
	return sa
}

// dialError is the error the goroutine path's dial would report.
func (c *econn) dialError(sa unix.Sockaddr, err error) error {
	network := c.er.destNet
	if c.addrs != nil {
		network = "tcp"
	}
	return &net.OpError{Op: "dial", Net: network, Addr: sockaddrToNet(sa), Err: err}
}

// connected handles the destination socket turning writable (or failing)
// while connecting.
func (w *worker) connected(c *econn) {
	up := &c.side[kindUpstream]
	soerr, err := sysGetsockoptInt(up.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soerr == 0 {
		w.open(c)
		return
	}
	if err == nil {
		err = syscall.Errno(soerr)
	}
	sa, _ := unix.Getpeername(up.fd)
	if sa == nil {
		sa = c.lastSockaddr()
	}
	c.errs = append(c.errs, c.dialError(sa, os.NewSyscallError("connect", err)))
	sysClose(up.fd)
	*up = eside{fd: -1}
	w.connectNext(c)
}

// lastSockaddr is the address connectNext tried last.
func (c *econn) lastSockaddr() unix.Sockaddr {
	if c.addrs != nil && c.next > 0 {
		return ipSockaddr(c.addrs[c.next-1], c.r.destPort)
	}
	return copySockaddr(c.er.dest)
}

func (w *worker) dialFailed(c *econn) {
	err := errors.Join(c.errs...)
	if err == nil {
		err = errors.New("no address to dial")
	}
	w.failEarly(c, reasonDial, "destination unavailable: closing connection", "destination", c.r.dest.String(), "error", err)
}

// open starts copying.
func (w *worker) open(c *econn) {
	c.state = stOpen
	_, vmClient := c.sa.(*unix.SockaddrVM)
	_, vmDest := c.er.dest.(*unix.SockaddrVM)
	c.splice = !vmClient && !vmDest
	c.addrs, c.errs = nil, nil
	c.lastActive = w.now
	c.r.mConnect.Observe(w.now.Sub(c.start).Seconds())
	w.pump(c)
}

// failEarly ends a connection that never reached stOpen.
func (w *worker) failEarly(c *econn, reason, msg string, args ...any) {
	c.fail(reason, msg, args...)
	w.drop(c)
}

// drop releases everything a connection took (not yet open, or failed).
func (w *worker) drop(c *econn) {
	if c.state == stWaitSlot {
		c.unqueue()
	}
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
	c.state = stClosed
	w.remove(c)
	for i := range c.side {
		if c.side[i].fd >= 0 {
			sysClose(c.side[i].fd)
			c.side[i].fd = -1
		}
	}
	c.releaseSlot()
	c.r.mActive.Dec()
	w.e.count.Add(-1)
	w.e.p.wg.Done()
}

// forceClose ends c at the drain deadline.
func (w *worker) forceClose(c *econn) {
	if c.state == stOpen {
		w.end(c, net.ErrClosed)
		return
	}
	w.failEarly(c, reasonShutdown, "connection closed at the drain deadline before it was proxied")
}

// sweep applies the deadlines and flushes the byte counts.
func (w *worker) sweep() {
	now := w.now
	for _, c := range w.conns {
		if c == nil {
			continue
		}
		switch c.state {
		case stWaitSlot:
			// A slot handed over just before the deadline is kept: the
			// grant message follows.
			if !now.Before(c.deadline) && c.unqueue() {
				w.failEarly(c, reasonLimit, "connection refused: concurrency limit reached", "max_connections", cap(c.r.sem),
					"waited", c.r.connectTimeout.String())
			}
		case stConnecting:
			if !now.Before(c.deadline) {
				c.errs = append(c.errs, c.dialError(c.lastSockaddr(), os.ErrDeadlineExceeded))
				w.dialFailed(c)
			}
		case stOpen:
			c.flush()
			w.returnQuietPipes(c)
			if !c.graceUntil.IsZero() && !now.Before(c.graceUntil) && !c.dirs[dirIn].done {
				c.dirs[dirIn].err = errGrace
				w.end(c, net.ErrClosed)
				continue
			}
			idle := c.r.idleTimeout
			if idle <= 0 {
				continue
			}
			// The connection's quiet period: since the last read or the
			// last write that moved pending bytes (last), or, for the
			// stall cut, since a direction's pending bytes last moved.
			last := c.lastActive
			for d := range c.dirs {
				if c.dirs[d].stall.After(last) {
					last = c.dirs[d].stall
				}
			}
			from, stalled := last, -1
			for d := range c.dirs {
				if (c.dirs[d].buf != nil || c.dirs[d].inPipe > 0) && c.dirs[d].stall.Before(from) {
					from, stalled = c.dirs[d].stall, d
				}
			}
			switch quiet := now.Sub(from); {
			case quiet >= idle:
				// The proxy has seen nothing move; the kernel's send
				// buffers may have (a slow reader draining megabytes).
				// A stuck direction is judged by its own destination's
				// queue only: bytes flowing the other way (a client that
				// writes but never reads) do not show its reader moving.
				watch := -1
				if stalled >= 0 {
					watch = 1 - stalled // the side direction stalled writes to
				}
				if c.outqAt.After(from) && w.sendQueuesMoved(c, watch) {
					c.lastActive = now
					for d := range c.dirs {
						c.dirs[d].stall = now
					}
					continue
				}
				if stalled >= 0 && now.Sub(last) < idle {
					c.dirs[stalled].err = errIdle // a write stuck for the idle period
					w.end(c, net.ErrClosed)
				} else {
					w.end(c, errIdle)
				}
			case quiet >= idle/8 && !c.outqAt.After(from):
				w.sendQueuesMoved(c, -1) // the sample the cut compares with
			}
		}
	}
}

// returnQuietPipes gives back the empty pipe of each of c's directions
// that has moved nothing through it for a sweep period: a connection that
// streamed and went quiet holds no pipe (and none of its worker's
// maxPipes) for longer than two sweep periods, while a stream keeps its
// pipe between bursts and splices each at once, with no copying read to
// find out that it is streaming again.
func (w *worker) returnQuietPipes(c *econn) {
	for d := range c.dirs {
		dir := &c.dirs[d]
		if dir.pipe == nil || dir.inPipe > 0 || dir.shutAfter {
			continue
		}
		last := c.lastActive
		if dir.stall.After(last) {
			last = dir.stall
		}
		if w.now.Sub(last) >= w.e.sweep {
			w.putPipe(dir.pipe, true)
			dir.pipe, dir.leave = nil, false
		}
	}
}

// sendQueuesMoved reads the send queues of c's sockets (SIOCOUTQ: bytes
// not yet acknowledged by the peer), reports whether the queue of side
// watch (either, if watch is -1) changed since the previous sample, and
// keeps them as the next comparison's. sweep samples a connection quiet
// for an eighth of the idle timeout and compares before it cuts it (a
// window of most of the idle timeout, so that the bursts of a window
// opening on a slow reader show): the proxy's reads and pending bytes do
// not show a slow reader draining the kernel's send buffer, which can
// hold megabytes. A
// queue that does not move (a peer that stopped reading) or stays empty
// does not keep the connection. Two ioctls, twice per idle period, only
// for quiet connections.
func (w *worker) sendQueuesMoved(c *econn, watch int) bool {
	moved := false
	for i := range c.side {
		q := int32(-1) // unknown (AF_VSOCK on kernels without its SIOCOUTQ)
		if v, err := unix.IoctlGetInt(c.side[i].fd, unix.TIOCOUTQ); err == nil {
			q = int32(v)
		}
		if prev := c.outq[i]; (watch < 0 || watch == i) && q != prev && (q > 0 || prev > 0) {
			moved = true
		}
		c.outq[i] = q
	}
	c.outqAt = w.now
	return moved
}

// flush adds the bytes copied since the last flush to the route's counters.
func (c *econn) flush() {
	if d := c.in - c.inF; d > 0 {
		c.r.bytesIn.Add(float64(d))
		c.inF = c.in
	}
	if d := c.out - c.outF; d > 0 {
		c.r.bytesOut.Add(float64(d))
		c.outF = c.out
	}
}

func (w *worker) runReady() {
	if len(w.ready) == 0 {
		return
	}
	ready := w.ready
	w.ready = nil
	for _, c := range ready {
		c.posted = false
		if c.state == stOpen {
			w.pump(c)
		}
	}
}

// Splice (TCP and unix sockets; AF_VSOCK cannot): a direction whose read
// returns at least spliceAfter bytes moves its next bytes through a pipe
// with splice(2), source to pipe to destination, without copying them
// through the worker; a splice that moves less than spliceBelow bytes
// returns the (empty) pipe and the direction reads again. While the pipe
// holds bytes the destination could not take, the source is not read
// (back-pressure, as with a pending buffer). Each worker keeps at most
// maxPipes pipes of pipeSize (Config.pipeSize in tests).
const (
	spliceAfter = 64 << 10
	spliceBelow = 16 << 10
	pipeSize    = 256 << 10
	maxPipes    = 64
)

type epipe struct {
	r, w int
	size int
}

// getPipe returns a pipe from the worker's pool, a new one while the
// worker has fewer than maxPipes, or nil.
func (w *worker) getPipe() *epipe {
	if n := len(w.pipes); n > 0 {
		p := w.pipes[n-1]
		w.pipes = w.pipes[:n-1]
		return p
	}
	if w.npipes.Load() >= maxPipes {
		return nil
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return nil
	}
	// The size may stay smaller (pipe-max-size, the user's pipe pages
	// limit): ask what it is.
	_, _ = unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, w.e.pipe)
	size, err := unix.FcntlInt(uintptr(fds[1]), unix.F_GETPIPE_SZ, 0)
	if err != nil || size <= 0 {
		sysClose(fds[0])
		sysClose(fds[1])
		return nil
	}
	w.npipes.Add(1)
	return &epipe{r: fds[0], w: fds[1], size: size}
}

// putPipe returns an empty pipe to the pool; a pipe still holding bytes is
// closed.
func (w *worker) putPipe(p *epipe, empty bool) {
	if empty {
		w.pipes = append(w.pipes, p)
		return
	}
	sysClose(p.r)
	sysClose(p.w)
	w.npipes.Add(-1)
}

// pumpSplice is pumpDir for a direction with a pipe.
func (w *worker) pumpSplice(c *econn, d int) {
	dir := &c.dirs[d]
	src, dst := &c.side[d], &c.side[1-d]
	for range pumpBudget {
		if dir.inPipe > 0 {
			if !dst.wr {
				return
			}
			n, err := sysSplice(dir.pipe.r, dst.fd, dir.inPipe)
			if err != nil && err != unix.EAGAIN {
				dir.err = os.NewSyscallError("splice", err)
				w.end(c, net.ErrClosed)
				return
			}
			if n > 0 {
				c.count(d, n)
				dir.inPipe -= n
				dir.stall = w.now
				w.spliced.Add(int64(n))
			}
			if dir.inPipe > 0 {
				// Only EAGAIN says the socket is full: a splice into a
				// socket can move less than asked while there is room,
				// and no EPOLLOUT edge would follow. Try again.
				if err == unix.EAGAIN || n == 0 {
					dst.wr = false
					return
				}
				continue
			}
			if dir.shutAfter {
				w.dirEnded(c, d)
				return
			}
			if dir.leave {
				w.putPipe(dir.pipe, true)
				dir.pipe, dir.leave = nil, false
				break // reads again, from the ready list
			}
		}
		if !src.rd {
			// Nothing to read until the next edge. The empty pipe is
			// kept for it (a stream's next burst splices at once); sweep
			// gives it back once the direction has been quiet for a
			// sweep period, so a connection gone quiet holds no pipe.
			return
		}
		n, err := sysSplice(src.fd, dir.pipe.w, dir.pipe.size)
		switch {
		case err == unix.EAGAIN:
			src.rd = false // the pipe is kept, as above
			return
		case err != nil:
			dir.err = os.NewSyscallError("splice", err)
			w.end(c, net.ErrClosed)
			return
		case n == 0:
			// The end of the stream, or TCP urgent data: splice(2)
			// stops at the urgent mark and returns 0 there as at the
			// end. read(2) tells them apart (SO_OOBINLINE: the byte
			// comes inline), so the next pass reads without the pipe.
			w.putPipe(dir.pipe, true)
			dir.pipe, dir.leave = nil, false
			if !c.posted {
				c.posted = true
				w.ready = append(w.ready, c)
			}
			return
		}
		c.lastActive = w.now
		dir.inPipe = n
		dir.stall = w.now
		// A short splice is no sign that the socket is drained (unlike a
		// short read): the pipe can run out of slots before bytes. Only
		// EAGAIN clears src.rd, or the rest of a full receive queue
		// would wait for an edge that the stalled sender never makes.
		if n < spliceBelow {
			dir.leave = true
		}
	}
	if !c.posted {
		c.posted = true
		w.ready = append(w.ready, c)
	}
}

// pump copies what can be copied in both directions without blocking.
func (w *worker) pump(c *econn) {
	for d := range c.dirs {
		if c.dirs[d].done {
			continue
		}
		w.pumpDir(c, d)
		if c.state != stOpen {
			return
		}
	}
	if c.dirs[dirIn].done && c.dirs[dirOut].done {
		w.end(c, nil)
	}
}

// pumpDir copies direction d: the pending bytes first, then reads into the
// scratch buffer and writes them on, until the source has nothing, the
// destination is full (the rest is kept, and the source not read until it
// is written) or the budget is spent (the connection goes on the ready
// list).
func (w *worker) pumpDir(c *econn, d int) {
	dir := &c.dirs[d]
	src, dst := &c.side[d], &c.side[1-d]
	if dir.pipe != nil {
		w.pumpSplice(c, d)
		return
	}
	if dir.buf != nil {
		if !dst.wr {
			return
		}
		b := (*dir.buf)[dir.off:dir.end]
		n, err := rawSend(dst.fd, b)
		if err != nil && err != unix.EAGAIN {
			dir.err = os.NewSyscallError("write", err)
			w.end(c, net.ErrClosed)
			return
		}
		if n > 0 {
			c.count(d, n)
			dir.off += n
			dir.stall = w.now
		}
		if dir.off < dir.end {
			dst.wr = false
			return
		}
		putPend(dir.buf)
		dir.buf = nil
		if dir.shutAfter {
			w.dirEnded(c, d)
			return
		}
	}
	for range pumpBudget {
		if !src.rd {
			return
		}
		n, err := rawRead(uintptr(src.fd), w.scratch)
		switch {
		case err == unix.EAGAIN:
			src.rd = false
			return
		case err == unix.EINTR:
			continue
		case err != nil:
			dir.err = os.NewSyscallError("read", err)
			w.end(c, net.ErrClosed)
			return
		case n == 0:
			w.dirEnded(c, d)
			return
		}
		c.lastActive = w.now
		if n < len(w.scratch) && !src.hup {
			// A short read emptied the socket: new data will raise a new
			// edge, so no read is spent to hear EAGAIN. (An end of stream
			// already signalled is read at once.)
			src.rd = false
		}
		m, err := rawSend(dst.fd, w.scratch[:n])
		if err != nil {
			if err != unix.EAGAIN {
				dir.err = os.NewSyscallError("write", err)
				w.end(c, net.ErrClosed)
				return
			}
			m = 0
		}
		c.count(d, m)
		if n >= spliceAfter && c.splice && m == n {
			// Streaming: the next reads go through a pipe.
			if dir.pipe = w.getPipe(); dir.pipe != nil {
				w.pumpSplice(c, d)
				return
			}
		}
		if m < n {
			rest := n - m
			dir.buf = getPend(rest)
			dir.off, dir.end = 0, copy(*dir.buf, w.scratch[m:n])
			dir.stall = w.now
			dst.wr = false
			return
		}
	}
	if !c.posted {
		c.posted = true
		w.ready = append(w.ready, c)
	}
}

func (c *econn) count(d, n int) {
	if d == dirIn {
		c.in += int64(n)
	} else {
		c.out += int64(n)
	}
}

// dirEnded: direction d's source has ended (and everything read has been
// written): half-close the destination. The destination's clean end
// starts the client's half-close grace.
func (w *worker) dirEnded(c *econn, d int) {
	dir := &c.dirs[d]
	if dir.buf != nil || dir.inPipe > 0 {
		dir.shutAfter = true
		return
	}
	if dir.pipe != nil {
		w.putPipe(dir.pipe, true)
		dir.pipe = nil
	}
	dir.done = true
	if c.dirs[1-d].done {
		w.end(c, nil) // the close sends the FIN
		return
	}
	if err := sysShutdown(c.side[1-d].fd, unix.SHUT_WR); err != nil {
		dir.err = os.NewSyscallError("shutdown", err)
		w.end(c, net.ErrClosed)
		return
	}
	if d == dirOut {
		c.graceUntil = w.now.Add(w.e.p.cfg.HalfCloseGrace)
	}
}

// end closes an open connection: a direction still running ends with
// other (errors already recorded in c.dirs are kept). It logs and counts
// the end as the goroutine path does.
func (w *worker) end(c *econn, other error) {
	for d := range c.dirs {
		dir := &c.dirs[d]
		if !dir.done && dir.err == nil {
			dir.err = other
		}
		if dir.buf != nil {
			putPend(dir.buf)
			dir.buf = nil
		}
		if dir.pipe != nil {
			w.putPipe(dir.pipe, dir.inPipe == 0)
			dir.pipe, dir.inPipe = nil, 0
		}
	}
	c.state = stClosed
	w.remove(c)
	abort := abnormal(c.dirs[dirIn].err) || abnormal(c.dirs[dirOut].err)
	for i := range c.side {
		if abort {
			resetOnClose(c.side[i].fd)
		}
		sysClose(c.side[i].fd)
		c.side[i].fd = -1
	}
	c.releaseSlot()
	c.flush()
	c.r.mActive.Dec()
	w.e.count.Add(-1)
	defer w.e.p.wg.Done()
	c.ended(c.dirs[dirIn].err, c.dirs[dirOut].err, c.in, c.out)
}

// resetOnClose makes the close of a TCP socket send RST instead of FIN
// (SO_LINGER {1, 0}; bytes still queued toward the peer are discarded), so
// that a peer of a connection that ended in an error sees the error, not a
// clean end of stream. Other sockets are left alone.
func resetOnClose(fd int) {
	if proto, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err == nil && proto == unix.IPPROTO_TCP {
		_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
}

// rawSend is send(2) with MSG_NOSIGNAL on a non-blocking socket, without
// the runtime's system-call bookkeeping (see rawRead).
func rawSend(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
			unix.MSG_NOSIGNAL, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}
