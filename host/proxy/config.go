// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/internal/strictyaml"
	"github.com/enclavekit/enclavekit/internal/transport"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by [New] to zero fields of a [Config].
const (
	DefaultMaxConnections  = 1024
	DefaultConnectTimeout  = 10 * time.Second
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultHalfCloseGrace  = 10 * time.Second
	DefaultDNSRefresh      = 5 * time.Minute
	DefaultShutdownTimeout = 30 * time.Second
	DefaultRefreshBefore   = 5 * time.Minute
	// MaxConnectionsLimit is the largest accepted max_connections.
	MaxConnectionsLimit = 1 << 20
	// DefaultIMDSURL is the instance metadata service of the parent.
	DefaultIMDSURL = "http://169.254.169.254"
)

// Route directions.
const (
	// Egress routes carry connections from the enclave (a vsock listener on
	// the parent) to an allow-listed TCP destination.
	Egress = "egress"
	// Ingress routes carry connections from the host network (a TCP
	// listener) into the enclave (a vsock destination).
	Ingress = "ingress"
)

// Config is the proxy configuration: the YAML file (a superset of
// vsock-proxy's, which holds only allowlist) plus run-time dependencies that
// are not part of the file.
//
//	allowlist:
//	  - {address: kms.eu-west-1.amazonaws.com, port: 443}
//	routes:
//	  - name: kms
//	    direction: egress
//	    listen: vsock://any:8000
//	    destination: tcp://kms.eu-west-1.amazonaws.com:443
//	  - name: attestation
//	    direction: ingress
//	    listen: tcp://0.0.0.0:8443
//	    destination: vsock://16:5005
//	admin: tcp://127.0.0.1:9102
//
// The zero value of every optional field selects the documented default.
type Config struct {
	// AllowList governs egress destinations (see [AllowEntry]). Ingress
	// destinations (the enclave) are not subject to it.
	AllowList []AllowEntry `yaml:"allowlist"`
	// Routes are the listeners; at least one route or Credentials is needed.
	Routes []Route `yaml:"routes"`
	// Credentials, when set, serves the parent's role credentials to the
	// enclave.
	Credentials *CredentialsConfig `yaml:"credentials"`
	// Time, when set, serves the parent's clock to the enclave
	// (enclave-agent init --time-from): GET /v1/time.
	Time *ServiceConfig `yaml:"time"`
	// Logs, when set, receives the enclave application's stdout and stderr
	// (enclave-agent init --logs-to) and writes them to host-proxy's log.
	Logs *ServiceConfig `yaml:"logs"`
	// Admin is a loopback TCP or unix address serving /healthz and /metrics;
	// empty disables it.
	Admin string `yaml:"admin"`

	// MaxConnections is the default per-route concurrency limit
	// (DefaultMaxConnections when 0). A connection beyond the limit waits
	// up to the connect timeout for a slot, then is closed with a logged
	// reason; at most MaxConnections connections wait at once, further ones
	// are closed at once.
	MaxConnections int `yaml:"max_connections"`
	// ConnectTimeout bounds waiting for a slot, resolving and dialling.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// IdleTimeout closes a connection with no traffic in either direction
	// for this long (between 1 and 1.5 times the value).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// HalfCloseGrace is how long a client may keep its side of a
	// connection open after the destination (the enclave, on an ingress
	// route) has finished sending: then the connection is closed, so that
	// silent clients cannot hold max_connections slots until IdleTimeout.
	HalfCloseGrace time.Duration `yaml:"half_close_grace"`
	// DNSRefresh is the longest a resolved destination is used before it
	// is resolved again (DefaultDNSRefresh, 5 min, when 0). Answers are
	// kept for their records' TTL, at least MinDNSTTL and at most
	// DNSRefresh; when the TTL is unknown (see [TTLResolver]), for
	// FallbackDNSRefresh or DNSRefresh, whichever is shorter.
	DNSRefresh time.Duration `yaml:"dns_refresh"`
	// ShutdownTimeout bounds draining active connections after shutdown
	// starts; connections still open then are closed.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// Logger receives structured logs; nil discards them. Its handler is
	// called from the proxy's log writer goroutine, after a bounded queue
	// (see "Operations" in the package documentation): the proxy never
	// waits for it.
	Logger *slog.Logger `yaml:"-"`
	// Resolver resolves destination names; nil is net.DefaultResolver.
	Resolver Resolver `yaml:"-"`
	// Registerer receives the proxy's metrics; nil creates a private
	// registry (see [Proxy.Gatherer]).
	Registerer prometheus.Registerer `yaml:"-"`
	// Clock is the clock; nil is time.Now.
	Clock func() time.Time `yaml:"-"`
	// Environ is the environment for credentials source "env"; nil is
	// os.Environ at start-up.
	Environ []string `yaml:"-"`
	// ReleaseMemoryAfterBursts returns the memory a burst of connections
	// used to the system once the burst has gone idle, on the goroutine
	// path on Linux (the event engine keeps no goroutine stack per
	// connection, so it has nothing of the kind to release): when at
	// least 256 connection directions were copying at once and no more
	// than a quarter of that number still are, the proxy calls
	// debug.FreeOSMemory (a garbage collection and a scavenge of the whole
	// process), at most every 10 s. Without it the Go runtime keeps that
	// memory for reuse. host-proxy sets it; a program embedding the proxy
	// decides for its own process.
	ReleaseMemoryAfterBursts bool `yaml:"-"`
	// Fatal ends the process when the proxy cannot go on: an event worker
	// (Linux) panicked, or its epoll_wait failed, and the connections it
	// served are lost with it. It is called once, on the failing worker's
	// goroutine, after the ERROR record "event worker panicked: exiting"
	// (with the stack) has been written, or LogFlushTimeout has passed
	// twice, with an error that says what failed; it should not return.
	// host-proxy reports the error and exits 1, a runtime failure. nil, or
	// a Fatal that returns, re-raises the panic: the Go runtime then ends
	// the process with status 2, which a supervisor cannot tell from a
	// usage error.
	Fatal func(err error) `yaml:"-"`

	// splice copies TCP and unix connections with io.Copy, i.e. splice(2)
	// on Linux, instead of buffers, on the goroutine path (benchmarks
	// compare the two; it selects the goroutine path).
	splice bool
	// goroutines serves the routes with goroutines per connection (the
	// path of systems without the event engine) instead of the engine.
	goroutines bool
	// pipeSize replaces the engine's splice pipe size (tests: a larger
	// pipe makes short splices likelier).
	pipeSize int
	// workers replaces the engine's worker count (tests: more workers
	// than GOMAXPROCS allows).
	workers int

	// lines locates the keys of the file ParseConfig read, so that New's
	// errors can name the line.
	lines strictyaml.Lines
}

// Route is one listener and where its connections go.
type Route struct {
	// Name identifies the route in logs, metrics and errors; unique.
	Name string `yaml:"name"`
	// Direction is Egress or Ingress.
	Direction string `yaml:"direction"`
	// Listen is a transport address (vsock://CID:PORT, tcp://HOST:PORT,
	// unix:///PATH) to accept connections on.
	Listen string `yaml:"listen"`
	// Destination is where connections go: for egress a tcp://HOST:PORT
	// on the allow-list, for ingress any transport address.
	Destination string `yaml:"destination"`
	// MaxConnections overrides Config.MaxConnections for this route.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerSource bounds the connections one source holds on
	// this route, slots and wait places together: a source is an IPv4
	// address, an IPv6 /64 prefix or a vsock context ID. Over it, a
	// connection is refused at once (reason source_limit). 0 selects the
	// default: on a TCP ingress route (the listener facing outside
	// clients) a sixteenth of max_connections, at least 1, so that one
	// address cannot take every slot and wait place; elsewhere no limit
	// (an egress route's clients are the enclave, one source).
	// [PerSourceUnlimited] (-1) turns the limit off: needed behind a load
	// balancer or proxy that connects from one address for all clients,
	// where the limit would bound everyone together. Unix socket
	// listeners have no such source; a positive value there is a
	// configuration error.
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`
	// IPVersion restricts resolved egress addresses to 4 or 6 (0: both).
	IPVersion int `yaml:"ip_version"`
	// ConnectTimeout and IdleTimeout override the global values.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	IdleTimeout    time.Duration `yaml:"idle_timeout"`
	// AllowedCIDs, when set, admits only connections from these vsock
	// context IDs (enclaves); the listen address must be vsock.
	AllowedCIDs []uint32 `yaml:"allowed_cids"`
}

// CredentialsConfig configures the credentials route: an HTTP endpoint on
// Listen answering GET /credentials with the container-credentials JSON
// ({"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}) to requests
// that carry [CredentialsHeader] and look like no browser's (see the
// package documentation).
type CredentialsConfig struct {
	// Listen is the transport address the enclave connects to: vsock
	// (vsock://any:PORT), or a unix socket (unix:///PATH) for local tests,
	// mode 0600 whatever the umask (transport.UnixSocketMode). TCP,
	// loopback included, is a configuration error: the enclave reaches
	// the parent over vsock only, so a TCP listener would serve every
	// local process instead.
	Listen string `yaml:"listen"`
	// Source is "imds" (the parent's instance role through IMDSv2), "file"
	// (a JSON file with the same fields, re-read on refresh) or "env"
	// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
	Source string `yaml:"source"`
	// File is the JSON file for source "file". It holds the role's
	// secret, so a file its group or others can read (mode&0o077 != 0)
	// is refused with a [*CredentialsFileModeError]: chmod 600 it, owned
	// by the user host-proxy runs as.
	File string `yaml:"file"`
	// IMDSURL is the metadata service base URL (DefaultIMDSURL when empty).
	IMDSURL string `yaml:"imds_url"`
	// Role is the instance profile role; empty: the first one IMDS lists.
	Role string `yaml:"role"`
	// RefreshBefore is how long before Expiration credentials are fetched
	// again (DefaultRefreshBefore when 0).
	RefreshBefore time.Duration `yaml:"refresh_before"`
	// AllowedCIDs serves only these vsock context IDs (enclaves).
	// Required with a vsock listen address, and only there: any enclave
	// on the parent could otherwise fetch the role's credentials.
	AllowedCIDs []uint32 `yaml:"allowed_cids"`
}

// ServiceConfig configures the time and logs routes: a listener for the
// enclave, on vsock, or on a unix socket for local tests.
type ServiceConfig struct {
	// Listen is the transport address the enclave connects to: vsock
	// (vsock://any:PORT), or a unix socket (unix:///PATH) for local tests,
	// mode 0600 whatever the umask (transport.UnixSocketMode). TCP,
	// loopback included, is a configuration error: the enclave reaches
	// the parent over vsock only, so a TCP listener would serve every
	// local process instead (on the logs route, writing lines to
	// host-proxy's log in the enclave application's name).
	Listen string `yaml:"listen"`
	// AllowedCIDs admits only these vsock context IDs (enclaves). Required
	// with a vsock listen address, and only there: any enclave on the
	// parent could otherwise set the clock an enclave steps to, or write
	// log lines in the application's name.
	AllowedCIDs []uint32 `yaml:"allowed_cids"`
	// MaxLinesPerSecond (logs only) bounds the enclave's lines written to
	// the proxy's log, with a burst of ten seconds' worth; the rest are
	// dropped and counted, and the warning reporting them takes a line of
	// the budget. 0 is DefaultLogLinesPerSecond. journald drops
	// every message of a unit past its rate limit (by default 10000 per
	// 30 s), the proxy's own with the enclave's: keep this below it.
	MaxLinesPerSecond int `yaml:"max_lines_per_second"`
}

// Sentinel errors.
var (
	// ErrInvalidConfig is matched by every configuration error.
	ErrInvalidConfig = errors.New("proxy: invalid configuration")
	// ErrNotAllowed is matched by configuration errors for an egress
	// destination missing from the allow-list, and by refused connections.
	ErrNotAllowed = errors.New("proxy: destination not in the allow-list")
	// ErrDuplicateListen is matched when two listeners share an address.
	ErrDuplicateListen = errors.New("proxy: duplicate listen address")
	// ErrBadAddress is matched by malformed transport addresses (it wraps
	// transport.ErrBadAddress).
	ErrBadAddress = transport.ErrBadAddress
)

// ConfigError is one configuration problem. Where names the route
// (`route "kms"`), allow-list entry or setting; Err is the sentinel class.
type ConfigError struct {
	// Line is the line of the file ParseConfig read where the problem is,
	// 0 when unknown (a Config built in Go, a flag).
	Line   int
	Where  string
	Reason string
	Err    error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("proxy: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Where != "" {
		b.WriteString(e.Where + ": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns the sentinel class and ErrInvalidConfig.
func (e *ConfigError) Unwrap() []error {
	if e.Err == nil || e.Err == ErrInvalidConfig {
		return []error{ErrInvalidConfig}
	}
	return []error{e.Err, ErrInvalidConfig}
}

// ConfigErrors aggregates every problem found in a configuration, so that
// an operator sees them all at once.
type ConfigErrors []error

func (e ConfigErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the individual errors.
func (e ConfigErrors) Unwrap() []error { return e }

// ParseConfig decodes a YAML configuration strictly: unknown keys, a
// second YAML document and values of the wrong type are errors, each
// naming its line and key (e.g. `line 3: routes[0]: unknown key "lisen"
// (did you mean "listen"?)`), all of them at once as [ConfigErrors]. It does
// not validate semantics; [New] does.
func ParseConfig(data []byte) (*Config, error) {
	cfg := new(Config)
	lines, err := strictyaml.DecodeLines(data, cfg)
	cfg.lines = lines
	if err != nil {
		var errs ConfigErrors
		for _, e := range unwrapAll(err) {
			errs = append(errs, &ConfigError{Reason: e.Error(), Err: ErrInvalidConfig})
		}
		return nil, errs
	}
	return cfg, nil
}

// unwrapAll returns the errors joined in err, or err alone.
func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// compiledRoute is a validated route.
type compiledRoute struct {
	Route
	listen   transport.Addr
	dest     transport.Addr
	destHost string // egress: host part (name or IP literal)
	destPort int    // egress
	destIP   netip.Addr
}

type compiled struct {
	allow  *allowList
	routes []*compiledRoute
	creds  *CredentialsConfig
	credsL transport.Addr
	timeL  transport.Addr // zero: no time route
	logsL  transport.Addr // zero: no logs route
	admin  transport.Addr
}

// validate checks cfg and returns the compiled form, or a ConfigErrors.
func validate(cfg *Config) (*compiled, error) {
	var errs []error
	add := func(where string, class error, format string, args ...any) {
		errs = append(errs, &ConfigError{Where: where, Err: class, Reason: fmt.Sprintf(format, args...)})
	}
	c := &compiled{}
	var aerrs []error
	c.allow, aerrs = compileAllowList(cfg.AllowList)
	errs = append(errs, aerrs...)
	errs = append(errs, checkFixedNames(c.allow, cfg.AllowList)...)

	for name, d := range map[string]time.Duration{"connect_timeout": cfg.ConnectTimeout, "idle_timeout": cfg.IdleTimeout,
		"half_close_grace": cfg.HalfCloseGrace, "dns_refresh": cfg.DNSRefresh, "shutdown_timeout": cfg.ShutdownTimeout} {
		if d < 0 {
			add(name, ErrInvalidConfig, "negative duration %v", d)
		}
	}
	if cfg.MaxConnections < 0 || cfg.MaxConnections > MaxConnectionsLimit {
		add("max_connections", ErrInvalidConfig, "%d out of range 0-%d", cfg.MaxConnections, MaxConnectionsLimit)
	}

	listens := map[string]string{} // listen key → owner
	claim := func(owner string, a transport.Addr) {
		if a.Network == transport.NetworkVsock && a.Port == 0xFFFFFFFF || a.Network == transport.NetworkTCP && strings.HasSuffix(a.Address, ":0") {
			return // the kernel picks a free port for each
		}
		key := a.String()
		if a.Network == transport.NetworkVsock {
			key = "vsock port " + strconv.FormatUint(uint64(a.Port), 10) // any CID and a specific CID clash
		}
		if prev, dup := listens[key]; dup {
			add(owner, ErrDuplicateListen, "listen address %s is already used by %s", a, prev)
			return
		}
		listens[key] = owner
	}

	if len(cfg.Routes) == 0 && cfg.Credentials == nil && cfg.Time == nil && cfg.Logs == nil {
		add("", ErrInvalidConfig, "no routes: give LOCAL_PORT REMOTE_HOST REMOTE_PORT or a routes: section")
	}
	names := map[string]bool{}
	for i, r := range cfg.Routes {
		where := fmt.Sprintf("routes[%d]", i)
		first := len(errs)
		if r.Name == "" {
			add(where, ErrInvalidConfig, "missing name")
		} else {
			where = fmt.Sprintf("route %q", r.Name)
			if names[r.Name] {
				add(where, ErrInvalidConfig, "duplicate route name")
			}
			names[r.Name] = true
		}
		cr := &compiledRoute{Route: r}
		if r.Direction != Egress && r.Direction != Ingress {
			add(where, ErrInvalidConfig, "direction %q: want egress or ingress", r.Direction)
		}
		if r.MaxConnections < 0 || r.MaxConnections > MaxConnectionsLimit {
			add(where, ErrInvalidConfig, "max_connections: %d out of range 0-%d", r.MaxConnections, MaxConnectionsLimit)
		}
		if r.MaxConnectionsPerSource < PerSourceUnlimited || r.MaxConnectionsPerSource > MaxConnectionsLimit {
			add(where, ErrInvalidConfig, "max_connections_per_source: %d out of range -1 (no limit) to %d",
				r.MaxConnectionsPerSource, MaxConnectionsLimit)
		}
		if r.IPVersion != 0 && r.IPVersion != 4 && r.IPVersion != 6 {
			add(where, ErrInvalidConfig, "ip_version %d: want 4, 6 or 0 (both)", r.IPVersion)
		}
		if r.ConnectTimeout < 0 || r.IdleTimeout < 0 {
			add(where, ErrInvalidConfig, "negative timeout")
		}
		var err error
		if r.Listen == "" {
			add(where, ErrInvalidConfig, "missing listen address")
		} else if cr.listen, err = transport.ParseAddr(r.Listen); err != nil {
			add(where, ErrBadAddress, "listen: %v", strings.TrimPrefix(err.Error(), "transport: "))
		} else {
			claim(where, cr.listen)
			if r.Direction == Egress && cr.listen.Network == transport.NetworkTCP && !loopbackListen(cr.listen.Address) {
				// An egress listener authenticates no one: on an interface
				// it relays the network to every allow-listed destination
				// (IMDS, a database, ...). Ingress listeners face outside
				// clients by design.
				add(where, ErrInvalidConfig, "listen %s is reachable from the network, and an egress route relays whoever connects to its allow-listed destination, unauthenticated; "+
					"use vsock://any:PORT for the enclave, or unix:///PATH or a loopback address (tcp://127.0.0.1:PORT) for local tests", cr.listen)
			}
			if len(r.AllowedCIDs) > 0 && cr.listen.Network != transport.NetworkVsock {
				add(where, ErrInvalidConfig, "allowed_cids needs a vsock listen address, not %s", cr.listen)
			}
			if r.MaxConnectionsPerSource > 0 && cr.listen.Network == transport.NetworkUnix {
				add(where, ErrInvalidConfig, "max_connections_per_source needs a tcp or vsock listen address (a unix socket's peers have no source address), not %s", cr.listen)
			}
		}
		if r.Destination == "" {
			add(where, ErrInvalidConfig, "missing destination")
		} else if cr.dest, err = transport.ParseAddr(r.Destination); err != nil {
			add(where, ErrBadAddress, "destination: %v", strings.TrimPrefix(err.Error(), "transport: "))
		} else if r.Direction == Egress {
			if msg, cls := checkEgressDest(c.allow, cr); msg != "" {
				add(where, cls, "%s", msg)
			}
		}
		// The route's problems are on the route's lines in the file.
		for _, e := range errs[first:] {
			if ce, ok := e.(*ConfigError); ok && ce.Line == 0 {
				ce.Line = cfg.lines[fmt.Sprintf("routes[%d]", i)]
			}
		}
		c.routes = append(c.routes, cr)
	}

	if cc := cfg.Credentials; cc != nil {
		where := "credentials"
		var err error
		if cc.Listen == "" {
			add(where, ErrInvalidConfig, "missing listen address")
		} else if c.credsL, err = transport.ParseAddr(cc.Listen); err != nil {
			add(where, ErrBadAddress, "listen: %v", strings.TrimPrefix(err.Error(), "transport: "))
		} else {
			claim(where, c.credsL)
			if c.credsL.Network == transport.NetworkTCP {
				// The enclave reaches the parent over vsock only: a TCP
				// listener, loopback included, serves every local
				// process of any user (one kept from the credentials
				// file or from IMDS too), and never the enclave.
				add("credentials.listen", ErrInvalidConfig, "%s: a TCP listener serves the role's credentials to every local process, "+
					"never to the enclave (it reaches the parent over vsock only); use vsock://any:PORT with allowed_cids for the enclave, "+
					"or unix:///PATH for local tests (mode 0600: only host-proxy's user may connect)", c.credsL)
			}
			if len(cc.AllowedCIDs) > 0 && c.credsL.Network != transport.NetworkVsock {
				add(where, ErrInvalidConfig, "allowed_cids needs a vsock listen address, not %s", c.credsL)
			}
			if c.credsL.Network == transport.NetworkVsock && len(cc.AllowedCIDs) == 0 {
				// Any enclave on the parent, one the parent runs itself
				// included, could otherwise fetch the role's credentials.
				add(where, ErrInvalidConfig, "listen %s needs allowed_cids: the enclave CIDs served (any enclave on the parent could otherwise fetch the role's credentials)", c.credsL)
			}
		}
		switch cc.Source {
		case "imds":
			if cc.IMDSURL != "" {
				if u, err := url.Parse(cc.IMDSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					add(where, ErrInvalidConfig, "imds_url %q: want http://HOST[:PORT]", cc.IMDSURL)
				}
			}
		case "file":
			if cc.File == "" {
				add(where, ErrInvalidConfig, "source file needs file:")
			}
		case "env":
		default:
			add(where, ErrInvalidConfig, "source %q: want imds, file or env", cc.Source)
		}
		if cc.RefreshBefore < 0 {
			add(where, ErrInvalidConfig, "negative refresh_before")
		}
		c.creds = cc
	}

	// service checks the time or logs route's settings; tcpRisk says what
	// a TCP listener would do, for its refusal.
	service := func(where, tcpRisk string, sc *ServiceConfig) transport.Addr {
		if sc.Listen == "" {
			add(where, ErrInvalidConfig, "missing listen address")
			return transport.Addr{}
		}
		a, err := transport.ParseAddr(sc.Listen)
		if err != nil {
			add(where, ErrBadAddress, "listen: %v", strings.TrimPrefix(err.Error(), "transport: "))
			return transport.Addr{}
		}
		claim(where, a)
		if a.Network == transport.NetworkTCP {
			// The enclave reaches the parent over vsock only: a TCP
			// listener, loopback included, serves every local process
			// of any user, and never the enclave. On the logs route
			// such a process writes lines to host-proxy's log
			// (journald) in the enclave application's name.
			add(where+".listen", ErrInvalidConfig, "%s: %s (it reaches the parent over vsock only); use vsock://any:PORT with allowed_cids for the enclave, "+
				"or unix:///PATH for local tests (mode 0600: only host-proxy's user may connect)", a, tcpRisk)
		}
		if len(sc.AllowedCIDs) > 0 && a.Network != transport.NetworkVsock {
			add(where, ErrInvalidConfig, "allowed_cids needs a vsock listen address, not %s", a)
		}
		if a.Network == transport.NetworkVsock && len(sc.AllowedCIDs) == 0 {
			// Any enclave on the parent, one the parent runs itself
			// included, could otherwise set the clock an enclave steps to
			// or write log lines in the application's name.
			add(where, ErrInvalidConfig, "listen %s needs allowed_cids: the enclave CIDs served (any enclave on the parent could otherwise connect)", a)
		}
		return a
	}
	if cfg.Time != nil {
		c.timeL = service("time", "a TCP listener serves the parent's clock to every local process, never to the enclave", cfg.Time)
		if cfg.Time.MaxLinesPerSecond != 0 {
			add("time", ErrInvalidConfig, "max_lines_per_second is a setting of the logs route")
		}
	}
	if cfg.Logs != nil {
		c.logsL = service("logs", "a TCP listener takes log lines from every local process, of any user, as the enclave's, and never from the enclave", cfg.Logs)
		if cfg.Logs.MaxLinesPerSecond < 0 {
			add("logs", ErrInvalidConfig, "negative max_lines_per_second")
		}
	}

	if cfg.Admin != "" {
		a, err := transport.ParseAddr(cfg.Admin)
		switch {
		case err != nil:
			add("admin", ErrBadAddress, "%v", strings.TrimPrefix(err.Error(), "transport: "))
		case a.Network == transport.NetworkVsock:
			add("admin", ErrInvalidConfig, "%s: the admin endpoint must be on localhost (tcp://127.0.0.1:PORT or unix://)", a)
		case a.Network == transport.NetworkTCP && !isLoopbackHostPort(a.Address):
			add("admin", ErrInvalidConfig, "%s: the admin endpoint must be on localhost (tcp://127.0.0.1:PORT or unix://)", a)
		default:
			c.admin = a
			claim("admin", a)
		}
	}
	if len(errs) > 0 {
		for _, e := range errs {
			// Settings, allowlist[i], credentials, admin: their key's line.
			if ce, ok := e.(*ConfigError); ok && ce.Line == 0 {
				ce.Line = cfg.lines[ce.Where]
			}
		}
		return nil, ConfigErrors(errs)
	}
	return c, nil
}

// checkEgressDest validates an egress destination against the allow-list.
func checkEgressDest(al *allowList, cr *compiledRoute) (string, error) {
	if cr.dest.Network != transport.NetworkTCP {
		return fmt.Sprintf("destination %s: an egress destination must be tcp://HOST:PORT", cr.dest), ErrInvalidConfig
	}
	host, portStr, _ := net.SplitHostPort(cr.dest.Address)
	port, _ := strconv.Atoi(portStr)
	if port == 0 {
		return fmt.Sprintf("destination %s: port 0", cr.dest), ErrInvalidConfig
	}
	cr.destPort = port
	ip, _, name, err := parseHost(host, false)
	if err != nil {
		return fmt.Sprintf("destination: %v", err), ErrBadAddress
	}
	if ip.IsValid() {
		cr.destIP = ip
		cr.destHost = ip.String()
		if cr.IPVersion == 4 && !ip.Is4() || cr.IPVersion == 6 && !ip.Is6() {
			return fmt.Sprintf("destination %s is not an IPv%d address", ip, cr.IPVersion), ErrInvalidConfig
		}
		if !al.listed(ip, port, 0) {
			return fmt.Sprintf("destination %s:%d is not in the allow-list; add \"- {address: %s, port: %d}\" to allowlist",
				ip, port, ip, port), ErrNotAllowed
		}
		return "", nil
	}
	cr.destHost = name
	if !al.nameAllowed(name, port) {
		return fmt.Sprintf("destination %s:%d is not in the allow-list; add \"- {address: %s, port: %d}\" to allowlist",
			name, port, name, port), ErrNotAllowed
	}
	return "", nil
}

func isLoopbackHostPort(hp string) bool {
	host, _, err := net.SplitHostPort(hp)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// loopbackListen reports whether a TCP listen address (HOST:PORT) binds
// loopback only: localhost or a loopback IP address, not all interfaces.
func loopbackListen(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
