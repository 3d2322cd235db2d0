// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"golang.org/x/net/netutil"
	"golang.org/x/time/rate"

	"github.com/enclavekit/enclavekit/attestedtls"
)

// Defaults for the bounds of [Attested.Serve] (see [AttestedConfig]).
const (
	// DefaultAttestedHeaderTimeout is AttestedConfig.HeaderTimeout when
	// zero.
	DefaultAttestedHeaderTimeout = 10 * time.Second
	// DefaultAttestedIdleTimeout is AttestedConfig.IdleTimeout when zero.
	DefaultAttestedIdleTimeout = 2 * time.Minute
	// DefaultAttestedWriteTimeout is AttestedConfig.WriteTimeout when
	// zero.
	DefaultAttestedWriteTimeout = time.Minute
	// DefaultAttestedMaxConns is AttestedConfig.MaxConns when zero.
	DefaultAttestedMaxConns = 1024
	// DefaultAttestedMaxHandshakeRate is AttestedConfig.MaxHandshakeRate
	// when zero: 100 handshakes a second.
	DefaultAttestedMaxHandshakeRate = 100
	// DefaultAttestedHandshakeBurst is AttestedConfig.HandshakeBurst when
	// zero.
	DefaultAttestedHandshakeBurst = 100
)

// AttestedConfig configures [NewAttested].
//
// Every connection to the attested listener comes through the parent
// instance, which the threat model treats as an attacker: the bounds below
// limit what it costs the enclave. A negative bound is refused
// ([ErrConfig]); zero is its default.
type AttestedConfig struct {
	// NSM makes the attestation documents. Required.
	NSM attestedtls.Attester
	// Upstream is the application's HTTP server inside the enclave, an
	// http:// URL on a loopback address (http://127.0.0.1:8080): every
	// request but the attestation challenge is passed to it. Required.
	Upstream string
	// DNSNames go into the TLS certificate (see attestedtls.ServerConfig).
	DNSNames []string
	// Refresh is attestedtls.ServerConfig.Refresh (zero: its default).
	Refresh time.Duration
	// Logger; nil is slog.Default().
	Logger *slog.Logger

	// HeaderTimeout bounds the TLS handshake, from the connection's
	// opening, and then each request's line and headers, from the
	// request's first byte (the first request's from the end of the
	// handshake): a client that connects and sends nothing, or sends
	// half a handshake or half a request, is closed after it. Zero is
	// DefaultAttestedHeaderTimeout (10 s: ample for a handshake and a
	// request head across the internet, short for a client that only
	// holds the connection).
	HeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// connection. Zero is DefaultAttestedIdleTimeout (2 min, as the local
	// KMS endpoint).
	IdleTimeout time.Duration
	// WriteTimeout bounds each request end to end, from the end of its
	// headers: the arrival of its body, the application's answer and
	// the client's reading of it must all be done within it. At the
	// bound the request's context is cancelled, and the request to the
	// application with it, releasing its connection (the client gets
	// 504 upstream_timeout if no answer had begun); a moment later (a
	// quarter of the bound, at most 1 s) the connection's reads and
	// writes fail, which closes it. So a client that sends a request
	// and never reads the answer, or trickles its body, holds a
	// goroutine and a connection to the application for this long at
	// most, and its MaxConns slot up to about 5 s more (crypto/tls waits
	// that long to send its closing alert into a full send buffer
	// before the connection closes). An upgraded connection (WebSocket) is one request, bounded
	// by it as well. Zero is DefaultAttestedWriteTimeout (1 min:
	// the usual bound of reverse proxies and load balancers, nginx's
	// proxy_read_timeout and send_timeout, an ALB's idle timeout; an
	// application that streams longer answers needs a longer one).
	WriteTimeout time.Duration
	// MaxConns bounds the connections open at once. Each costs the
	// enclave a goroutine, its TLS and HTTP buffers (tens of KiB) and,
	// for its handshake, an ECDSA signature; one beyond the bound is not
	// accepted, so neither handshaken nor read, until another closes: it
	// waits in the kernel's accept queue, and the client sees a slow
	// handshake, not an error. Held connections are closed by the
	// timeouts above, so a parent that holds MaxConns of them keeps other
	// clients waiting (a denial of service, which it can cause anyway by
	// relaying nothing) but cannot grow the enclave's memory. Zero is
	// DefaultAttestedMaxConns (1024, host-proxy's default per route,
	// which relays this listener: tens of MiB at most).
	MaxConns int
	// MaxHandshakeRate bounds the TLS handshakes the listener starts, per
	// second on average; HandshakeBurst is how many may start at once
	// after a quiet spell (a token bucket: HandshakeBurst tokens, one
	// more every 1/MaxHandshakeRate s). MaxConns does not bound this: a
	// parent that opens connections and closes each once its handshake
	// is done keeps few open, yet makes the enclave do one handshake per
	// connection (a key exchange of the parent's choosing and an ECDSA
	// signature; it need not compute anything itself, since replaying
	// one recorded ClientHello suffices), burning the enclave's CPUs,
	// which its application needs for its own work. A connection is
	// accepted only with a token: without one it waits in the kernel's
	// accept queue, as one over MaxConns does, costing the enclave
	// nothing, and its client sees a slow handshake, not an error. So in
	// any t seconds at most HandshakeBurst + 1 + MaxHandshakeRate × t
	// handshakes start (the one more is the connection whose token was
	// taken before it arrived).
	//
	// One handshake, measured (BenchmarkAttestedHandshake, CPU time per
	// connection through the listener, on a 2-core Xeon): 0.43 ms with
	// X25519MLKEM768 (Go's and browsers' default), 0.31 ms with P-256 or
	// X25519, 0.99 ms with SecP384r1MLKEM1024, the costliest the parent
	// can pick (attestedtls.KeyExchanges leaves out P-521, 1.7 ms). Zero
	// is DefaultAttestedMaxHandshakeRate (100 a second): a parent spamming
	// handshakes takes at most 100 × 0.99 ms = 99 ms of CPU a second, 10 %
	// of one core, with the costliest key exchange (4 % with the default
	// one), and the burst's more at once after a quiet spell. An
	// application whose clients open more than 100 connections a second
	// (rather than keeping them alive) needs a higher bound
	// (enclave-agent serve --attested-handshake-rate), and leaves the
	// parent more of the CPU.
	MaxHandshakeRate int
	// HandshakeBurst is the token bucket's size (see MaxHandshakeRate):
	// how many handshakes may start at once, for clients that open
	// several connections together. Zero is DefaultAttestedHandshakeBurst
	// (100: 99 ms of CPU with the costliest key exchange, taken at once
	// after a quiet second).
	HandshakeBurst int
	// Clock is the listener's time source: the handshake rate's token
	// bucket reads it, and so does the certificate's refresh
	// (attestedtls.ServerConfig.Clock). nil is time.Now, whose monotonic
	// reading a step of the wall clock does not move. A wait for a token
	// sleeps on the system's timers for the time Clock says is left, then
	// reads Clock again. The connections' timeouts are deadlines on the
	// system clock, whatever Clock is.
	Clock func() time.Time

	// sleep waits d or until ctx ends (then returns its error); nil is a
	// system timer. Tests set it (export_test.go) to drive the token
	// bucket with a fake Clock.
	sleep func(ctx context.Context, d time.Duration) error
}

// attestedLimits are the bounds [Attested.Serve] serves with, the zero
// fields of an AttestedConfig replaced by their defaults.
type attestedLimits struct {
	header, idle, write time.Duration
	conns               int
	hsRate, hsBurst     int
}

// orDefault is an attested listener bound: def for 0, v otherwise; a
// negative v is also an ErrConfig naming the bound, added to errs.
func orDefault[T int | time.Duration](errs *[]error, name string, v, def T) T {
	if v < 0 {
		*errs = append(*errs, fmt.Errorf("%w: attested listener: %s is negative (%v); 0 is the default, %v", ErrConfig, name, v, def))
	}
	if v == 0 {
		return def
	}
	return v
}

// limits checks cfg's bounds, reporting every negative one, and
// returns them with the defaults filled in.
func (cfg *AttestedConfig) limits() (attestedLimits, error) {
	var errs []error
	dur := func(name string, v, def time.Duration) time.Duration { return orDefault(&errs, name, v, def) }
	count := func(name string, v, def int) int { return orDefault(&errs, name, v, def) }
	lim := attestedLimits{
		header:  dur("HeaderTimeout", cfg.HeaderTimeout, DefaultAttestedHeaderTimeout),
		idle:    dur("IdleTimeout", cfg.IdleTimeout, DefaultAttestedIdleTimeout),
		write:   dur("WriteTimeout", cfg.WriteTimeout, DefaultAttestedWriteTimeout),
		conns:   count("MaxConns", cfg.MaxConns, DefaultAttestedMaxConns),
		hsRate:  count("MaxHandshakeRate", cfg.MaxHandshakeRate, DefaultAttestedMaxHandshakeRate),
		hsBurst: count("HandshakeBurst", cfg.HandshakeBurst, DefaultAttestedHandshakeBurst),
	}
	return lim, errors.Join(errs...)
}

// Attested is the agent's attested TLS listener: one TLS 1.3 listener,
// terminated inside the enclave with a key that never leaves it, serving
// the attestation challenge (attestedtls.ChallengePath) and, for every
// other path, a reverse proxy to the application (AttestedConfig.Upstream).
// Remote clients verify it with the attestedtls package or
// nitro-verify --connect. host-proxy ingress relays it as raw TCP.
//
// The proxy answers for the application in two cases, with JSON
// {"error":{"code","message"}}: 502 upstream_error when the application
// cannot be reached or fails before answering (connection refused or
// reset, a malformed answer), and 504 upstream_timeout when it has not
// begun answering within AttestedConfig.WriteTimeout. Every other status
// is the application's own.
type Attested struct {
	srv   *attestedtls.Server
	h     http.Handler
	lim   attestedLimits
	log   *slog.Logger
	clock func() time.Time
	sleep func(context.Context, time.Duration) error
}

// NewAttested makes the TLS key and first certificate and builds the
// handler.
func NewAttested(cfg *AttestedConfig) (*Attested, error) {
	if cfg == nil || cfg.NSM == nil {
		return nil, fmt.Errorf("%w: attested listener without NSM", ErrConfig)
	}
	up, err := parseUpstream(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	lim, err := cfg.limits()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	clock, sleep := cfg.Clock, cfg.sleep
	if clock == nil {
		clock = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	srv, err := attestedtls.NewServer(&attestedtls.ServerConfig{NSM: cfg.NSM, DNSNames: cfg.DNSNames, Refresh: cfg.Refresh, Clock: clock, Logger: log})
	if err != nil {
		return nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(up)
			r.Out.Host = r.In.Host
			r.Out.Header.Set("X-Forwarded-Proto", "https")
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.DeadlineExceeded) {
				log.Warn("attested listener: the application did not answer in time", slog.String("upstream", up.String()), slog.Duration("write_timeout", lim.write))
				writeError(w, http.StatusGatewayTimeout, "upstream_timeout", "the application did not answer within "+lim.write.String())
				return
			}
			log.Warn("attested listener: upstream failed", slog.String("upstream", up.String()), slog.Any("err", err))
			writeError(w, http.StatusBadGateway, "upstream_error", "the application did not answer")
		},
	}
	return &Attested{srv: srv, h: srv.Handler(rp), lim: lim, log: log, clock: clock, sleep: sleep}, nil
}

// parseUpstream accepts only http:// URLs on a loopback host: the
// application runs beside the agent, and nothing else is reachable from
// an enclave but through the parent.
func parseUpstream(s string) (*url.URL, error) {
	bad := func(why string) (*url.URL, error) {
		return nil, fmt.Errorf("%w: upstream %q: %s (want http://127.0.0.1:PORT)", ErrConfig, s, why)
	}
	if s == "" {
		return bad("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("not a URL")
	}
	if u.Scheme != "http" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return bad("want an http:// URL with a host and port only")
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); !(host == "localhost" || ip != nil && ip.IsLoopback()) {
		return bad("not a loopback address: traffic to any other host would leave the enclave through the parent unencrypted")
	}
	if u.Port() == "" {
		return bad("no port")
	}
	u.Path = ""
	return u, nil
}

// Handler returns the listener's HTTP handler (challenge and reverse proxy).
func (a *Attested) Handler() http.Handler { return a.h }

// TLSConfig returns the listener's TLS configuration. An http.Server
// serving with it must set Protocols to attestedtls.HTTP1Only(), as
// [Attested.Serve] does: see attestedtls.Server.TLSConfig.
func (a *Attested) TLSConfig() *tls.Config { return a.srv.TLSConfig() }

// KeyHash returns the SHA-256 of the TLS key's SubjectPublicKeyInfo.
func (a *Attested) KeyHash() []byte { return a.srv.KeyHash() }

// bounded bounds each request h serves to the listener's WriteTimeout:
// its context ends then, which ends the request to the application (an
// answer not begun is 504, written within the grace), and the
// connection's reads and writes fail a grace later (a quarter of the
// bound, at most 1 s), which closes it. The deadlines are the
// connection's, so they hold whatever h does, a hijacked (upgraded)
// connection included; the server clears them after the request.
func (a *Attested) bounded(h http.Handler) http.Handler {
	grace := min(time.Second, a.lim.write/4)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		end := time.Now().Add(a.lim.write)
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(end.Add(grace))
		_ = rc.SetWriteDeadline(end.Add(grace))
		ctx, cancel := context.WithDeadline(r.Context(), end)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// rateListener takes a token from a bucket of burst, filled at perSec a
// second of now's time, before each Accept of the listener it wraps:
// connections beyond the rate wait unaccepted in the kernel's queue,
// nothing allocated for them. Accept is called by one goroutine at a time
// (http.Server's loop).
type rateListener struct {
	net.Listener
	lim    *rate.Limiter
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
	closed context.Context // done once Close is called
	close  context.CancelFunc
}

func newRateListener(ln net.Listener, perSec, burst int, now func() time.Time, sleep func(context.Context, time.Duration) error) *rateListener {
	ctx, cancel := context.WithCancel(context.Background())
	return &rateListener{Listener: ln, lim: rate.NewLimiter(rate.Limit(perSec), burst), now: now, sleep: sleep, closed: ctx, close: cancel}
}

// Accept takes a token, waiting until now's time reaches it, then
// accepts. Closing the listener ends the wait with net.ErrClosed.
func (l *rateListener) Accept() (net.Conn, error) {
	// burst is at least 1 (limits), so the reservation is always OK.
	r := l.lim.ReserveN(l.now(), 1)
	for d := r.DelayFrom(l.now()); d > 0; d = r.DelayFrom(l.now()) {
		if err := l.sleep(l.closed, d); err != nil {
			return nil, fmt.Errorf("agent: attested listener: %w", net.ErrClosed)
		}
	}
	return l.Listener.Accept()
}

// sleepCtx waits d on a system timer, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends a waiting Accept and closes the listener.
func (l *rateListener) Close() error {
	l.close()
	return l.Listener.Close()
}

// Serve serves the attested listener on the transport address addr
// (vsock://, tcp:// or unix://) until ctx is done, then shuts down
// gracefully (up to 5 s). ready, when not nil, receives the listener's
// address once listening.
//
// Its bounds are AttestedConfig's: at most MaxConns connections (one
// more waits unaccepted), handshakes started at MaxHandshakeRate a
// second after a burst of HandshakeBurst (one more waits unaccepted),
// the handshake and each request's head within HeaderTimeout, each
// request end to end within WriteTimeout (504 upstream_timeout when the
// application has not answered by then; 502 upstream_error when it cannot
// be reached), kept-alive connections idle for
// IdleTimeout at most; request line and headers 16 KiB (431 beyond).
// It speaks HTTP/1.1 only: a client offering only h2 in ALPN fails the
// handshake.
func (a *Attested) Serve(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := listen(addr, "attested listen address")
	if err != nil {
		return err
	}
	// A connection is accepted with a slot (MaxConns) and then a token
	// (MaxHandshakeRate): while either is lacking, the next connection
	// waits in the kernel's accept queue, and no token is spent while
	// the slots are all taken.
	ln = netutil.LimitListener(newRateListener(ln, a.lim.hsRate, a.lim.hsBurst, a.clock, a.sleep), a.lim.conns)
	srv := &http.Server{
		Handler:   a.bounded(a.h),
		TLSConfig: a.srv.TLSConfig(),
		// HTTP/1.1 only: every bound above is per connection and per
		// HTTP/1.1 request. Over HTTP/2 (which http.Server adds to the
		// ALPN list unless told otherwise) one connection carried 250
		// requests at once past MaxConns, and its frames were read and
		// its streams written beyond HeaderTimeout and WriteTimeout.
		// A client offering only h2 fails the handshake
		// (no_application_protocol).
		Protocols:         attestedtls.HTTP1Only(),
		ReadHeaderTimeout: a.lim.header, // the handshake's bound too
		IdleTimeout:       a.lim.idle,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return serveUntilDone(ctx, srv, func() error { return srv.ServeTLS(ln, "", "") }, "agent: attested serve")
}
