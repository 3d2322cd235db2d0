// SPDX-License-Identifier: Apache-2.0

// Command host-proxy is the parent instance's proxy for Nitro Enclaves, a
// drop-in for vsock-proxy with several routes, both directions, DNS
// re-resolution, metrics and graceful shutdown. See package host/proxy.
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
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/enclavekit/enclavekit/host/proxy"
	"github.com/enclavekit/enclavekit/internal/transport"
)

const defaultConfig = "/etc/nitro_enclaves/vsock-proxy.yaml"

const usage = `usage: host-proxy [flags] LOCAL_PORT REMOTE_HOST REMOTE_PORT
       host-proxy [flags] --config FILE

Forward connections from the enclave (vsock port LOCAL_PORT on this instance)
to REMOTE_HOST:REMOTE_PORT, which must be on the allow-list, like vsock-proxy.
With --config and no arguments, serve the routes of FILE instead.

flags:
  -4, -6              resolve REMOTE_HOST to IPv4 / IPv6 addresses only
  -w N                at most N concurrent connections (a limit, not a worker
                      pool; further connections wait up to the connect timeout)
  --config FILE       YAML: allowlist (vsock-proxy's format) and optionally
                      routes, credentials, admin, timeouts
                      (default ` + defaultConfig + ` with LOCAL_PORT...)
  --listen ADDR       listen on ADDR (tcp://HOST:PORT, unix:///PATH,
                      vsock://CID:PORT) instead of vsock://any:LOCAL_PORT
  --admin ADDR        serve /healthz and /metrics on ADDR (localhost only)
  --connect-timeout D, --idle-timeout D, --dns-refresh D, --shutdown-timeout D
                      override the config file's values (Go durations)
  --log-format F      text (default) or json
  --log-level L       debug, info (default), warn, error
  --check             validate the configuration and exit
  --version           print the version and exit

exit status: 0 clean shutdown, 1 runtime failure, 2 usage or configuration error
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	ipv4, ipv6            bool
	workers               int
	config, listen, admin string
	connectTimeout, idle  time.Duration
	dnsRefresh, shutdown  time.Duration
	logFormat, logLevel   string
	check, version        bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("host-proxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&o.ipv4, "4", false, "")
	fs.BoolVar(&o.ipv6, "6", false, "")
	fs.IntVar(&o.workers, "w", 0, "")
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

	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "host-proxy: error: "+format+"\n", a...)
		fmt.Fprint(stderr, "hint: host-proxy --help shows the usage\n")
		return 2
	}
	// Flags may follow the positional arguments, as vsock-proxy allows.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usage)
				return 0
			}
			return usageErr("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if o.version {
		v := "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		fmt.Fprintln(stdout, "host-proxy", v)
		return 0
	}
	if o.ipv4 && o.ipv6 {
		return usageErr("-4 and -6 are mutually exclusive")
	}
	if o.workers < 0 {
		return usageErr("-w %d: want a positive limit", o.workers)
	}
	if len(pos) != 0 && len(pos) != 3 {
		return usageErr("want LOCAL_PORT REMOTE_HOST REMOTE_PORT (got %d arguments)", len(pos))
	}
	if len(pos) == 0 && o.config == "" {
		return usageErr("nothing to do: give LOCAL_PORT REMOTE_HOST REMOTE_PORT or --config FILE")
	}
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		return usageErr("%v", err)
	}

	path := o.config
	if path == "" {
		path = defaultConfig
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if o.config == "" {
			return usageErr("reading the allow-list: %v (give --config FILE)", err)
		}
		return usageErr("%v", err)
	}
	cfg, err := proxy.ParseConfig(data)
	if err != nil {
		return usageErr("%s: %v", path, err)
	}
	if len(pos) == 3 {
		r, err := positionalRoute(pos, o)
		if err != nil {
			return usageErr("%v", err)
		}
		cfg.Routes = append(cfg.Routes, r)
	} else if o.listen != "" || o.workers != 0 || o.ipv4 || o.ipv6 {
		return usageErr("--listen, -w, -4 and -6 apply to LOCAL_PORT REMOTE_HOST REMOTE_PORT; set them per route in %s", path)
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
	p, err := proxy.New(cfg)
	if err != nil {
		var ce proxy.ConfigErrors
		if errors.As(err, &ce) {
			for _, e := range ce {
				fmt.Fprintf(stderr, "host-proxy: error: %s: %v\n", path, strings.TrimPrefix(e.Error(), "proxy: "))
			}
			return 2
		}
		return usageErr("%v", err)
	}
	if o.check {
		fmt.Fprintf(stdout, "%s: configuration ok\n", path)
		return 0
	}
	if err := p.Listen(); err != nil {
		fmt.Fprintf(stderr, "host-proxy: error: %v\n", err)
		return 1
	}
	if err := p.Serve(ctx); err != nil {
		fmt.Fprintf(stderr, "host-proxy: error: %v\n", err)
		return 1
	}
	return 0
}

// positionalRoute is the vsock-proxy invocation as a route.
func positionalRoute(pos []string, o options) (proxy.Route, error) {
	lport, err := strconv.ParseUint(pos[0], 10, 32)
	if err != nil {
		return proxy.Route{}, fmt.Errorf("LOCAL_PORT %q: want a vsock port number", pos[0])
	}
	rport, err := strconv.ParseUint(pos[2], 10, 16)
	if err != nil || rport == 0 {
		return proxy.Route{}, fmt.Errorf("REMOTE_PORT %q: want a TCP port number 1-65535", pos[2])
	}
	listen := "vsock://any:" + strconv.FormatUint(lport, 10)
	if o.listen != "" {
		if _, err := transport.ParseAddr(o.listen); err != nil {
			return proxy.Route{}, fmt.Errorf("--listen: %v", strings.TrimPrefix(err.Error(), "transport: "))
		}
		listen = o.listen
	}
	r := proxy.Route{
		Name:           "vsock-" + strconv.FormatUint(lport, 10),
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
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
