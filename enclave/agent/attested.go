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

	"github.com/enclavekit/enclavekit/attestedtls"
	"github.com/enclavekit/enclavekit/internal/transport"
)

// AttestedConfig configures [NewAttested].
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
}

// Attested is the agent's attested TLS listener: one TLS 1.3 listener,
// terminated inside the enclave with a key that never leaves it, serving
// the attestation challenge (attestedtls.ChallengePath) and, for every
// other path, a reverse proxy to the application (AttestedConfig.Upstream).
// Remote clients verify it with the attestedtls package or
// nitro-verify --connect. host-proxy ingress relays it as raw TCP.
type Attested struct {
	srv *attestedtls.Server
	h   http.Handler
	log *slog.Logger
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
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	srv, err := attestedtls.NewServer(&attestedtls.ServerConfig{NSM: cfg.NSM, DNSNames: cfg.DNSNames, Refresh: cfg.Refresh, Logger: log})
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
			log.Warn("attested listener: upstream failed", slog.String("upstream", up.String()), slog.Any("err", err))
			writeError(w, http.StatusBadGateway, "upstream_error", "the application did not answer")
		},
	}
	return &Attested{srv: srv, h: srv.Handler(rp), log: log}, nil
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

// TLSConfig returns the listener's TLS configuration.
func (a *Attested) TLSConfig() *tls.Config { return a.srv.TLSConfig() }

// KeyHash returns the SHA-256 of the TLS key's SubjectPublicKeyInfo.
func (a *Attested) KeyHash() []byte { return a.srv.KeyHash() }

// Serve serves the attested listener on the transport address addr
// (vsock://, tcp:// or unix://) until ctx is done, then shuts down
// gracefully (up to 5 s). ready, when not nil, receives the listener's
// address once listening.
func (a *Attested) Serve(ctx context.Context, addr string, ready func(net.Addr)) error {
	ta, err := transport.ParseAddr(addr)
	if err != nil {
		return fmt.Errorf("agent: attested listen address: %w", err)
	}
	ln, err := transport.Listen(ta)
	if err != nil {
		return fmt.Errorf("agent: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           a.h,
		TLSConfig:         a.srv.TLSConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("agent: attested serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	}
}
