// SPDX-License-Identifier: Apache-2.0

package agent_test

import (
	"context"
	"crypto/sha512"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/enclave/emulator"
	"github.com/enclavekit/enclavekit/host/proxy"
)

var image = sha512.Sum384([]byte("agent attested test image"))

func attestedSetup(t testing.TB) (*emulator.Emulator, *agent.Attested) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: image[:]}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app: %s %s proto=%s", r.Method, r.URL.Path, r.Header.Get("X-Forwarded-Proto"))
	}))
	t.Cleanup(app.Close)
	a, err := agent.NewAttested(&agent.AttestedConfig{NSM: emu, Upstream: app.URL, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return emu, a
}

// serveAttested runs a.Serve on addr until the test ends.
func serveAttested(t testing.TB, a *agent.Attested, addr string) net.Addr {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, addr, func(la net.Addr) { ready <- la }) }()
	select {
	case la := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve after shutdown: %v", err)
			}
		})
		return la
	case err := <-done:
		cancel()
		t.Fatal(err)
	case <-time.After(time.Minute): // only turns a hang into a failure
		cancel()
		t.Fatal("Serve did not start")
	}
	return nil
}

func attestedGet(t *testing.T, emu *emulator.Emulator, network, addr, path string) string {
	t.Helper()
	cl, err := attestedtls.NewClient(&attestedtls.ClientConfig{Options: attestation.Options{
		Roots: []*x509.Certificate{emu.Root()}, PCRs: map[int][]byte{0: image[:]}, MaxAge: 10 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := cl.Dial(ctx, network, addr, "")
			if err != nil {
				return nil, err
			}
			return c.Conn, nil
		}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://enclave" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The attested listener over TCP and unix sockets (vsock's stand-ins):
// challenge, then the application behind the reverse proxy.
func TestAttestedListener(t *testing.T) {
	emu, a := attestedSetup(t)
	la := serveAttested(t, a, "tcp://127.0.0.1:0")
	if got := attestedGet(t, emu, "tcp", la.String(), "/orders/1"); got != "app: GET /orders/1 proto=https" {
		t.Errorf("tcp: app answered %q", got)
	}
	dir, err := os.MkdirTemp("", "eka")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "a.sock")
	serveAttested(t, a, "unix://"+sock)
	if got := attestedGet(t, emu, "unix", sock, "/x"); got != "app: GET /x proto=https" {
		t.Errorf("unix: app answered %q", got)
	}
}

// host-proxy's ingress route relays the attested listener as raw TCP: no
// change and no configuration beyond the route.
func TestAttestedThroughHostProxyIngress(t *testing.T) {
	emu, a := attestedSetup(t)
	la := serveAttested(t, a, "tcp://127.0.0.1:0")
	cfg, err := proxy.ParseConfig([]byte(fmt.Sprintf(`
routes:
  - {name: attested, direction: ingress, listen: 'tcp://127.0.0.1:0', destination: 'tcp://%s'}
`, la)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if got := attestedGet(t, emu, "tcp", p.Addr("attested").String(), "/via-proxy"); got != "app: GET /via-proxy proto=https" {
		t.Errorf("app answered %q", got)
	}
}

func TestAttestedConfigErrors(t *testing.T) {
	emu, _ := attestedSetup(t)
	for _, up := range []string{"", "https://127.0.0.1:8080", "http://10.0.0.1:8080", "http://example.com:80",
		"http://127.0.0.1", "http://127.0.0.1:80/app", "unix:///x", "http://u:p@127.0.0.1:1"} {
		if _, err := agent.NewAttested(&agent.AttestedConfig{NSM: emu, Upstream: up}); !errors.Is(err, agent.ErrConfig) {
			t.Errorf("upstream %q: err = %v, want ErrConfig", up, err)
		}
	}
	if _, err := agent.NewAttested(&agent.AttestedConfig{Upstream: "http://127.0.0.1:1"}); !errors.Is(err, agent.ErrConfig) {
		t.Errorf("no NSM: err = %v", err)
	}
	for _, up := range []string{"http://127.0.0.1:8080", "http://[::1]:8080/", "http://localhost:9"} {
		if _, err := agent.NewAttested(&agent.AttestedConfig{NSM: emu, Upstream: up}); err != nil {
			t.Errorf("upstream %q: %v", up, err)
		}
	}
}

// The application down: 502 upstream_error (JSON, as documented on
// AttestedConfig), not a hang or a crash.
func TestAttestedUpstreamDown(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: image[:]}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	// Port 1 is privileged: no test listens there, and the kernel never
	// hands it out (a released ephemeral port may be taken by another
	// test meanwhile).
	dead := "http://127.0.0.1:1"
	a, err := agent.NewAttested(&agent.AttestedConfig{NSM: emu, Upstream: dead, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusBadGateway {
		t.Errorf("HTTP %d, want 502", rec.Code)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != "upstream_error" || e.Error.Message != "the application did not answer" {
		t.Errorf("body %q (%v), want code upstream_error, message %q", rec.Body, err, "the application did not answer")
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
}
