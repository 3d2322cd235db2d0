// SPDX-License-Identifier: Apache-2.0

package kmsserver

// The service lifecycle: Listen binds, Serve serves until its context ends,
// as host/proxy does. Background loops (key deletion in deletion.go,
// automatic rotation in rotation.go) run under Serve too.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// WriteTimeout bounds the writing of a KMS listener's answer, from the end
// of the request's header ([Config.RequestTimeout] must stay below it).
const WriteTimeout = 30 * time.Second

// DefaultRequestTimeout is [Config.RequestTimeout] when left zero: below
// [WriteTimeout] with room to write the answer.
const DefaultRequestTimeout = 10 * time.Second

// DefaultMaxConnections is [Config.MaxConnections] when left zero.
const DefaultMaxConnections = 4096

// metricsMaxConnections bounds the metrics listener's connections open at
// once, as [Config.MaxConnections] does the KMS listener's: its clients
// are a scraper and health checks, a few connections, so a small fixed
// bound serves them and keeps a flood of connections to it (unauthenticated
// too) from growing the server's memory. metricsIdleTimeout closes the
// kept-alive ones left idle: without it (and without a ReadTimeout) net/http
// would hold them for good, and 64 held connections would lock the health
// checks out.
const (
	metricsMaxConnections = 64
	metricsIdleTimeout    = 30 * time.Second
)

// errShutdownCut is the cause with which [Server.Serve] cancels the
// requests still running when, at the end of [Config.ShutdownTimeout], it
// closes their connections.
var errShutdownCut = errors.New("kmsserver: request cut: its connection was closed at the end of the shutdown timeout")

// httpServer returns an http.Server for h with the timeouts and header
// limit the service needs (slow clients cannot hold connections), serving
// HTTP/1.1 only: the AWS SDKs and CLI speak HTTP/1.1 to KMS, and HTTP/2's
// concurrent streams (250 per connection by default) would escape the
// bound of [Config.MaxConnections] on the requests in flight.
func (s *Server) httpServer(h http.Handler) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	return &http.Server{
		Protocols:         &protocols,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
}

// AdminHandler serves /metrics and /healthz (200 "ok" while the audit log
// can be written, the key store answers and shutdown has not begun, 503
// otherwise), as the metrics
// listener does.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.MetricsHandler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			http.Error(w, "unhealthy: shutting down", http.StatusServiceUnavailable)
			return
		}
		if err := s.Healthy(r.Context()); errors.Is(err, ErrAuditLogUnwritable) {
			http.Error(w, "unhealthy: the audit log cannot be written (see the server's log)", http.StatusServiceUnavailable)
			return
		} else if err != nil {
			// Anyone who reaches the listener asks, unauthenticated: the
			// store's error (a database's address, user and name) is logged,
			// not answered.
			s.cfg.Logger.Warn("health check: the key store does not answer", "error", err)
			http.Error(w, "unhealthy: the key store does not answer (see the server's log)", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}

// ListenError is a listener [Server.Listen] could not bind.
type ListenError struct {
	// Listener is "kms" or "metrics".
	Listener string
	// Addr is the address as configured ([Config.Listen] or
	// [Config.MetricsListen]).
	Addr string
	// Err is the reason.
	Err error
}

// Error names the listener and the reason.
func (e *ListenError) Error() string {
	return fmt.Sprintf("kmsserver: %s listener: %v", e.Listener, e.Err)
}

// Unwrap returns Err.
func (e *ListenError) Unwrap() error { return e.Err }

// Listen binds the KMS listener ([Config.Listen], TLS with
// [Config.TLSConfig]) and, when configured, the
// metrics listener ([Config.MetricsListen]). On failure nothing stays bound
// and the error, a [*ListenError], names the listener.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listeners) > 0 {
		return errors.New("kmsserver: Listen called twice")
	}
	want := [][2]string{{"kms", s.cfg.Listen}}
	if s.cfg.MetricsListen != "" {
		want = append(want, [2]string{"metrics", s.cfg.MetricsListen})
	}
	for _, w := range want {
		// Any transport address: HOST:PORT, tcp://, unix:// or vsock://.
		a, err := transport.ParseAddr(w[1])
		var l net.Listener
		if err == nil {
			l, err = transport.Listen(a)
		}
		if err != nil {
			for _, l := range s.listeners {
				l.Close()
			}
			clear(s.listeners)
			return &ListenError{Listener: w[0], Addr: w[1], Err: err}
		}
		s.listeners[w[0]] = l
	}
	return nil
}

// Addr returns the bound address of the "kms" or "metrics" listener, or
// nil before [Server.Listen].
func (s *Server) Addr(name string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.listeners[name]; l != nil {
		return l.Addr()
	}
	return nil
}

// Serve serves the bound listeners, and runs the background loops (the
// destruction of keys whose deletion date has passed, every
// [Config.DeletionSweepInterval]; the automatic rotation of keys, every
// [Config.RotationSweepInterval]), until ctx is done, then shuts down
// gracefully: it stops accepting, waits up to [Config.ShutdownTimeout] for
// requests in flight and closes the connections still open (the requests
// still running are canceled with a cause, so they are recorded as
// KMSInternalException, not as their clients' [CodeClientClosedRequest]).
// It returns nil after a shutdown, or the error that stopped a listener. A
// Server serves once.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ls := make(map[string]net.Listener, len(s.listeners))
	for k, v := range s.listeners {
		ls[k] = v
	}
	s.mu.Unlock()
	if ls["kms"] == nil {
		return errors.New("kmsserver: Serve before Listen")
	}
	// The bound counts connections from their accept: inside TLS, so that
	// one held before or during its handshake counts as well.
	ls["kms"] = netutil.LimitListener(ls["kms"], s.cfg.MaxConnections)
	if ls["metrics"] != nil {
		ls["metrics"] = netutil.LimitListener(ls["metrics"], metricsMaxConnections)
	}
	if s.cfg.TLSConfig != nil {
		tc := s.cfg.TLSConfig.Clone()
		if tc.MinVersion < tls.VersionTLS12 {
			tc.MinVersion = tls.VersionTLS12
		}
		// HTTP/1.1 only (httpServer): a client offering h2 must not have
		// it negotiated, or its connection would fail.
		tc.NextProtos = slices.DeleteFunc(slices.Clone(tc.NextProtos), func(p string) bool { return p == "h2" })
		ls["kms"] = tls.NewListener(ls["kms"], tc)
	}
	servers := map[string]*http.Server{"kms": s.httpServer(s.Handler())}
	// The KMS requests' contexts descend from cutCtx, canceled (with
	// errShutdownCut as its cause) only when the shutdown timeout has passed
	// and the connections still open are closed: a request cut then is the
	// server's doing, not a client's hang-up (canceled in server.go).
	cutCtx, cutRequests := context.WithCancelCause(context.Background())
	defer cutRequests(errShutdownCut)
	servers["kms"].BaseContext = func(net.Listener) context.Context { return cutCtx }
	if ls["metrics"] != nil {
		servers["metrics"] = &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second,
			IdleTimeout: metricsIdleTimeout, ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn)}
	}
	errc := make(chan error, len(servers))
	var wg sync.WaitGroup
	for name, hs := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hs.Serve(ls[name]); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("kmsserver: %s listener: %w", name, err)
			}
		}()
	}
	loopCtx, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	var loops sync.WaitGroup
	loops.Add(1)
	go func() { defer loops.Done(); s.deletionLoop(loopCtx) }()
	loops.Add(1)
	go func() { defer loops.Done(); s.rotationLoop(loopCtx) }()
	loops.Add(1)
	go func() { defer loops.Done(); s.usageLoop(loopCtx) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.draining.Store(true)
	stopLoops()
	loops.Wait()
	s.cfg.Logger.Info("shutting down", "drain_timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	for _, hs := range servers {
		if serr := hs.Shutdown(sctx); serr != nil {
			cutRequests(errShutdownCut)
			hs.Close()
		}
	}
	wg.Wait()
	// The requests have finished: their keys' usage reaches the store.
	fctx, fcancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	if ferr := s.FlushKeyUsage(fctx); ferr != nil {
		s.cfg.Logger.Error("key usage flush at shutdown failed; the usage since the last flush is lost", "error", ferr)
	}
	fcancel()
	s.mu.Lock()
	clear(s.listeners)
	s.mu.Unlock()
	return err
}
