// SPDX-License-Identifier: Apache-2.0

// Command host-proxy is the parent instance's proxy for Nitro Enclaves, a
// drop-in for vsock-proxy with several routes, both directions, DNS
// re-resolution at the records' TTL, metrics and graceful shutdown. See
// package host/proxy. Run "host-proxy help" for the usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/enclavekit/enclavekit/host/proxy"
	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/cli"
)

const defaultConfig = "/etc/nitro_enclaves/vsock-proxy.yaml"

// maxConfig bounds the allow-list file: vsock-proxy.yaml is a few hundred
// bytes, so a file over 1 MiB is a mistaken path, refused unread.
const maxConfig = boundedfile.MiB

const usage = `Usage: host-proxy [flags] LOCAL_PORT REMOTE_HOST REMOTE_PORT
       host-proxy [flags] --config FILE
       host-proxy help | version

Forward connections from the enclave (vsock port LOCAL_PORT on this instance)
to REMOTE_HOST:REMOTE_PORT, which must be on the allow-list, like vsock-proxy.
With --config and no arguments, serve the routes of FILE instead.

Flags:
  -4, --ipv4          resolve REMOTE_HOST to IPv4 addresses only
  -6, --ipv6          resolve REMOTE_HOST to IPv6 addresses only
  -w, --num_workers N at most N concurrent connections, 1 to 1048576
                      (vsock-proxy's flag, but a limit, not a worker pool:
                      further connections wait up to the connect timeout);
                      default: the --config file's max_connections,
                      1024 unless set; 0 is the default
  --config FILE       YAML: allowlist (vsock-proxy's format) and optionally
                      routes, credentials, time, logs, admin, timeouts
                      (credentials, time and logs listen on vsock, or on
                      unix:///PATH for local tests; never TCP; a route's
                      max_connections_per_source bounds one client address,
                      by default on TCP ingress routes; -1 behind a load
                      balancer)
                      (default ` + defaultConfig + ` with LOCAL_PORT...)
  --listen ADDR       listen on ADDR (vsock://CID:PORT, unix:///PATH, or
                      loopback tcp://HOST:PORT or HOST:PORT) instead of
                      vsock://any:LOCAL_PORT
  --admin ADDR        serve /healthz and /metrics on ADDR (localhost only)
  --connect-timeout D, --idle-timeout D, --shutdown-timeout D
                      override the config file's connect_timeout,
                      idle_timeout and shutdown_timeout (Go durations;
                      defaults 10s, 5m and 30s; 0 keeps the file's)
  --dns-refresh D     the longest a DNS answer is used, overriding dns_refresh
                      (default 5m); answers are re-resolved at their TTL,
                      at least every 5s
  --log-format F      text (default) or json, on stderr; lines wait in a
                      bounded queue, never holding a connection: when stderr
                      is too slow they are dropped, counted and reported
  --log-level L       debug, info (default), warn or error
  --check             validate the configuration (and the allow-list's names
                      in DNS) and exit
  --version           print the version and exit (also: host-proxy version)
  -h, --help          print this help and exit (also: host-proxy help)

Exit status:
  0  clean shutdown (SIGTERM or SIGINT drains the connections), or --check ok
  1  runtime failure (a listener cannot be bound, an event worker
     panicked, ...)
  2  usage or configuration error (bad flag, unreadable or invalid file)

Examples:
  host-proxy 8000 kms.eu-west-1.amazonaws.com 443
  host-proxy --config /etc/enclavekit/host-proxy.yaml --check
  host-proxy --config /etc/enclavekit/host-proxy.yaml --log-format json
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	ipv4, ipv6            bool
	workers               int
	workersFlag           string // -w or --num_workers, as given
	config, listen, admin string
	connectTimeout, idle  time.Duration
	dnsRefresh, shutdown  time.Duration
	logFormat, logLevel   string
	check, version        bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	p := &cli.Program{Name: "host-proxy", Stdout: stdout, Stderr: stderr}
	return p.Exit(runErr(ctx, p, args), usage)
}

// parseArgs parses the command line: flags may follow the positional
// arguments, as vsock-proxy allows.
func parseArgs(args []string) (*options, []string, error) {
	if len(args) == 1 && cli.IsHelp(args[0]) {
		return nil, nil, cli.ErrHelp
	}
	if len(args) == 1 && args[0] == "version" {
		return &options{version: true}, nil, nil
	}
	o := &options{}
	fs := flagSet(o)
	var pos []string
	for {
		if err := cli.ParseFlags(fs, args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, cli.ErrHelp
			}
			return nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "w" || f.Name == "num_workers" {
			o.workersFlag = cli.FlagName(f.Name)
		}
	})
	return o, pos, nil
}

// flagSet registers every flag into o.
func flagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("host-proxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.BoolVar(&o.ipv4, "4", false, "")
	fs.BoolVar(&o.ipv4, "ipv4", false, "")
	fs.BoolVar(&o.ipv6, "6", false, "")
	fs.BoolVar(&o.ipv6, "ipv6", false, "")
	fs.IntVar(&o.workers, "w", 0, "")
	fs.IntVar(&o.workers, "num_workers", 0, "")
	fs.StringVar(&o.config, "config", "", "")
	fs.StringVar(&o.listen, "listen", "", "")
	fs.StringVar(&o.admin, "admin", "", "")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 0, "")
	fs.DurationVar(&o.idle, "idle-timeout", 0, "")
	fs.DurationVar(&o.dnsRefresh, "dns-refresh", 0, "")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", 0, "")
	fs.StringVar(&o.logFormat, "log-format", "text", "")
	fs.StringVar(&o.logLevel, "log-level", "info", "")
	fs.BoolVar(&o.check, "check", false, "")
	fs.BoolVar(&o.version, "version", false, "")
	return fs
}

func runErr(ctx context.Context, p *cli.Program, args []string) error {
	o, pos, err := parseArgs(args)
	if err != nil {
		return err
	}
	if o.version {
		return cli.ErrVersion
	}
	if o.ipv4 && o.ipv6 {
		return cli.Usagef("-4 (--ipv4) and -6 (--ipv6) are mutually exclusive")
	}
	if o.workers < 0 || o.workers > proxy.MaxConnectionsLimit {
		return cli.Usagef("%s %d: want 1 to %d connections, or 0 for the default", o.workersFlag, o.workers, proxy.MaxConnectionsLimit)
	}
	if len(pos) != 0 && len(pos) != 3 {
		return cli.Usagef("want LOCAL_PORT REMOTE_HOST REMOTE_PORT (got %d arguments)", len(pos))
	}
	if len(pos) == 0 && o.config == "" {
		return cli.Usagef("nothing to do: give LOCAL_PORT REMOTE_HOST REMOTE_PORT or --config FILE")
	}
	log, err := newLogger(p.Stderr, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}

	path := o.config
	if path == "" {
		path = defaultConfig
	}
	data, err := boundedfile.Read(path, maxConfig)
	if err != nil {
		if o.config == "" {
			return cli.WithHint(cli.Usagef("reading the allow-list: %v", err), "give the allow-list with --config FILE")
		}
		return cli.Usagef("--config: %v", err)
	}
	cfg, err := proxy.ParseConfig(data)
	if err != nil {
		return cli.Usage(cli.WithHint(configErrors(path, err), "deploy/host-proxy.yaml in the enclavekit repository shows every key"))
	}
	var positional string // the name of the route of LOCAL_PORT REMOTE_HOST REMOTE_PORT
	if len(pos) == 3 {
		r, err := positionalRoute(pos, o)
		if err != nil {
			return err
		}
		cfg.Routes = append(cfg.Routes, r)
		positional = r.Name
	} else if o.listen != "" || o.workers != 0 || o.ipv4 || o.ipv6 {
		return cli.Usagef("--listen, -w, -4 and -6 apply to LOCAL_PORT REMOTE_HOST REMOTE_PORT; set them per route in %s", path)
	}
	if o.admin != "" {
		cfg.Admin = o.admin
	}
	for _, ov := range []struct {
		flag time.Duration
		dst  *time.Duration
	}{{o.connectTimeout, &cfg.ConnectTimeout}, {o.idle, &cfg.IdleTimeout}, {o.dnsRefresh, &cfg.DNSRefresh}, {o.shutdown, &cfg.ShutdownTimeout}} {
		if ov.flag != 0 {
			*ov.dst = ov.flag
		}
	}
	cfg.Logger = log
	// A worker's panic ends the process as a runtime failure (exit 1),
	// after its log line with the stack.
	cfg.Fatal = exitOnFatal(p, os.Exit, proxy.LogFlushTimeout)
	// Give back the memory of a burst of connections once it is idle
	// (docs/PERFORMANCE.md, host-proxy: memory per idle connection).
	cfg.ReleaseMemoryAfterBursts = true
	px, err := proxy.New(cfg)
	if err != nil {
		return cli.Usage(configErrors(path, err))
	}
	// The proxy's log lines are written by its own goroutine (a slow
	// stderr never stalls a connection): those of --check, of a failed
	// start and of the shutdown are written before the process exits.
	defer px.FlushLogs(proxy.LogFlushTimeout)
	if err := px.CheckNames(ctx); err != nil {
		return cli.Usage(configErrors(path, err))
	}
	if o.check {
		fmt.Fprintf(p.Stdout, "%s: configuration ok\n", path)
		return nil
	}
	if err := px.Listen(); err != nil {
		return listenFailure(err, path, positional, pos, o)
	}
	return px.Serve(ctx)
}

// fatalHint follows the error of a proxy that cannot go on.
const fatalHint = "a bug in host-proxy: the ERROR record logged before this line has the stack trace; please report it"

// exitOnFatal is the proxy's Config.Fatal: it reports err (an event
// worker panicked, its connections are lost) on stderr as every runtime
// failure is, with [fatalHint], and exits with status 1. It waits at most
// wait for stderr, which may be the log sink that is stuck: the process
// exits 1 either way.
func exitOnFatal(p *cli.Program, exit func(int), wait time.Duration) func(error) {
	return func(err error) {
		err = cli.WithHint(errors.New(strings.TrimPrefix(err.Error(), "proxy: ")), fatalHint)
		code := make(chan int, 1)
		go func() { code <- p.Fail(err) }()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case c := <-code:
			exit(c)
		case <-t.C:
			exit(cli.ExitFailure)
		}
	}
}

// configErrors names the file in front of every configuration problem,
// one per line.
func configErrors(path string, err error) error {
	var ce proxy.ConfigErrors
	if !errors.As(err, &ce) {
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "proxy: "))
	}
	msgs := make([]string, len(ce))
	for i, e := range ce {
		msgs[i] = path + ": " + strings.TrimPrefix(e.Error(), "proxy: ")
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// listenFailure says which listener could not be bound in the operator's
// terms: the flag or argument that gave its address, or the file and the
// route or key, e.g. `--listen unix:///run/p.sock: bind: permission
// denied` or `host-proxy.yaml: route "kms": listen on vsock://any:8000:
// bind: address already in use`.
func listenFailure(err error, path, positional string, pos []string, o *options) error {
	var le *proxy.ListenError
	if !errors.As(err, &le) {
		return err
	}
	reason := le.Err
	if oe := (*net.OpError)(nil); errors.As(reason, &oe) && oe.Err != nil {
		reason = oe.Err // "listen unix /run/p.sock: bind: ..." repeats the address
	}
	switch {
	case le.Route != "" && le.Route == positional && o.listen != "":
		return fmt.Errorf("--listen %s: %w", o.listen, reason)
	case le.Route != "" && le.Route == positional:
		return fmt.Errorf("LOCAL_PORT %s: listen on %s: %w", pos[0], le.Addr, reason)
	case le.Route != "":
		return fmt.Errorf("%s: route %q: listen on %s: %w", path, le.Route, le.Addr, reason)
	case le.Service == "admin" && o.admin != "":
		return fmt.Errorf("--admin %s: %w", o.admin, reason)
	}
	return fmt.Errorf("%s: %s: listen on %s: %w", path, le.Service, le.Addr, reason)
}

// positionalRoute is the vsock-proxy invocation as a route, named after
// what it listens on.
func positionalRoute(pos []string, o *options) (proxy.Route, error) {
	lport, err := strconv.ParseUint(pos[0], 10, 32)
	if err != nil {
		return proxy.Route{}, cli.Usagef("LOCAL_PORT %q: want a vsock port number", pos[0])
	}
	rport, err := strconv.ParseUint(pos[2], 10, 16)
	if err != nil || rport == 0 {
		return proxy.Route{}, cli.Usagef("REMOTE_PORT %q: want a TCP port number 1-65535", pos[2])
	}
	listen := "vsock://any:" + strconv.FormatUint(lport, 10)
	if o.listen != "" {
		a, err := cli.ParseAddr("--listen", o.listen)
		if err != nil {
			return proxy.Route{}, err
		}
		listen = a.String()
	}
	r := proxy.Route{
		Name:           listen,
		Direction:      proxy.Egress,
		Listen:         listen,
		Destination:    "tcp://" + net.JoinHostPort(strings.Trim(pos[1], "[]"), pos[2]),
		MaxConnections: o.workers,
	}
	if o.ipv4 {
		r.IPVersion = 4
	} else if o.ipv6 {
		r.IPVersion = 6
	}
	return r, nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	lv, err := cli.ParseLogLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, cli.Usagef("--log-format %q: want text or json", format)
}
