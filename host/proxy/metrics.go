// SPDX-License-Identifier: Apache-2.0

package proxy

import "github.com/prometheus/client_golang/prometheus"

// metrics are the proxy's Prometheus series, all labelled by route.
type metrics struct {
	connections *prometheus.CounterVec   // route
	active      *prometheus.GaugeVec     // route
	errors      *prometheus.CounterVec   // route, reason
	bytes       *prometheus.CounterVec   // route, direction
	dns         *prometheus.CounterVec   // route, result
	creds       *prometheus.CounterVec   // result
	limitWait   *prometheus.HistogramVec // route
	enclaveLog  *prometheus.CounterVec   // stream
	logDropped  prometheus.Counter
	// logRecordsDropped counts the proxy's own log records dropped
	// because the log writer was slow (asynclog.go).
	logRecordsDropped prometheus.Counter
}

// Error reasons used as the "reason" label and in logs.
const (
	reasonLimit      = "limit"            // no slot within the connect timeout
	reasonDNS        = "dns"              // resolution failed
	reasonNotAllowed = "not_allowed"      // every resolved address refused
	reasonDial       = "dial"             // destination refused or timed out
	reasonIdle       = "idle"             // idle timeout
	reasonCopy       = "copy"             // I/O error mid-stream
	reasonShutdown   = "shutdown"         // closed at the end of the drain deadline
	reasonAccept     = "accept"           // transient accept error
	reasonPeer       = "peer_not_allowed" // vsock peer outside allowed_cids
	reasonSource     = "source_limit"     // over the route's max_connections_per_source
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hostproxy", Name: "connections_total",
			Help: "Connections accepted, per route.",
		}, []string{"route"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "hostproxy", Name: "connections_active",
			Help: "Connections being proxied now (or waiting for a slot), per route.",
		}, []string{"route"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hostproxy", Name: "connection_errors_total",
			Help: "Connections that ended in an error, per route (a route's name, or the time and logs routes) and reason (limit, dns, not_allowed, dial, idle, copy, shutdown, accept, peer_not_allowed, source_limit). Counted for every connection; the log writes at most 5 at once and one a second per route and message.",
		}, []string{"route", "reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hostproxy", Name: "bytes_total",
			Help: "Bytes forwarded, per route and direction (in: from the accepting side to the destination, out: back). Counted at least every second (and when a copy returns, on the goroutine path at least every idle_timeout/2).",
		}, []string{"route", "direction"}),
		dns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hostproxy", Name: "dns_refused_total",
			Help: "Resolved destination addresses refused by the allow-list, per route.",
		}, []string{"route"}),
		creds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hostproxy", Name: "credentials_requests_total",
			Help: "Requests to the credentials route, per result (ok, error, refresh_error, peer_not_allowed, refused).",
		}, []string{"result"}),
		limitWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "hostproxy", Name: "connect_seconds",
			Help:    "Time from accept to an established destination connection, per route.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"route"}),
		enclaveLog: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hostproxy", Name: "enclave_log_lines_total",
			Help: "Lines received on the logs route, per stream (stdout, stderr, exit, invalid, rate_limited: over max_lines_per_second, not logged).",
		}, []string{"stream"}),
		logDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hostproxy", Name: "enclave_log_dropped_lines_total",
			Help: "Lines the enclave reported it dropped because the host was slow or away (the forwarder never blocks the application).",
		}),
		logRecordsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hostproxy", Name: "log_dropped_records_total",
			Help: "host-proxy's own log records dropped because its log writer was slow (journald busy, stderr not read): the proxy never waits for its log.",
		}),
	}
	for _, c := range []prometheus.Collector{m.connections, m.active, m.errors, m.bytes, m.dns, m.creds, m.limitWait, m.enclaveLog, m.logDropped, m.logRecordsDropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
