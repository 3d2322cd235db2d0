// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	deletions *prometheus.CounterVec // by result: destroyed, failed, clock_skew, audit_unwritable
	rollbacks prometheus.Counter     // key records refused as older than one verified (rollback.go)
	rotations *prometheus.CounterVec // automatic rotations by result: rotated, failed, clock_skew, audit_unwritable
	// aliasRollbacks counts alias records refused as older than one
	// verified (aliasrollback.go).
	aliasRollbacks prometheus.Counter
	// usageFlushFailures counts key-usage writes that failed (retried at
	// the next flush).
	usageFlushFailures prometheus.Counter
	// auditFailures counts audit lines that could not be written.
	auditFailures prometheus.Counter
	// byOp holds each known operation's pre-resolved success counter and
	// duration histogram (read-only after prepare), so the common path
	// skips the label hashing and lookup of WithLabelValues.
	byOp map[string]opMetrics
}

type opMetrics struct {
	ok       prometheus.Counter
	duration prometheus.Observer
}

// prepare resolves the success series of the given operations. Like
// WithLabelValues it creates them, so they are exported (at 0) from the
// start.
func (m *metrics) prepare(ops []string) {
	m.byOp = make(map[string]opMetrics, len(ops))
	for _, op := range ops {
		m.byOp[op] = opMetrics{ok: m.requests.WithLabelValues(op, ""), duration: m.duration.WithLabelValues(op)}
	}
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kms_requests_total",
			Help: "KMS requests by operation and result code (\"\" for success).",
		}, []string{"operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kms_request_duration_seconds",
			Help:    "Time to serve a KMS request, by operation.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation"}),
	}
	m.deletions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kms_key_deletions_total",
		Help: "Keys whose deletion date passed, by result: destroyed (record and aliases removed from the store), failed (retried at the next sweep), clock_skew (a sweep skipped: this replica's clock disagrees with the key store's), or audit_unwritable (a sweep skipped: the audit log cannot be written).",
	}, []string{"result"})
	m.deletions.WithLabelValues("destroyed")
	m.deletions.WithLabelValues("failed")
	m.deletions.WithLabelValues(resultClockSkew)
	m.rotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kms_key_rotations_total",
		Help: "Automatic key rotations, by result: rotated, failed (retried at the next sweep), clock_skew (a sweep skipped: this replica's clock disagrees with the key store's), or audit_unwritable (a sweep skipped: the audit log cannot be written).",
	}, []string{"result"})
	m.rotations.WithLabelValues("rotated")
	m.rotations.WithLabelValues("failed")
	m.rotations.WithLabelValues(resultClockSkew)
	m.usageFlushFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kms_key_usage_flush_failures_total",
		Help: "Writes of a key's last usage (GetKeyLastUsage) to the store that failed; the usage stays in memory and is written at the next flush.",
	})
	m.rollbacks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kms_key_rollbacks_detected_total",
		Help: "Key records refused because they are older than one this replica has verified, or belong to a key it saw destroyed (an old record put back in the store).",
	})
	m.aliasRollbacks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kms_alias_rollbacks_detected_total",
		Help: "Alias records refused because they are older than one this replica has verified, or belong to an alias it saw deleted (an old record put back in the store).",
	})
	m.auditFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kms_audit_write_failures_total",
		Help: "Audit lines that could not be written (full or failing disk): a request's (answered with KMSInternalException instead of its result), a sweep's, or an AuditLogWritable line's (tried at most once a second while the log is unwritable).",
	})
	m.reg.MustRegister(m.requests, m.duration, m.deletions, m.rotations, m.usageFlushFailures, m.rollbacks, m.aliasRollbacks, m.auditFailures)
	return m
}

func (m *metrics) observe(op, code string, d time.Duration) {
	if om, ok := m.byOp[op]; ok {
		if code == "" {
			om.ok.Inc()
		} else {
			m.requests.WithLabelValues(op, code).Inc()
		}
		om.duration.Observe(d.Seconds())
		return
	}
	m.requests.WithLabelValues(op, code).Inc()
	m.duration.WithLabelValues(op).Observe(d.Seconds())
}
