// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// parker holds the sockets of idle directions in one epoll instance for the
// whole proxy, so that an idle connection has no goroutine (and so no
// stack) at all: a direction that has read nothing for [parkAfter] registers
// its source socket (level-triggered, one-shot) and its goroutine ends;
// when the socket turns readable (data, end of stream, an error) the
// parker's loop starts a goroutine for that direction again. The socket
// stays in Go's netpoller at the same time; the parker only learns when to
// start reading.
//
// Events name a pair by its slot in a table and the slot's generation, never
// by a pointer, so an event that arrives after the pair has ended (or after
// its slot was reused) is recognised and dropped. Registrations are made and
// removed through syscall.RawConn.Control, which holds the descriptor open,
// so an operation can never reach a descriptor number that was closed and
// reused by another socket.
//
// The loop also sweeps the table every sweep period: a pair whose every
// direction is parked or done and that has been idle for its idle timeout
// is closed (read deadlines, which bound running directions, cannot bound
// a direction that has no goroutine).
type parker struct {
	epfd  int
	f     *os.File        // epfd, in Go's netpoller: the loop waits there
	rc    syscall.RawConn // f's
	sweep time.Duration

	// Memory after bursts: running counts the directions of parkable pairs
	// that have a goroutine, peak its highest value since the last release.
	// When release is set and the count falls to a quarter of a peak of at
	// least burst, release runs (at most every releaseGap).
	running     atomic.Int64
	peak        atomic.Int64
	release     func()
	burst       int64
	releaseGap  time.Duration
	lastRelease time.Time // the loop's

	mu      sync.Mutex
	slots   []parkSlot
	free    []uint32
	stopped bool // no pair is added once set

	done chan struct{}
}

type parkSlot struct {
	pr  *pair
	gen uint32
}

// newParker creates the epoll instance and starts its loop; nil when the
// system refuses (connections then keep their goroutines while idle).
//
// The epoll descriptor is itself registered in Go's netpoller (an epoll
// set is readable while it has events), so the loop is an ordinary
// goroutine waiting there: a parked socket turning readable wakes one
// thread, as a goroutine blocked in a read would, not a thread blocked in
// epoll_wait that must then find a P and another thread to run the
// direction.
//
// release, when not nil, is called (on its own goroutine) after a burst of
// connections has gone idle: see [Config].ReleaseMemoryAfterBursts.
func newParker(sweep time.Duration, release func()) *parker {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil
	}
	f := os.NewFile(uintptr(epfd), "host-proxy parker")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	k := &parker{epfd: epfd, f: f, rc: rc, sweep: sweep, done: make(chan struct{}),
		release: release, burst: burstDirections, releaseGap: releaseGap}
	go k.loop()
	return k
}

// The 64-bit epoll data is the Fd and Pad fields of unix.EpollEvent.
func setKey(ev *unix.EpollEvent, key uint64) {
	ev.Fd, ev.Pad = int32(uint32(key)), int32(uint32(key>>32))
}
func getKey(ev *unix.EpollEvent) uint64 { return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32 }

// key names direction d of the pair in slot with generation gen.
func parkKey(slot, gen uint32, d int) uint64 { return uint64(gen)<<32 | uint64(slot)<<1 | uint64(d) }

// add gives pr a slot; false once the parker is stopping or the table is
// full (pr then never parks).
func (k *parker) add(pr *pair) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return false
	}
	var i uint32
	if n := len(k.free); n > 0 {
		i = k.free[n-1]
		k.free = k.free[:n-1]
	} else {
		if len(k.slots) >= 1<<31-1 {
			return false
		}
		i = uint32(len(k.slots))
		k.slots = append(k.slots, parkSlot{})
	}
	k.slots[i].pr = pr
	pr.slot, pr.gen = i, k.slots[i].gen
	return true
}

// remove frees pr's slot; events still queued for it are dropped by the
// generation check.
func (k *parker) remove(pr *pair) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := &k.slots[pr.slot]
	if s.pr != pr {
		return
	}
	s.pr = nil
	s.gen++
	k.free = append(k.free, pr.slot)
}

// lookup returns the pair an event key names, or nil for a stale key.
func (k *parker) lookup(key uint64) (*pair, int) {
	slot, gen, d := uint32(key)>>1, uint32(key>>32), int(key&1)
	k.mu.Lock()
	defer k.mu.Unlock()
	if int(slot) >= len(k.slots) || k.slots[slot].gen != gen {
		return nil, 0
	}
	return k.slots[slot].pr, d
}

// at returns the pair in slot i (nil for a free slot) and whether i is in
// the table.
func (k *parker) at(i int) (*pair, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if i >= len(k.slots) {
		return nil, false
	}
	return k.slots[i].pr, true
}

// arm registers rc's descriptor for one readiness event named key (add the
// first time, re-arm after). It fails when the socket is closed.
func (k *parker) arm(rc syscall.RawConn, key uint64, first bool) bool {
	op := unix.EPOLL_CTL_MOD
	if first {
		op = unix.EPOLL_CTL_ADD
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT}
	setKey(&ev, key)
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = unix.EpollCtl(k.epfd, op, int(fd), &ev) }); err != nil {
		return false
	}
	return cerr == nil
}

// disarm removes rc's descriptor from the epoll set, before the socket is
// closed or read by a goroutine again (a closed socket has left the set
// already: Control then does nothing).
func (k *parker) disarm(rc syscall.RawConn) {
	_ = rc.Control(func(fd uintptr) { _ = unix.EpollCtl(k.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
}

func (k *parker) loop() {
	defer close(k.done)
	var events [128]unix.EpollEvent
	var n int
	var werr error
	poll := func(fd uintptr) bool {
		for {
			n, werr = unix.EpollWait(int(fd), events[:], 0)
			if werr != unix.EINTR {
				return n > 0 || werr != nil // nothing: wait in the netpoller
			}
		}
	}
	next := time.Now().Add(k.sweep)
	_ = k.f.SetReadDeadline(next)
	for {
		err := k.rc.Read(poll)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			n = 0
		case err != nil || werr != nil:
			return // closed by stop
		}
		for i := range n {
			if pr, d := k.lookup(getKey(&events[i])); pr != nil {
				pr.wake(d)
			}
		}
		if now := time.Now(); !now.Before(next) {
			k.forEach(func(pr *pair) { pr.sweep(now) })
			k.afterBurst(now)
			next = now.Add(k.sweep)
			_ = k.f.SetReadDeadline(next)
		}
	}
}

// Bursts: a peak of at least burstDirections running directions that falls
// to a quarter of it releases memory, at most every releaseGap.
const (
	burstDirections = 256
	releaseGap      = 10 * time.Second
)

// goStart and goEnd count a direction's goroutine.
func (k *parker) goStart() {
	n := k.running.Add(1)
	for {
		p := k.peak.Load()
		if n <= p || k.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (k *parker) goEnd() { k.running.Add(-1) }

// afterBurst calls release once a burst of running directions has parked
// or ended (called by the loop at each sweep).
func (k *parker) afterBurst(now time.Time) {
	if k.release == nil {
		return
	}
	pk, run := k.peak.Load(), k.running.Load()
	if pk < k.burst || run > pk/4 || (!k.lastRelease.IsZero() && now.Sub(k.lastRelease) < k.releaseGap) {
		return
	}
	k.lastRelease = now
	k.peak.Store(run)
	go k.release()
}

// forEach calls f for every pair in the table, without holding the table's
// lock during f.
func (k *parker) forEach(f func(*pair)) {
	for i := 0; ; i++ {
		pr, ok := k.at(i)
		if !ok {
			return
		}
		if pr != nil {
			f(pr)
		}
	}
}

// shutdown stops adding pairs and ends every parked direction (the proxy's
// forced close at the drain deadline: the sockets are closed already).
func (k *parker) shutdown() {
	k.mu.Lock()
	k.stopped = true
	k.mu.Unlock()
	k.forEach(func(pr *pair) { pr.shutdown() })
}

// stop ends the loop and releases the epoll instance, once no pair is left
// (nothing calls arm or disarm any more).
func (k *parker) stop() {
	k.f.Close() // the loop's wait returns os.ErrClosed
	<-k.done
}
