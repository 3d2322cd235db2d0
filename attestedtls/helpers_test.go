// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"context"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
	"github.com/enclavekit/enclavekit/enclave/emulator"
)

// pcr0 returns a test image measurement.
func pcr0(name string) []byte {
	h := sha512.Sum384([]byte("attestedtls test image " + name))
	return h[:]
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newEmulator starts an emulated NSM for the image name.
func newEmulator(t testing.TB, image string) *emulator.Emulator {
	t.Helper()
	e, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: pcr0(image)}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// enclave is an attested TLS server on loopback.
type enclave struct {
	emu  *emulator.Emulator
	srv  *attestedtls.Server
	addr string
}

// appHandler is the application behind the agent.
var appHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "hello from the enclave app: "+r.URL.Path)
})

// serveTLS serves h over TLS with cfg on a loopback listener until the
// test ends and returns its address.
func serveTLS(t testing.TB, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(quietLogger().Handler(), slog.LevelError)}
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// newEnclave starts an emulator for image and an attested server for it.
func newEnclave(t testing.TB, image string) *enclave {
	t.Helper()
	emu := newEmulator(t, image)
	srv, err := attestedtls.NewServer(&attestedtls.ServerConfig{NSM: emu, Logger: quietLogger(), DNSNames: []string{"enclave.test"}})
	if err != nil {
		t.Fatal(err)
	}
	return &enclave{emu: emu, srv: srv, addr: serveHTTP(t, srv.HTTPServer(appHandler))}
}

// policy is the client policy pinning image, trusting the emulator's root.
func policy(e *emulator.Emulator, image string) *attestedtls.ClientConfig {
	return &attestedtls.ClientConfig{Options: attestation.Options{
		Roots:  []*x509.Certificate{e.Root()},
		PCRs:   map[int][]byte{0: pcr0(image)},
		MaxAge: 10 * time.Minute,
	}}
}

func newClient(t testing.TB, cfg *attestedtls.ClientConfig) *attestedtls.Client {
	t.Helper()
	c, err := attestedtls.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t testing.TB) context.Context {
	// Only turns a hang into a failure: far beyond a handshake with an
	// attestation on a loaded machine.
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// handshake dials addr with cfg and returns the handshake error.
func handshake(t testing.TB, addr string, cfg *tls.Config) error {
	t.Helper()
	d := &tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx(t), "tcp", addr)
	if err == nil {
		c.Close()
	}
	return err
}

// wantCode checks err's stable code and that it matches each target.
func wantCode(t testing.TB, err error, code string, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want a %s rejection", code)
	}
	if got := attestation.ErrorCode(err); got != code {
		t.Errorf("ErrorCode = %q, want %q (err: %v)", got, code, err)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(err, %v) = false; err: %v", target, err)
		}
	}
}

func newVerifier(root *x509.Certificate) (*attestation.Verifier, error) {
	return attestation.NewVerifier(&attestation.VerifierConfig{Roots: []*x509.Certificate{root}})
}
