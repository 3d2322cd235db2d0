// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
	"github.com/enclavekit/enclavekit/internal/cli"
	"github.com/enclavekit/enclavekit/internal/transport"
)

// storeOpenTimeout bounds opening the key store (PostgreSQL: connecting
// and migrating).
const storeOpenTimeout = time.Minute

// serve loads the configuration, binds every listener, and serves until
// ctx ends. Configuration problems are usage errors (exit 2).
func serve(ctx context.Context, o *serveOptions, stdout, stderr io.Writer) error {
	lv, err := cli.ParseLogLevel(o.logLevel)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lv}))

	f, err := kmsconfig.Load(o.config)
	if err != nil {
		var fe *kmsconfig.FileError
		if errors.Is(err, kmsconfig.ErrFileMode) {
			return cli.Usage(err) // its message says what to chmod
		}
		if errors.As(err, &fe) {
			return cli.Usage(cli.WithHint(err, "kms-server init --dir DIR writes a starter file that shows the keys"))
		}
		return cli.Usage(configFileError(o.config, err))
	}
	if o.listen != "" {
		f.Listen = o.listen
	}
	if o.metricsListen != "" {
		f.MetricsListen = o.metricsListen
	}
	if o.tlsCert != "" {
		// Flags name files relative to the working directory, the file
		// relative to itself.
		cert, err1 := filepath.Abs(o.tlsCert)
		key, err2 := filepath.Abs(o.tlsKey)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		t := kmsconfig.TLS{Cert: cert, Key: key}
		if f.TLS != nil {
			t.ClientCA = f.TLS.ClientCA
		}
		f.TLS = &t
	}
	kmsAddr, err := cli.ParseAddr(addrName(o.listen, "--listen", "listen"), f.Listen)
	if err != nil {
		return err
	}
	var metricsAddr transport.Addr
	if f.MetricsListen != "" && f.MetricsListen != "off" {
		if metricsAddr, err = cli.ParseAddr(addrName(o.metricsListen, "--metrics-listen", "metrics_listen"), f.MetricsListen); err != nil {
			return err
		}
	}

	for _, w := range f.Warnings {
		log.Warn("deprecated configuration", "config", o.config, "warning", w)
	}

	audit := stdout
	var auditFile *kmsconfig.AuditFile
	if p := f.AuditPath(); p != "" && p != "-" {
		if auditFile, err = kmsconfig.OpenAuditFile(p); err != nil {
			return err
		}
		defer auditFile.Close()
		audit = auditFile
	}
	octx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	store, err := f.OpenStore(octx)
	cancel()
	if err != nil {
		if errors.Is(err, kmsconfig.ErrConfig) {
			return cli.Usage(err)
		}
		return err
	}
	defer store.Close()
	cfg, err := f.ServerConfig(store, audit)
	if err != nil {
		var ce *kmsconfig.CertificateError
		if errors.As(err, &ce) {
			err = certificateError(o.config, o.tlsCert, o.tlsKey, ce)
		}
		return cli.Usage(configHint(err))
	}
	cfg.Listen = kmsAddr.String()
	cfg.MetricsListen = ""
	if !metricsAddr.IsZero() {
		cfg.MetricsListen = metricsAddr.String()
	}
	cfg.Logger = log
	cfg.AttestationMessage = attestationMessage
	for _, w := range unsafeWarnings(cfg) {
		log.Warn("unsafe setting: "+w.msg, append([]any{"config", o.config, "setting", w.setting}, w.attrs...)...)
	}
	srv, err := kmsserver.NewServer(cfg)
	if err != nil {
		if errors.Is(err, kmsserver.ErrConfig) {
			return cli.Usage(serverConfigError(o, f, err))
		}
		return err
	}
	srv.MetricsRegistry().MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// SIGHUP reads the TLS certificate and key again (a renewal; open
	// connections keep theirs) and reopens the audit log file (after
	// logrotate moved it away).
	if cert, _ := f.Certificate(); cert != nil || auditFile != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					if auditFile != nil {
						if err := auditFile.Reopen(); err != nil {
							log.Error("SIGHUP: audit log not reopened; writing to the previous file", "error", err)
						} else {
							log.Info("SIGHUP: audit log reopened")
						}
					}
					if cert == nil {
						continue
					}
					if err := cert.Reload(); err != nil {
						log.Error("SIGHUP: TLS certificate not reloaded; serving the previous one", "error", err)
					} else {
						log.Info("SIGHUP: TLS certificate reloaded")
					}
				}
			}
		}()
	}

	// Bind every listener before saying "serving": a supervisor or a test
	// that waits for the line can then connect to any of them.
	if err := srv.Listen(); err != nil {
		var le *kmsserver.ListenError
		if errors.As(err, &le) {
			return listenError(o, f, le)
		}
		return err
	}
	scheme := "http"
	if cfg.TLSConfig != nil {
		scheme = "https"
	}
	attrs := []any{"addr", srv.Addr("kms").String(), "scheme", scheme, "region", srv.Region(), "account_id", srv.AccountID(), "key_store", f.StoreName()}
	metrics := "off"
	if a := srv.Addr("metrics"); a != nil {
		metrics = a.String()
	}
	attrs = append(attrs, "metrics_addr", metrics)
	log.Info("serving KMS", attrs...) // every listener is bound
	return srv.Serve(ctx)
}

// addrName names where an address came from: the flag when it was given,
// else the configuration key.
func addrName(flagValue, flagName, key string) string {
	if flagValue != "" {
		return flagName
	}
	return key
}
