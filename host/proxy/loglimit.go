// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// logLimiter bounds the lines of one kind that peers can make host-proxy
// write to its log: journald drops every message of a unit past its rate
// limit (10000 per 30 s by default), host-proxy's own warnings included.
// Every line takes a token from a bucket of perSec a second and burst; a
// line without one is dropped and counted, and report writes their number
// in one line that takes a token too: ahead of the next line that passes,
// or reportAfter after the first drop when none does (the bucket going into
// debt for it, paid by later lines), or when the limiter stops. So in t
// seconds a limiter writes at most burst + perSec·t lines, one more for a
// report in debt, and the report when it stops.
type logLimiter struct {
	lim    *rate.Limiter
	now    func() time.Time
	report func(dropped uint64, since time.Time)
	after  time.Duration // reportAfter

	mu      sync.Mutex
	dropped uint64    // lines dropped since the last report
	since   time.Time // when the first of them was
	timer   *time.Timer
	stopped bool // no timer from now on
}

// reportAfter is how long after the first line dropped its report is
// written when no line passes meanwhile.
const reportAfter = time.Second

func newLogLimiter(perSec float64, burst int, now func() time.Time, report func(uint64, time.Time)) *logLimiter {
	return &logLimiter{lim: rate.NewLimiter(rate.Limit(perSec), burst), now: now, report: report, after: reportAfter}
}

// allow takes lines tokens, and one more for the report of the lines
// dropped before, which it writes first; or it counts the caller's lines as
// one drop and returns false.
func (l *logLimiter) allow(lines int) bool {
	l.mu.Lock()
	now := l.now()
	need := lines
	if l.dropped > 0 {
		need++
	}
	if !l.lim.AllowN(now, need) {
		if l.dropped == 0 {
			l.since = now
			if !l.stopped {
				l.timer = time.AfterFunc(l.after, l.flush)
			}
		}
		l.dropped++
		l.mu.Unlock()
		return false
	}
	n, since := l.take()
	l.mu.Unlock()
	if n > 0 {
		l.report(n, since)
	}
	return true
}

// take empties the count of dropped lines; l.mu is held.
func (l *logLimiter) take() (uint64, time.Time) {
	n := l.dropped
	l.dropped = 0
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	return n, l.since
}

// flush writes the report of the lines dropped and not reported yet, if
// any, taking its token even from an empty bucket.
func (l *logLimiter) flush() {
	l.mu.Lock()
	if l.dropped > 0 {
		l.lim.ReserveN(l.now(), 1)
	}
	n, since := l.take()
	l.mu.Unlock()
	if n > 0 {
		l.report(n, since)
	}
}

// stop writes the last report and arms no timer from then on.
func (l *logLimiter) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.flush()
}

// The limit of each kind of line a peer can cause once per connection or
// request (see [connLog]).
const (
	connLogPerSecond = 1
	connLogBurst     = 5
)

// connLog limits the warnings a peer can cause once per connection or
// request, whatever the route: a connection refused (allowed_cids, the
// concurrency limit, the logs route's connection limit) or failed (its
// destination unavailable, a DNS answer refused), a credentials request
// refused. Each kind, a route and a message, has its own [logLimiter] of
// connLogPerSecond lines a second after a burst of connLogBurst; the lines
// it drops are reported as one line with the message, "repeated" (their
// number) and "since" (the first of them). The metrics count every one.
type connLog struct {
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	kinds   map[connLogKind]*logLimiter
	stopped bool
}

type connLogKind struct{ route, msg string }

func newConnLog(log *slog.Logger, now func() time.Time) *connLog {
	return &connLog{log: log, now: now, kinds: map[connLogKind]*logLimiter{}}
}

// allow reports whether a warning msg of route may be written now; the
// caller writes it when it may. A nil connLog allows every line.
func (c *connLog) allow(route, msg string) bool {
	if c == nil {
		return true
	}
	k := connLogKind{route, msg}
	c.mu.Lock()
	l := c.kinds[k]
	if l == nil {
		l = newLogLimiter(connLogPerSecond, connLogBurst, c.now, func(n uint64, since time.Time) {
			c.log.Warn(msg, "route", route, "repeated", n, "since", since.UTC())
		})
		l.stopped = c.stopped
		c.kinds[k] = l
	}
	c.mu.Unlock()
	return l.allow(1)
}

// stop writes the reports still due, and arms no timer from then on.
func (c *connLog) stop() {
	c.mu.Lock()
	c.stopped = true
	ls := make([]*logLimiter, 0, len(c.kinds))
	for _, l := range c.kinds {
		ls = append(ls, l)
	}
	c.mu.Unlock()
	for _, l := range ls {
		l.stop()
	}
}
