// SPDX-License-Identifier: Apache-2.0

// Command kms-server is a self-hostable, KMS-compatible key service that
// releases keys only to attested Nitro Enclaves (package host/kms).
//
//	kms-server init [--dir DIR]          write a starter config into DIR (default .)
//	kms-server --config FILE [flags]     serve
//
// Flags: --listen ADDR and --metrics-listen ADDR override the file;
// --log-level debug|info|warn|error. SIGTERM or SIGINT shut down
// gracefully. Metrics are served on /metrics and health on /healthz on the
// metrics listener.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
)

const usage = `Usage:
  kms-server init [--dir DIR]
  kms-server --config FILE [--listen ADDR] [--metrics-listen ADDR] [--log-level LEVEL]
  kms-server --version

A KMS-compatible key service (JSON 1.1 protocol, SigV4) that releases keys
only to attested Nitro Enclaves. "init" writes kms-server.yaml, root.key and
keys/ into DIR for development.
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

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "init" {
		return runInit(args[1:], stderr)
	}
	fs := flag.NewFlagSet("kms-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	listen := fs.String("listen", "", "KMS listen address (overrides the file)")
	metricsListen := fs.String("metrics-listen", "", "metrics and health listen address (overrides the file; \"off\" disables)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *version {
		v := "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		fmt.Fprintln(stdout, "kms-server", v)
		return 0
	}
	if *cfgPath == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "kms-server: error: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lv}))
	if err := serve(*cfgPath, *listen, *metricsListen, stdout, log); err != nil {
		fmt.Fprintf(stderr, "kms-server: error: %v\n", err)
		return 1
	}
	return 0
}

func runInit(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("kms-server init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "directory to write the starter configuration into")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	st, err := kmsconfig.WriteStarter(*dir, nil)
	if err != nil {
		fmt.Fprintf(stderr, "kms-server: error: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, `wrote %s
      %s (root key, keep it secret and backed up: without it the keys are lost)
      %s (key store)
start:  kms-server --config %s
try:    AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s \
          aws kms create-key --region us-east-1 --endpoint-url http://%s
`, st.ConfigPath, st.RootKeyPath, st.KeyStoreDir, st.ConfigPath, st.AccessKeyID, st.Secret, st.Listen)
	return 0
}

func serve(cfgPath, listen, metricsListen string, stdout io.Writer, log *slog.Logger) error {
	f, err := kmsconfig.Load(cfgPath)
	if err != nil {
		return err
	}
	for _, w := range f.Warnings {
		log.Warn("deprecated configuration", "config", cfgPath, "warning", w)
	}
	if listen != "" {
		f.Listen = listen
	}
	if metricsListen != "" {
		f.MetricsListen = metricsListen
	}
	audit := stdout
	if p := f.AuditPath(); p != "" && p != "-" {
		af, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		defer af.Close()
		audit = af
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	store, err := f.OpenStore(octx)
	cancel()
	if err != nil {
		return err
	}
	defer store.Close()
	cfg, err := f.ServerConfig(store, audit)
	if err != nil {
		return err
	}
	cfg.Logger = log
	srv, err := kmsserver.NewServer(cfg)
	if err != nil {
		return err
	}
	srv.MetricsRegistry().MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := srv.Listen(); err != nil {
		return err
	}
	attrs := []any{"addr", srv.Addr("kms").String(), "region", cfg.Region, "key_store", f.StoreName()}
	if a := srv.Addr("metrics"); a != nil {
		attrs = append(attrs, "metrics_addr", a.String())
	}
	log.Info("serving KMS", attrs...) // every listener is bound
	return srv.Serve(ctx)
}
