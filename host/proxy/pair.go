// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// parkAfter is how long a direction waits for its source in Go's netpoller
// (holding a goroutine) before it hands the socket to the proxy's [parker]
// and its goroutine ends. Traffic with shorter gaps never leaves the
// netpoller; an idle connection holds no goroutine after this long. Longer
// means fewer wake-ups through the parker (each costs about 8 µs of CPU
// more than a wake-up in the netpoller), shorter means fewer goroutine
// stacks alive at once while connections are being opened (the runtime
// keeps that memory after they end): at 100 ms host-proxy grew by
// 8.7-9.7 kB per idle connection measured from outside, at 25 ms by
// 6.2-6.7 kB, at 10 ms by 5.4-5.9 kB.
const parkAfter = 25 * time.Millisecond

// The two directions of a pair.
const (
	dirIn  = 0 // client to destination
	dirOut = 1 // destination to client
)

// States of a direction.
const (
	dirRunning = iota // a goroutine copies (or waits in the netpoller)
	dirParked         // no goroutine: the source is in the parker's epoll set
	dirDone           // ended with err
)

type pairDir struct {
	src, dst net.Conn
	sink     io.Writer       // dst, or its raw writer
	source   bufSource       // nil when splicing
	rc       syscall.RawConn // the source's, when this direction can park
	armed    bool            // the source has been added to the parker's epoll set
	state    int
	err      error
	// wdl is dst's write deadline, lastMove when the direction's writes
	// last moved bytes (or its loop started); the direction's goroutine,
	// and its rawSink through extend, own them.
	wdl, lastMove time.Time
	extends       bool // sink is a rawSink that calls extend
}

// pair is one proxied connection once its destination is connected: the
// state of its two directions, which run on goroutines only while they
// copy (see [parker]), and what is released when both have ended.
type pair struct {
	p       *Proxy
	cn      *conn
	up      net.Conn
	ps      pipeState
	k       *parker // nil: the directions never park
	slot    uint32  // in k
	gen     uint32
	in, out atomic.Int64

	mu     sync.Mutex
	closed bool // the sockets are being closed: nothing parks or wakes
	dirs   [2]pairDir
}

// pipe copies both directions of a connected pair, the destination to the
// client on the calling goroutine and the client to the destination on
// another; the last direction to end releases everything handle and
// connect took. A direction idle for [parkAfter] ends its goroutine and is
// started again when its source turns readable.
func (p *Proxy) pipe(cn *conn, up net.Conn) {
	pr := &pair{p: p, cn: cn, up: up, ps: pipeState{idle: cn.r.idleTimeout, splice: p.cfg.splice}}
	pr.ps.lastActive.Store(time.Now().UnixNano())
	pr.dirs[dirIn] = pairDir{src: cn.c, dst: up}
	pr.dirs[dirOut] = pairDir{src: up, dst: cn.c}
	for d := range pr.dirs {
		pd := &pr.dirs[d]
		if pr.ps.splice && canSplice(pd.dst, pd.src) {
			continue
		}
		pd.source = newSource(pd.src)
		pd.sink = newSink(pd.dst)
		if es, ok := pd.sink.(extendSink); ok && pr.ps.idle > 0 {
			pd.extends = true
			es.setExtend(func(moved bool) bool { return pr.extend(pd, moved) })
		}
		pd.rc = sourceRawConn(pd.source)
	}
	if p.parker != nil && (pr.dirs[dirIn].rc != nil || pr.dirs[dirOut].rc != nil) && p.parker.add(pr) {
		pr.k = p.parker
	}
	go pr.run(dirIn)
	pr.run(dirOut)
}

// run copies direction d on the calling goroutine until it parks or ends.
func (pr *pair) run(d int) {
	if pr.k != nil {
		pr.k.goStart()
		defer pr.k.goEnd()
	}
	err := pr.direction(d)
	if err == errParked {
		return
	}
	pr.finish(d, err)
}

func (pr *pair) count(d int, n int64) {
	if d == dirIn {
		pr.in.Add(n)
		pr.cn.r.bytesIn.Add(float64(n))
		return
	}
	pr.out.Add(n)
	pr.cn.r.bytesOut.Add(float64(n))
}

// direction copies the source of direction d to its destination until EOF,
// error, idleness or parking. On EOF it half-closes the destination so the
// peer sees end-of-stream while the other direction keeps flowing. It
// returns nil on a clean EOF, errParked when the direction was handed to
// the parker, or the error that ended the copy (errIdle for an idle timeout
// or a write stuck for the idle period).
//
// Once the destination has finished sending, [pipeState.startGrace] caps
// the client's reads at the end of the half-close grace period, and the
// direction reading the client ends with errGrace then.
//
// Idle detection without a deadline per read: the read deadline is armed in
// ticks of idle/2, or of [parkAfter] when the direction can park (Go fails a
// read after its deadline even when data is waiting, so an active copy
// returns at every tick). A tick that copied something records activity. A
// tick that copied nothing ends the connection only when neither direction
// has recorded activity for a whole idle period, and otherwise parks the
// direction when it can; an active peer direction records activity at
// least every tick, so a one-way transfer is never cut. The write deadline
// sits one idle period after the read deadline: a write timeout is told
// apart from a read timeout by the time, and means the peer has not read
// for that long.
func (pr *pair) direction(d int) error {
	ps := &pr.ps
	pd := &pr.dirs[d]
	dst, src := pd.dst, pd.src
	canPark := pr.k != nil && pd.rc != nil
	tick := ps.idle / 2
	if canPark && (tick == 0 || tick > parkAfter) {
		tick = parkAfter
	}
	for {
		pd.wdl = time.Time{}
		if tick > 0 {
			readDeadline := time.Now().Add(tick)
			_ = src.SetReadDeadline(ps.capDeadline(readDeadline))
			if ps.idle > 0 {
				wait := ps.idle
				if pd.extends {
					wait = ps.idle / writeChecks // extend looks again then
				}
				pd.wdl, pd.lastMove = readDeadline.Add(wait), time.Now()
				_ = dst.SetWriteDeadline(pd.wdl)
			}
			// startGrace may have run between capDeadline and
			// SetReadDeadline: apply its deadline again, so it is never
			// overwritten by a later one.
			if d := ps.capDeadline(readDeadline); !d.Equal(readDeadline) {
				_ = src.SetReadDeadline(d)
			}
		}
		var n int64
		var err error
		if pd.source == nil {
			n, err = spliceCopy(dst, src)
		} else {
			n, err = copyAdaptive(pd.sink, pd.source)
		}
		if n > 0 {
			pr.count(d, n)
			ps.lastActive.Store(time.Now().UnixNano())
		}
		if err == nil {
			cw, ok := dst.(closeWriter)
			if !ok {
				return errNoHalfClose
			}
			return cw.CloseWrite()
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || tick == 0 {
			return err
		}
		now := time.Now()
		if g := ps.graceUntil.Load(); g != 0 && !now.Before(time.Unix(0, g)) {
			return errGrace
		}
		// A write stuck for the idle period (or worse); a rawSink's
		// deadline is short, and only extend's lastMove tells (a read
		// timeout seen late is no stuck write).
		if !pd.wdl.IsZero() && !now.Before(pd.wdl) && (!pd.extends || now.Sub(pd.lastMove) >= ps.idle) {
			return errIdle // a write stuck for the idle period (or worse)
		}
		if n > 0 {
			continue
		}
		if ps.idle > 0 && now.Sub(time.Unix(0, ps.lastActive.Load())) >= ps.idle {
			return errIdle
		}
		if canPark && pr.park(d) {
			return errParked
		}
	}
}

// extendSink is a sink whose blocked write asks extend before it fails at
// its deadline (rawSink, on Linux).
type extendSink interface {
	setExtend(func(moved bool) bool)
}

// writeChecks is how many times per idle timeout a blocked write of a
// rawSink looks whether it moved bytes.
const writeChecks = 4

// extend is called by direction pd's rawSink when its write deadline
// passes in the middle of a write: a slow but steady reader is no stalled
// one, so a write that moved bytes since the last look counts as traffic
// (the connection's idle clock too) and goes on; one that moved nothing
// for the idle timeout fails (false), and the direction ends as idle.
func (pr *pair) extend(pd *pairDir, moved bool) bool {
	now := time.Now()
	if moved {
		pd.lastMove = now
		pr.ps.lastActive.Store(now.UnixNano())
	}
	if now.Sub(pd.lastMove) >= pr.ps.idle {
		return false
	}
	pd.wdl = now.Add(pr.ps.idle / writeChecks)
	return pd.dst.SetWriteDeadline(pd.wdl) == nil
}

// errParked: the direction's source is in the parker's epoll set and its
// goroutine ends (not an end of the connection).
var errParked = errors.New("parked")

// park hands direction d's source to the parker; false when the pair is
// closing or in its half-close grace (bounded by a read deadline instead).
func (pr *pair) park(d int) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pd := &pr.dirs[d]
	if pr.closed || pr.ps.graceUntil.Load() != 0 {
		return false
	}
	// The state is set under the lock before the event can be handled: the
	// parker's wake takes the same lock.
	if !pr.k.arm(pd.rc, parkKey(pr.slot, pr.gen, d), !pd.armed) {
		return false // closed: the next read reports it
	}
	pd.armed = true
	pd.state = dirParked
	return true
}

// wake starts a goroutine for parked direction d, whose source has turned
// readable (called by the parker's loop; a stale event finds it not parked).
func (pr *pair) wake(d int) {
	pr.mu.Lock()
	if pr.closed || pr.dirs[d].state != dirParked {
		pr.mu.Unlock()
		return
	}
	pr.dirs[d].state = dirRunning // one-shot: the registration is disabled
	pr.mu.Unlock()
	go pr.run(d)
}

// closeLocked marks the pair closing and ends its parked directions with
// err, taking their sockets out of the epoll set before they are closed.
// It reports whether both directions are done. pr.mu is held.
func (pr *pair) closeLocked(err error) bool {
	pr.closed = true
	done := true
	for d := range pr.dirs {
		pd := &pr.dirs[d]
		switch pd.state {
		case dirParked:
			pr.k.disarm(pd.rc)
			pd.armed = false
			pd.state, pd.err = dirDone, err
		case dirRunning:
			done = false
		}
	}
	return done
}

// closeConns closes both sockets; abort makes TCP sockets send RST (see
// [abnormal]).
func (pr *pair) closeConns(abort bool) {
	if abort {
		resetConn(pr.cn.c)
		resetConn(pr.up)
	}
	pr.cn.c.Close()
	pr.up.Close()
}

// finish records that direction d ended with err. An error closes both
// sockets (the other direction, running, ends with net.ErrClosed; parked,
// it ends here). The destination's clean end starts the client's half-close
// grace. The last direction to end releases the pair.
func (pr *pair) finish(d int, err error) {
	if err == nil && d == dirOut {
		// The destination has finished sending: the client gets the grace
		// period to finish too, not the idle timeout. A parked client
		// direction goes back to a goroutine, whose reads the grace bounds.
		pr.ps.startGrace(pr.cn.c, time.Now().Add(pr.p.cfg.HalfCloseGrace))
	}
	var wakeIn, last bool
	pr.mu.Lock()
	pr.dirs[d].state, pr.dirs[d].err = dirDone, err
	if err != nil {
		last = pr.closeLocked(net.ErrClosed)
	} else {
		if d == dirOut && pr.dirs[dirIn].state == dirParked && !pr.closed {
			pr.k.disarm(pr.dirs[dirIn].rc)
			pr.dirs[dirIn].armed = false // a later park adds it again
			pr.dirs[dirIn].state = dirRunning
			wakeIn = true
		}
		last = pr.dirs[dirIn].state == dirDone && pr.dirs[dirOut].state == dirDone
		if last {
			pr.closed = true
		}
	}
	pr.mu.Unlock()
	if err != nil {
		pr.closeConns(abnormal(err))
	}
	if wakeIn {
		go pr.run(dirIn)
	}
	if last {
		pr.release()
	}
}

// sweep ends the pair with errIdle when no direction has a goroutine and it
// has been idle for the idle timeout (called by the parker's loop).
func (pr *pair) sweep(now time.Time) {
	if pr.ps.idle <= 0 {
		return
	}
	pr.mu.Lock()
	if pr.closed || pr.dirs[dirIn].state == dirRunning || pr.dirs[dirOut].state == dirRunning ||
		now.Sub(time.Unix(0, pr.ps.lastActive.Load())) < pr.ps.idle {
		pr.mu.Unlock()
		return
	}
	last := pr.closeLocked(errIdle)
	pr.mu.Unlock()
	pr.closeConns(true)
	if last {
		pr.release()
	}
}

// shutdown ends the pair's parked directions at the proxy's forced close
// (its sockets are closed already; a running direction ends on its own).
func (pr *pair) shutdown() {
	pr.mu.Lock()
	if pr.closed {
		pr.mu.Unlock()
		return
	}
	last := pr.closeLocked(net.ErrClosed)
	pr.mu.Unlock()
	pr.closeConns(true)
	if last {
		pr.release()
	}
}

// release logs how the connection ended and gives back what handle and
// connect took: the sockets, their tracking, the route's slot.
func (pr *pair) release() {
	p, cn, r := pr.p, pr.cn, pr.cn.r
	if pr.k != nil {
		pr.k.remove(pr)
	}
	pr.up.Close()
	p.untrack(pr.up)
	<-r.sem
	cn.c.Close()
	p.untrack(cn.c)
	cn.putSource()
	r.mActive.Dec()
	defer p.wg.Done()
	cn.ended(pr.dirs[dirIn].err, pr.dirs[dirOut].err, pr.in.Load(), pr.out.Load())
}

// ended logs how a proxied connection ended (both directions' errors, the
// bytes copied each way) and counts an error end.
func (cn *conn) ended(errIn, errOut error, in, out int64) {
	p := cn.p
	args := func() []any {
		return []any{"bytes_in", in, "bytes_out", out, "duration", time.Since(cn.start).String()}
	}
	if errors.Is(errIn, errGrace) {
		if p.log.Enabled(context.Background(), slog.LevelDebug) {
			cn.log().Debug("connection closed: the client kept its side open past half_close_grace", args()...)
		}
		return
	}
	if err := firstReal(errIn, errOut); err != nil {
		reason := reasonCopy
		if errors.Is(err, errIdle) {
			reason = reasonIdle
		}
		cn.fail(reason, "connection ended with an error", append(args(), "error", err)...)
		return
	}
	if p.log.Enabled(context.Background(), slog.LevelDebug) {
		cn.log().Debug("connection closed", args()...)
	}
}
