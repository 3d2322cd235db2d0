// SPDX-License-Identifier: Apache-2.0

// Command kms-server is a self-hostable, KMS-compatible key service that
// releases keys only to attested Nitro Enclaves (package host/kms).
//
//	kms-server --config FILE [flags]     serve
//	kms-server init [--dir DIR]          write a development configuration
//	kms-server help | version
//
// Run "kms-server help" for every flag, the exit status and examples. This
// package is wiring only: main.go parses the command line, init.go writes
// the starter configuration, serve.go binds the listeners and serves.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/enclavekit/enclavekit/internal/cli"
)

const usage = `Usage:
    kms-server --config FILE [--listen ADDR] [--metrics-listen ADDR|off] [--tls-cert FILE --tls-key FILE] [--log-level LEVEL]
    kms-server init [--dir DIR]
    kms-server help | version

A KMS-compatible key service (the AWS KMS JSON 1.1 protocol with SigV4) that
releases keys only to attested Nitro Enclaves, with Recipient. Any KMS client
works against it: the aws CLI (--endpoint-url), aws-sdk-go-v2,
@aws-sdk/client-kms.

Serve flags:
    --config FILE          The configuration file (YAML), required. "kms-server
                           init" writes a commented starter; every key is
                           documented in the host/kmsserver/kmsconfig package.
    --listen ADDR          The KMS listener, instead of listen: in the file.
                           ADDR is HOST:PORT, tcp://HOST:PORT, unix:///PATH or
                           vsock://CID:PORT.
    --metrics-listen ADDR  The listener for /metrics (Prometheus) and /healthz,
                           instead of metrics_listen: in the file; "off" serves
                           neither.
    --tls-cert FILE        The KMS listener's certificate (PEM, with its chain)
    --tls-key FILE         and private key, instead of tls: cert and key in the
                           file; give both. TLS 1.2 at least. SIGHUP reads them
                           again without dropping connections. Plain HTTP is
                           refused on any address but loopback unless the file
                           says insecure_http_unsafe: true.
    --log-level LEVEL      debug, info (default), warn or error. Logs are JSON
                           lines on standard error; the audit log (one JSON line
                           per request) goes to audit_log: in the file, or to
                           standard output.
    --version              Print the version and exit (also: kms-server version;
                           init takes --version and version too).
    -h, --help             Print this help and exit (also: kms-server help;
                           init takes -h, --help and help too).

Init flags:
    --dir DIR              Write kms-server.yaml, root.key, keys/ and a
                           development CA (tls-ca.pem) with a certificate for
                           127.0.0.1, ::1 and localhost (tls-cert.pem,
                           tls-key.pem) into DIR, created if missing. Without
                           --dir: the current directory, which must then be
                           empty. The access key made for the development
                           principal is printed to standard output, once.

kms-server logs "serving KMS" once every listener is bound. SIGTERM or SIGINT
stop accepting requests and let those in flight finish (up to 10 s). SIGHUP
reloads the TLS certificate and key.

Exit status:
    0  clean shutdown (or init, help, version done)
    1  runtime failure: a listener cannot be bound, the key store cannot be
       opened or is in use by another kms-server, init refused to overwrite
    2  usage or configuration error (bad flag, unreadable or invalid
       configuration file, missing root key)

Examples:
    kms-server init --dir kms-dev
    kms-server --config kms-dev/kms-server.yaml
    kms-server --config /etc/kms-server.yaml --listen tcp://0.0.0.0:7700 --metrics-listen off
`

func main() {
	// The live heap is small (keys, caches) and every request allocates its
	// body and parsed document: a higher GC target trades a few MB for
	// ~8% less CPU per request under load (docs/PERFORMANCE.md). GOGC in
	// the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// commands is the dispatch table of the subcommands; without one of them,
// kms-server serves. The usage lists the same names (TestHelpEveryCommand
// checks both ways).
var commands = map[string]func(p *cli.Program, args []string) error{
	"init": runInit,
}

// run is kms-server with args (without the program name); it returns the
// exit status.
func run(args []string, stdout, stderr io.Writer) int {
	p := &cli.Program{Name: "kms-server", Stdout: stdout, Stderr: stderr}
	if len(args) > 0 {
		if err := cli.HelpArg(args[:1]); err != nil {
			return p.Exit(err, usage)
		}
		if cmd, ok := commands[args[0]]; ok {
			return p.Exit(operatorError(cmd(p, args[1:])), usage)
		}
	}
	o, err := parseServeFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, usage)
			return cli.ExitOK
		}
		return p.Fail(err)
	}
	if o.version {
		p.PrintVersion()
		return cli.ExitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return p.Fail(operatorError(serve(ctx, o, stdout, stderr)))
}

// serveOptions are the serve flags.
type serveOptions struct {
	config, listen, metricsListen, logLevel string
	tlsCert, tlsKey                         string
	version                                 bool
}

// serveFlagSet registers the serve flags into o.
func serveFlagSet(o *serveOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("kms-server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.config, "config", "", "")
	fs.StringVar(&o.listen, "listen", "", "")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "")
	fs.StringVar(&o.tlsKey, "tls-key", "", "")
	fs.StringVar(&o.logLevel, "log-level", "info", "")
	fs.BoolVar(&o.version, "version", false, "")
	return fs
}

func parseServeFlags(args []string) (*serveOptions, error) {
	o := &serveOptions{}
	fs := serveFlagSet(o)
	if err := cli.ParseFlags(fs, args); err != nil {
		return nil, err
	}
	if o.version {
		return o, nil
	}
	if fs.NArg() != 0 {
		return nil, cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if o.config == "" {
		return nil, cli.Usagef("--config FILE is required (kms-server init writes a starter)")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, cli.Usagef("--tls-cert and --tls-key go together: give both")
	}
	if _, err := cli.ParseLogLevel(o.logLevel); err != nil {
		return nil, err
	}
	if o.listen != "" {
		if _, err := cli.ParseAddr("--listen", o.listen); err != nil {
			return nil, err
		}
	}
	if o.metricsListen != "" && o.metricsListen != "off" {
		if _, err := cli.ParseAddr("--metrics-listen", o.metricsListen); err != nil {
			return nil, err
		}
	}
	return o, nil
}
