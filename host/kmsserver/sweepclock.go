// SPDX-License-Identifier: Apache-2.0

package kmsserver

// The clock the background sweeps judge due dates by. Deletion and
// rotation dates are compared with this replica's clock; with replicas
// sharing a store that has a clock of its own (keystore.SharedClock:
// PostgreSQL), a sweep runs only while the two agree within MaxClockSkew.
// Without it, one replica whose clock ran days ahead (which cannot serve a
// request, SigV4 refuses every X-Amz-Date) would destroy every key pending
// deletion at once, before its deletion date and past any
// CancelKeyDeletion, and rotate keys early, postponing their next rotation
// for every replica. The directory store is one process's: its clock is the
// only one.

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// resultClockSkew is the result label of a sweep skipped because this
// replica's clock disagrees with the store's.
const resultClockSkew = "clock_skew"

// resultAuditUnwritable is the result label of a sweep skipped because the
// audit log cannot be written.
const resultAuditUnwritable = "audit_unwritable"

// sweepClockAgrees reports whether now, the time the sweep named sweep
// judges due dates by, is within MaxClockSkew of the store's clock, when
// the store has one. When it is not, or the store's clock cannot be read,
// it logs, counts the skipped sweep in counter (result "clock_skew" or
// "failed") and returns false: the sweep does nothing, and runs again at
// its next interval.
func (s *Server) sweepClockAgrees(ctx context.Context, now time.Time, sweep string, counter *prometheus.CounterVec) bool {
	sc, ok := s.store.(keystore.SharedClock)
	if !ok {
		return true
	}
	start := s.cfg.Clock()
	storeNow, err := sc.Now(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Error(sweep+" sweep: cannot read the key store's clock; skipping the sweep", "error", err)
			counter.WithLabelValues("failed").Inc()
		}
		return false
	}
	// The store read its clock at some moment of the round trip after now
	// was taken: the round trip, by the server's clock, widens the
	// tolerance (a clock that stepped back narrows it).
	tolerance := s.cfg.MaxClockSkew + s.cfg.Clock().Sub(start)
	if d := storeNow.Sub(now); d > tolerance || d < -tolerance {
		s.cfg.Logger.Error(sweep+" sweep skipped: this replica's clock disagrees with the key store's by more than the maximum clock skew; fix the clock (NTP)",
			"clock", now.UTC(), "store_clock", storeNow.UTC(), "max_clock_skew", s.cfg.MaxClockSkew)
		counter.WithLabelValues(resultClockSkew).Inc()
		return false
	}
	return true
}

// sweepAuditWritable reports whether the audit log can be written (its
// last line was, or the probe line it tries then is: probeAuditLog). When
// it cannot, the sweep named sweep does nothing: it
// logs, counts result "audit_unwritable" in counter and returns false. A
// destroyed key or a rotated one changes the keys for good, so it happens
// only when the change can be recorded, as a request's answer is sent only
// once its audit line is written.
func (s *Server) sweepAuditWritable(sweep string, counter *prometheus.CounterVec) bool {
	if !s.audit.failed.Load() {
		return true
	}
	if s.probeAuditLog(); !s.audit.failed.Load() {
		return true
	}
	s.cfg.Logger.Error(sweep + " sweep skipped: the audit log cannot be written; it runs again once an audit line is written (free space, or fix the audit_log file; /healthz and the sweeps try one at most once a second)")
	counter.WithLabelValues(resultAuditUnwritable).Inc()
	return false
}
