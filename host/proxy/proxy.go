// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// Proxy is a running set of routes. Create it with [New], bind with
// [Proxy.Listen] and serve with [Proxy.Serve] (or both with [Proxy.Run]).
type Proxy struct {
	cfg      Config
	c        *compiled
	log      *slog.Logger  // through alog when Config.Logger is set
	alog     *asyncHandler // the log queue (asynclog.go); nil without Config.Logger
	m        *metrics
	gatherer prometheus.Gatherer
	routes   []*route
	creds    *credCache

	mu        sync.Mutex
	listeners map[string]net.Listener // route name / "credentials" / "admin"
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup // connection handlers
	serving   atomic.Bool
	draining  atomic.Bool
	forced    atomic.Bool
	parker    *parker      // idle directions without goroutines; nil before Serve or where unsupported
	useEngine bool         // routes are served by the event engine (Linux)
	eng       *engine      // set by Serve when useEngine
	logLimit  *logLimiter  // the logs route's budget of lines (hostsvc.go)
	connLog   *connLog     // limits the warnings a peer causes per connection (loglimit.go)
	lookups   *lookupGroup // the routes' DNS lookups, ended by Serve (dns.go)
}

type route struct {
	*compiledRoute
	sem            chan struct{}
	waiting        atomic.Int64 // connections waiting for a slot
	src            *sources     // per-source counts; nil: no per-source limit
	srcMu          sync.Mutex   // src on the goroutine path (the engine uses eroute.mu)
	dns            *dnsCache    // egress to a name
	connectTimeout time.Duration
	idleTimeout    time.Duration
	bytesIn        prometheus.Counter
	bytesOut       prometheus.Counter
	mConns         prometheus.Counter
	mActive        prometheus.Gauge
	mConnect       prometheus.Observer
	e              *eroute // the event engine's state, when it serves the route
}

// New validates cfg (see [Config]) and prepares a proxy. Every problem is
// reported at once in a [ConfigErrors]; each matches [ErrInvalidConfig], and
// [ErrNotAllowed], [ErrDuplicateListen] or [ErrBadAddress] where they apply.
// New does not listen or contact anything.
func New(cfg *Config) (*Proxy, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	c, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: *cfg, c: c, listeners: map[string]net.Listener{}, conns: map[net.Conn]struct{}{}}
	d := &p.cfg
	if d.MaxConnections == 0 {
		d.MaxConnections = DefaultMaxConnections
	}
	if d.ConnectTimeout == 0 {
		d.ConnectTimeout = DefaultConnectTimeout
	}
	if d.IdleTimeout == 0 {
		d.IdleTimeout = DefaultIdleTimeout
	}
	if d.HalfCloseGrace == 0 {
		d.HalfCloseGrace = DefaultHalfCloseGrace
	}
	if d.DNSRefresh == 0 {
		d.DNSRefresh = DefaultDNSRefresh
	}
	if d.ShutdownTimeout == 0 {
		d.ShutdownTimeout = DefaultShutdownTimeout
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	var ttlRes TTLResolver
	if d.Resolver == nil {
		d.Resolver = net.DefaultResolver
		if c := newSystemDNSClient(resolvConf); c != nil {
			ttlRes = c
		}
	} else if t, ok := d.Resolver.(TTLResolver); ok {
		ttlRes = t
	}
	reg := d.Registerer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, p.gatherer = r, r
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		p.gatherer = g
	}
	if p.m, err = newMetrics(reg); err != nil {
		return nil, fmt.Errorf("proxy: registering metrics: %w", err)
	}
	p.log = slog.New(slog.DiscardHandler)
	if d.Logger != nil {
		// Every line goes through one bounded queue and one writer
		// goroutine: a slow log sink never blocks a worker.
		p.alog = newAsyncHandler(d.Logger.Handler(), p.m.logRecordsDropped, d.Clock)
		p.log = slog.New(p.alog)
	}
	p.logLimit = newEnclaveLogLimiter(d.Logs, d.Clock, p.log)
	p.connLog = newConnLog(p.log, d.Clock)
	p.lookups = newLookupGroup()
	c.allow.lookups = p.lookups
	for _, cr := range c.routes {
		r := &route{compiledRoute: cr, connectTimeout: cr.ConnectTimeout, idleTimeout: cr.IdleTimeout}
		if r.connectTimeout == 0 {
			r.connectTimeout = d.ConnectTimeout
		}
		if r.idleTimeout == 0 {
			r.idleTimeout = d.IdleTimeout
		}
		limit := cr.MaxConnections
		if limit == 0 {
			limit = d.MaxConnections
		}
		r.sem = make(chan struct{}, limit)
		perSource := cr.MaxConnectionsPerSource
		if perSource == 0 && cr.Direction == Ingress && cr.listen.Network == transport.NetworkTCP {
			perSource = max(1, limit/perSourceDivisor)
		}
		if perSource > 0 {
			r.src = &sources{max: perSource, n: map[srcKey]int32{}}
		}
		if cr.Direction == Egress && !cr.destIP.IsValid() {
			network := "ip"
			if cr.IPVersion != 0 {
				network += strconv.Itoa(cr.IPVersion)
			}
			r.dns = &dnsCache{resolver: d.Resolver, ttl: ttlRes, name: cr.destHost, network: network,
				maxTTL: d.DNSRefresh, fixed: min(FallbackDNSRefresh, d.DNSRefresh), now: d.Clock, lookups: p.lookups}
		}
		r.bytesIn = p.m.bytes.WithLabelValues(cr.Name, "in")
		r.bytesOut = p.m.bytes.WithLabelValues(cr.Name, "out")
		r.mConns = p.m.connections.WithLabelValues(cr.Name)
		r.mActive = p.m.active.WithLabelValues(cr.Name)
		r.mConnect = p.m.limitWait.WithLabelValues(cr.Name)
		p.routes = append(p.routes, r)
	}
	if c.creds != nil {
		p.creds, err = newCredCache(c.creds, d.Clock, d.Environ, p.log, p.m)
		if err != nil {
			return nil, err
		}
		p.creds.connLog = p.connLog
	}
	return p, nil
}

// Gatherer returns the registry the metrics were registered in, when it can
// gather (the private registry, or a Registerer that is also a Gatherer).
func (p *Proxy) Gatherer() prometheus.Gatherer { return p.gatherer }

// ListenError is [Proxy.Listen]'s error: a listener could not be bound.
type ListenError struct {
	// Route is the name of the route whose listener failed; empty for a
	// service listener.
	Route string
	// Service is the service listener that failed: "credentials",
	// "time", "logs" or "admin" (the configuration key); empty for a
	// route.
	Service string
	// Addr is the address it was to listen on, e.g. "vsock://any:8000".
	Addr string
	// Err is the reason, e.g. a *net.OpError wrapping EADDRINUSE.
	Err error
}

// Error names the route (unless it is named after its address) or the
// service, then the address:
// "proxy: kms: listen on vsock://any:8000: ...".
func (e *ListenError) Error() string {
	name := e.Route + e.Service
	if name == e.Addr {
		return fmt.Sprintf("proxy: listen on %s: %v", e.Addr, e.Err)
	}
	return fmt.Sprintf("proxy: %s: listen on %s: %v", name, e.Addr, e.Err)
}

// Unwrap returns Err.
func (e *ListenError) Unwrap() error { return e.Err }

// Listen binds every listener: each route, the credentials route and the
// admin endpoint. On failure nothing stays bound and the error, a
// *[ListenError], names the route or service.
func (p *Proxy) Listen() error {
	type want struct {
		name string
		addr transport.Addr
		cids []uint32
	}
	var ws []want
	for _, r := range p.routes {
		ws = append(ws, want{r.Name, r.listen, r.AllowedCIDs})
	}
	if p.creds != nil {
		ws = append(ws, want{"credentials", p.c.credsL, p.c.creds.AllowedCIDs})
	}
	if p.cfg.Time != nil && !p.c.timeL.IsZero() {
		ws = append(ws, want{"time", p.c.timeL, p.cfg.Time.AllowedCIDs})
	}
	if p.cfg.Logs != nil && !p.c.logsL.IsZero() {
		ws = append(ws, want{"logs", p.c.logsL, p.cfg.Logs.AllowedCIDs})
	}
	if !p.c.admin.IsZero() {
		ws = append(ws, want{"admin", p.c.admin, nil})
	}
	routes := len(p.routes)
	listenError := func(i int, err error) error {
		le := &ListenError{Addr: ws[i].addr.String(), Err: err}
		if i < routes {
			le.Route = ws[i].name
		} else {
			le.Service = ws[i].name
		}
		return le
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.useEngine = engineSupported && !p.cfg.goroutines && !p.cfg.splice // splice: the goroutine path's io.Copy
	for i, w := range ws {
		if i < routes && p.useEngine {
			// The event engine accepts itself, and checks allowed_cids.
			l, err := listenEngine(w.addr)
			if err != nil {
				for _, l := range p.listeners {
					l.Close()
				}
				clear(p.listeners)
				return listenError(i, err)
			}
			p.listeners[w.name] = l
			continue
		}
		l, err := transport.Listen(w.addr)
		if err != nil {
			for _, l := range p.listeners {
				l.Close()
			}
			clear(p.listeners)
			return listenError(i, err)
		}
		p.listeners[w.name] = newPeerListener(l, w.cids, p.peerRefused(w.name))
	}
	return nil
}

// peerRefused logs and counts a connection from a vsock peer outside the
// listener's allowed_cids.
func (p *Proxy) peerRefused(name string) func(net.Addr) {
	return func(peer net.Addr) {
		if msg := "connection refused: peer not in allowed_cids"; p.connLog.allow(name, msg) {
			p.log.Warn(msg, "route", name, "peer", transport.PeerString(peer), "reason", reasonPeer)
		}
		if name == "credentials" {
			p.m.creds.WithLabelValues(reasonPeer).Inc()
			return
		}
		p.m.errors.WithLabelValues(name, reasonPeer).Inc()
	}
}

// Addr returns the bound address of the named route ("credentials" and
// "admin" for those listeners), or nil before [Proxy.Listen].
func (p *Proxy) Addr(name string) net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.listeners[name]; l != nil {
		return l.Addr()
	}
	return nil
}

// Run is [Proxy.Listen] followed by [Proxy.Serve].
func (p *Proxy) Run(ctx context.Context) error {
	if err := p.Listen(); err != nil {
		return err
	}
	return p.Serve(ctx)
}

// Serve accepts connections on the bound listeners until ctx is done, then
// shuts down gracefully: it stops accepting, reports unhealthy, waits up to
// ShutdownTimeout for active connections to finish and closes those still
// open, then ends the DNS lookups still running (see [Resolver]; a lookup
// that ignores cancellation is left after 5 s, logged). Before
// it returns it waits up to [LogFlushTimeout] for the queued
// log records to be written (see [Proxy.FlushLogs]). It returns nil after a
// shutdown, or an error if it was never bound. A Proxy serves once.
func (p *Proxy) Serve(ctx context.Context) error {
	// Last: the lines of the shutdown are written before Serve returns.
	defer p.FlushLogs(LogFlushTimeout)
	p.mu.Lock()
	if len(p.listeners) == 0 {
		p.mu.Unlock()
		return errors.New("proxy: Serve before Listen")
	}
	// Before the flush, once every connection and route has ended: the
	// reports of lines dropped by the log limiters.
	defer p.connLog.stop()
	defer p.logLimit.stop()
	listeners := make(map[string]net.Listener, len(p.listeners))
	for k, v := range p.listeners {
		listeners[k] = v
	}
	p.mu.Unlock()

	var release func()
	if p.cfg.ReleaseMemoryAfterBursts {
		release = debug.FreeOSMemory
	}
	if p.useEngine {
		eng, err := newEngine(p, listeners)
		if err != nil {
			p.mu.Lock()
			for _, l := range p.listeners {
				l.Close()
			}
			clear(p.listeners)
			p.mu.Unlock()
			return err
		}
		p.mu.Lock()
		p.eng = eng
		p.mu.Unlock()
		defer eng.stop() // after the drain: no connection is left
	} else {
		p.parker = newParker(sweepPeriod(p.routes), release)
		if p.parker != nil {
			defer p.parker.stop() // after the drain: no pair is left
		}
	}
	var loops, routeLoops sync.WaitGroup
	var servers []*http.Server
	for _, r := range p.routes {
		l := listeners[r.Name]
		if !p.useEngine {
			routeLoops.Add(1)
			go func() { defer routeLoops.Done(); p.acceptLoop(r, l) }()
		}
		p.log.Info("route ready", "route", r.Name, "direction", r.Direction, "listen", transport.Bound(r.listen, l).String(),
			"destination", r.dest.String(), "max_connections", cap(r.sem))
	}
	if l := listeners["credentials"]; l != nil {
		srv := newServiceServer(p.creds.handler(), p.log)
		servers = append(servers, srv)
		loops.Add(1)
		go func() { defer loops.Done(); _ = srv.Serve(l) }()
		loops.Add(1)
		go func() { defer loops.Done(); p.creds.prefetch(ctx) }() // warm the cache, don't delay start-up
		p.log.Info("credentials route ready", "listen", transport.Bound(p.c.credsL, l).String(), "source", p.c.creds.Source)
	}
	if l := listeners["time"]; l != nil {
		srv := newServiceServer(p.timeHandler(), p.log)
		servers = append(servers, srv)
		loops.Add(1)
		go func() { defer loops.Done(); _ = srv.Serve(l) }()
		p.log.Info("time route ready", "listen", transport.Bound(p.c.timeL, l).String())
	}
	if l := listeners["logs"]; l != nil {
		loops.Add(1)
		go func() { defer loops.Done(); p.serveLogs(ctx, l) }()
		p.log.Info("logs route ready", "listen", transport.Bound(p.c.logsL, l).String())
	}
	if l := listeners["admin"]; l != nil {
		srv := newServiceServer(p.AdminHandler(), p.log) // a scrape is a small GET too
		servers = append(servers, srv)
		loops.Add(1)
		go func() { defer loops.Done(); _ = srv.Serve(l) }()
		p.log.Info("admin endpoint ready", "listen", transport.Bound(p.c.admin, l).String())
	}
	p.serving.Store(true)

	<-ctx.Done()
	p.draining.Store(true)
	if p.eng != nil {
		p.eng.stopAccepting() // before the listeners are closed
	}
	for name, l := range listeners {
		if name != "admin" && name != "credentials" && name != "time" {
			l.Close()
		}
	}
	// Logged only once the listeners are closed, so that the line is true
	// when it is read.
	p.log.Info("shutting down: no longer accepting", "active", p.activeCount(), "drain_timeout", p.cfg.ShutdownTimeout.String())
	routeLoops.Wait() // no handler starts after this
	drained := make(chan struct{})
	go func() { p.wg.Wait(); close(drained) }()
	timer := time.NewTimer(p.cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-drained:
		p.log.Info("drained all connections")
	case <-timer.C:
		n := p.closeAll()
		p.log.Warn("drain deadline reached: closing connections still open", "closed", n)
		<-drained
	}
	// No connection is left to wait for a DNS answer: end the lookups
	// still running (each has its own timeout, and would outlive Serve).
	// A Resolver that ignores its context is not waited for past
	// lookupStopWait.
	if n := p.lookups.stop(); n > 0 {
		p.log.Warn("shutting down: lookups still running after cancellation, not waiting for them",
			"lookups", n, "waited", p.lookups.wait.String())
	}
	for _, srv := range servers {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
		_ = srv.Close()
	}
	loops.Wait()
	p.serving.Store(false)
	p.mu.Lock()
	clear(p.listeners)
	p.mu.Unlock()
	return nil
}

// sweepPeriod is how often the parker looks for parked connections past
// their idle timeout: an eighth of the shortest one, within [10ms, 1s].
func sweepPeriod(routes []*route) time.Duration {
	period := time.Second
	for _, r := range routes {
		if r.idleTimeout > 0 {
			period = min(period, r.idleTimeout/8)
		}
	}
	return max(period, 10*time.Millisecond)
}

// AdminHandler serves /healthz (200 "ok" while serving, 503 while draining
// or stopped) and /metrics.
func (p *Proxy) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case p.draining.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "draining\n")
		case !p.serving.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "starting\n")
		default:
			_, _ = io.WriteString(w, "ok\n")
		}
	})
	if p.gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(p.gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

func (p *Proxy) acceptLoop(r *route, l net.Listener) {
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.draining.Load() {
				return
			}
			// Transient (EMFILE, ECONNABORTED...): back off, keep serving.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.m.errors.WithLabelValues(r.Name, reasonAccept).Inc()
			p.log.Warn("accept failed", "route", r.Name, "error", err, "retry_in", backoff.String())
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !p.track(c) {
			c.Close()
			return
		}
		go p.handle(r, c)
	}
}

// track registers a connection for the forced close at the drain deadline;
// it fails once that has happened. New handlers are counted in p.wg.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.forced.Load() {
		return false
	}
	p.conns[c] = struct{}{}
	p.wg.Add(1)
	return true
}

func (p *Proxy) trackUpstream(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.forced.Load() {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

func (p *Proxy) activeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns)
	if p.eng != nil {
		n += p.eng.active()
	}
	return n
}

func (p *Proxy) closeAll() int {
	p.mu.Lock()
	p.forced.Store(true)
	for c := range p.conns {
		resetConn(c) // cut at the drain deadline: the peers see a reset
		c.Close()
	}
	n := len(p.conns)
	eng := p.eng
	p.mu.Unlock()
	if p.parker != nil {
		p.parker.shutdown() // parked directions have no goroutine to see the close
	}
	if eng != nil {
		n += eng.forceClose()
	}
	return n
}

// conn is one proxied connection: what its handler and its two copy
// goroutines share for logging and metrics.
type conn struct {
	p     *Proxy
	r     *route
	c     net.Conn // nil in the event engine
	peer  interface{ RemoteAddr() net.Addr }
	start time.Time
	clog  *slog.Logger
	src   srcKey // the client's source, counted in r.src while srcHeld
	// srcHeld: the connection counts in its route's per-source limit.
	srcHeld bool
}

// refuseSource refuses a connection over its route's per-source limit.
func (cn *conn) refuseSource() {
	cn.fail(reasonSource, "connection refused: too many connections from one source",
		"max_connections_per_source", cn.r.src.max)
}

// log returns the connection's logger, built only when something is logged.
func (cn *conn) log() *slog.Logger {
	if cn.clog == nil {
		cn.clog = cn.p.log.With("route", cn.r.Name, "peer", transport.PeerString(cn.peer.RemoteAddr()))
	}
	return cn.clog
}

// fail logs why the connection ended and counts it.
func (cn *conn) fail(reason string, msg string, args ...any) {
	if cn.p.forced.Load() {
		reason = reasonShutdown
	}
	cn.p.m.errors.WithLabelValues(cn.r.Name, reason).Inc()
	if cn.p.connLog.allow(cn.r.Name, msg) {
		cn.log().Warn(msg, append(args, "reason", reason)...)
	}
}

// handle proxies one accepted connection. It never panics on peer input:
// it only copies bytes. It waits for a slot and dials the destination, then
// hands the connection to a fresh goroutine (see [Proxy.pipe]) and returns:
// its own stack, grown by the dial, is not kept for the life of the
// connection. An idle connection holds no goroutine and no buffer (see
// [parker] and [rawSource]).
func (p *Proxy) handle(r *route, c net.Conn) {
	cn := &conn{p: p, r: r, c: c, peer: c, start: time.Now()}
	urgentInline(c)
	r.mConns.Inc()
	r.mActive.Inc()
	ok := true
	if r.src != nil {
		if cn.src, cn.srcHeld = netSrcKey(c.RemoteAddr()); cn.srcHeld {
			r.srcMu.Lock()
			ok = r.src.take(cn.src)
			r.srcMu.Unlock()
			if !ok {
				cn.srcHeld = false
				cn.refuseSource()
			}
		}
	}
	var up net.Conn
	if ok {
		up, ok = p.connect(cn)
	}
	if !ok {
		c.Close()
		p.untrack(c)
		cn.putSource()
		r.mActive.Dec()
		p.wg.Done()
		return
	}
	go p.pipe(cn, up)
}

// putSource uncounts a goroutine-path connection from its source.
func (cn *conn) putSource() {
	if cn.srcHeld {
		cn.srcHeld = false
		cn.r.srcMu.Lock()
		cn.r.src.put(cn.src)
		cn.r.srcMu.Unlock()
	}
}

// connect takes a slot of the route and dials its destination. On success
// the slot is held and up is tracked; pipe releases both.
func (p *Proxy) connect(cn *conn) (up net.Conn, ok bool) {
	r := cn.r
	ctx, cancel := context.WithTimeout(context.Background(), r.connectTimeout)
	defer cancel()
	select {
	case r.sem <- struct{}{}:
	default:
		// At the limit: wait up to the connect timeout for a slot, with at
		// most max_connections connections waiting at once.
		if r.waiting.Add(1) > int64(cap(r.sem)) {
			r.waiting.Add(-1)
			cn.fail(reasonLimit, "connection refused: concurrency limit reached and too many waiting",
				"max_connections", cap(r.sem))
			return nil, false
		}
		select {
		case r.sem <- struct{}{}:
			r.waiting.Add(-1)
		case <-ctx.Done():
			r.waiting.Add(-1)
			cn.fail(reasonLimit, "connection refused: concurrency limit reached", "max_connections", cap(r.sem),
				"waited", r.connectTimeout.String())
			return nil, false
		}
	}
	up, reason, err := p.dial(ctx, r, cn.log)
	if err != nil {
		<-r.sem
		cn.fail(reason, "destination unavailable: closing connection", "destination", r.dest.String(), "error", err)
		return nil, false
	}
	if !p.trackUpstream(up) {
		<-r.sem
		up.Close()
		return nil, false
	}
	r.mConnect.Observe(time.Since(cn.start).Seconds())
	return up, true
}

// firstReal picks the error that ended a connection, preferring one that is
// not a consequence of the other side being closed.
func firstReal(a, b error) error {
	for _, e := range []error{a, b} {
		if e != nil && !errors.Is(e, net.ErrClosed) {
			return e
		}
	}
	if a != nil {
		return a
	}
	return b
}

// allowedAddrs returns the addresses of got that the allow-list allows for
// r's destination name, logging and counting the others; an error when none
// is left.
func (p *Proxy) allowedAddrs(r *route, got []netip.Addr, log func() *slog.Logger) ([]netip.Addr, error) {
	addrs := make([]netip.Addr, 0, len(got))
	for _, a := range got {
		if why := p.c.allow.checkResolved(r.destHost, a, r.destPort); why != "" {
			p.m.dns.WithLabelValues(r.Name).Inc()
			if msg := "resolved address refused"; p.connLog.allow(r.Name, msg) {
				log().Warn(msg, "name", r.destHost, "address", a.String(), "why", why)
			}
			continue
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: no address of %s is allowed (resolved to %v)", ErrNotAllowed, r.destHost, got)
	}
	return addrs, nil
}

// dial connects to the route's destination; for egress it resolves, checks
// every address against the allow-list and tries the allowed ones in order.
func (p *Proxy) dial(ctx context.Context, r *route, log func() *slog.Logger) (net.Conn, string, error) {
	if r.Direction == Ingress {
		c, err := transport.Dial(ctx, r.dest)
		if err != nil {
			return nil, reasonDial, err
		}
		urgentInline(c)
		return c, "", nil
	}
	var addrs []netip.Addr
	if r.dns == nil {
		addrs = []netip.Addr{r.destIP}
	} else {
		got, stale, err := r.dns.lookup(ctx)
		if err != nil {
			return nil, reasonDNS, fmt.Errorf("resolving %s: %w", r.destHost, err)
		}
		if msg := "DNS refresh failed: using the previous answer"; stale != nil && p.connLog.allow(r.Name, msg) {
			log().Warn(msg, "name", r.destHost, "error", stale)
		}
		if addrs, err = p.allowedAddrs(r, got, log); err != nil {
			return nil, reasonNotAllowed, err
		}
	}
	var d net.Dialer
	var errs []error
	for _, a := range addrs {
		// Not Dialer.DialTCP: its zero local address is bound
		// explicitly (an ephemeral port chosen before the destination
		// is known, a bind(2) more per connection).
		c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(a, uint16(r.destPort)).String())
		if err == nil {
			urgentInline(c)
			return c, "", nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, reasonDial, errors.Join(errs...)
}
