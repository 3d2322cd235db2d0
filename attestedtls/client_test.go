// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
)

// A full attested connection to the emulator over TCP: handshake,
// challenge, then the application's HTTP on the same connection.
func TestDialEmulator(t *testing.T) {
	e := newEnclave(t, "app")
	cl := newClient(t, policy(e.emu, "app"))
	conn, err := cl.Dial(ctx(t), "tcp", e.addr, "enclave.test")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !bytes.Equal(conn.Handshake.PublicKey, e.srv.KeyHash()) || !bytes.Equal(conn.Document.PublicKey, e.srv.KeyHash()) {
		t.Error("documents do not carry the server's key hash")
	}
	if conn.Document.Nonce == nil || len(conn.Document.UserData) != attestedtls.ExporterSize {
		t.Errorf("challenge document: nonce %x, user_data %x", conn.Document.Nonce, conn.Document.UserData)
	}
	if conn.Document.ModuleID != e.emu.ModuleID() {
		t.Errorf("module ID %q, want %q", conn.Document.ModuleID, e.emu.ModuleID())
	}
	// A second challenge with the client's own nonce, on the same session.
	nonce := bytes.Repeat([]byte{0xab}, 20)
	doc, err := cl.Challenge(ctx(t), conn.Conn, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc.Nonce, nonce) || !bytes.Equal(doc.UserData, conn.Document.UserData) {
		t.Error("second challenge: wrong nonce or another exporter value on the same session")
	}
}

// An http.Client whose every connection is attested, reaching the
// application through the agent's reverse route.
func TestHTTPClientThroughAttestedListener(t *testing.T) {
	e := newEnclave(t, "app")
	cl := newClient(t, policy(e.emu, "app"))
	hc := &http.Client{Transport: cl.Transport()}
	defer hc.CloseIdleConnections()
	for range 3 {
		resp, err := hc.Get("https://" + e.addr + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello from the enclave app: /hello" {
			t.Fatalf("app answered %q", b)
		}
	}
	// The reserved prefix never reaches the application.
	resp, err := hc.Get("https://" + e.addr + "/.well-known/enclavekit/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("reserved path: HTTP %d, want 404", resp.StatusCode)
	}
}

// A document from another image: PCR0 differs.
func TestRefusePCRMismatch(t *testing.T) {
	e := newEnclave(t, "other-image")
	err := handshake(t, e.addr, newClient(t, policy(e.emu, "app")).TLSConfig())
	wantCode(t, err, attestation.CodePCRMismatch, attestation.ErrPCRMismatch)
	var pm *attestation.PCRMismatchError
	if !errors.As(err, &pm) || len(pm.Mismatches) != 1 || pm.Mismatches[0].Index != 0 {
		t.Fatalf("want a PCRMismatchError on PCR0, got %v", err)
	}
}

// An expired document: the client's time is after the NSM leaf's three
// hours.
func TestRefuseExpiredDocument(t *testing.T) {
	e := newEnclave(t, "app")
	p := policy(e.emu, "app")
	p.Options.CurrentTime = time.Now().Add(4 * time.Hour)
	p.Options.MaxAge = 0
	err := handshake(t, e.addr, newClient(t, p).TLSConfig())
	wantCode(t, err, attestation.CodeCertificateExpired, attestation.ErrCertificateExpired)
	var ve *attestation.ValidityError
	if !errors.As(err, &ve) || !ve.Expired() {
		t.Fatalf("want a ValidityError, got %v", err)
	}
	// attestation's facts, with this package's advice: attestation's
	// (set Options.AtDocumentTime, for archived documents) would lead to a
	// client that NewClient refuses.
	want := "attestedtls: the document in the server's certificate: attestation: " + ve.Facts() +
		"; a live peer is verified at the current time, so its document must be current" +
		" (a server that stopped refreshing its certificate, a recorded one replayed, or this client's clock ahead)"
	if msg := err.Error(); msg != want || strings.Contains(msg, "AtDocumentTime") {
		t.Errorf("message:\n got %s\nwant %s", msg, want)
	}
	// A client clock behind the document: not yet valid.
	p.Options.CurrentTime = time.Now().Add(-time.Hour)
	err = handshake(t, e.addr, newClient(t, p).TLSConfig())
	wantCode(t, err, attestation.CodeCertificateNotYetValid, attestation.ErrCertificateNotYetValid)
	if !errors.As(err, &ve) || ve.Expired() {
		t.Fatalf("want a not-yet-valid ValidityError, got %v", err)
	}
	want = "attestedtls: the document in the server's certificate: attestation: " + ve.Facts() +
		"; check this client's clock (or Options.CurrentTime): a live peer is verified at the current time"
	if msg := err.Error(); msg != want || strings.Contains(msg, "AtDocumentTime") {
		t.Errorf("message:\n got %s\nwant %s", msg, want)
	}
	// And a document older than MaxAge.
	p = policy(e.emu, "app")
	p.Options.CurrentTime = time.Now().Add(time.Hour)
	err = handshake(t, e.addr, newClient(t, p).TLSConfig())
	wantCode(t, err, attestation.CodeTooOld, attestation.ErrTooOld)
}

// A server that replays a challenge document recorded on an earlier
// connection (it holds the enclave's key, so the handshake passes).
func TestRefuseReplayedChallenge(t *testing.T) {
	e := newEnclave(t, "app")
	var mu sync.Mutex
	var recorded []byte
	real := e.srv.Handler(appHandler)
	replay := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == attestedtls.ChallengePath && recorded != nil {
			w.Header().Set("Content-Type", "application/cbor")
			w.Write(recorded)
			return
		}
		real.ServeHTTP(w, r)
	})
	addr := serveTLS(t, e.srv.TLSConfig(), replay)
	cl := newClient(t, policy(e.emu, "app"))
	conn, err := cl.Dial(ctx(t), "tcp", addr, "")
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	mu.Lock()
	recorded = conn.Document.Raw
	mu.Unlock()

	_, err = cl.Dial(ctx(t), "tcp", addr, "")
	wantCode(t, err, attestation.CodeNonceMismatch, attestation.ErrNonceMismatch)
	var mm *attestation.MismatchError
	if !errors.As(err, &mm) || mm.Field != "nonce" {
		t.Fatalf("want a nonce MismatchError, got %v", err)
	}
}

// Challenge answers that are not documents.
func TestRefuseBadChallengeAnswer(t *testing.T) {
	e := newEnclave(t, "app")
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }},
		{"text", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }},
		{"huge", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/cbor")
			w.Write(make([]byte, attestedtls.MaxDocumentSize+1))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveTLS(t, e.srv.TLSConfig(), tc.h)
			_, err := newClient(t, policy(e.emu, "app")).Dial(ctx(t), "tcp", addr, "")
			wantCode(t, err, attestation.CodeMalformed, attestedtls.ErrChallenge)
		})
	}
}

func TestClientConfigErrors(t *testing.T) {
	for name, cfg := range map[string]*attestedtls.ClientConfig{
		"nil":              nil,
		"nonce":            {Options: attestation.Options{Nonce: []byte{1}}},
		"pubkey":           {Options: attestation.Options{PublicKey: []byte{1}}},
		"negative timeout": {Options: attestation.Options{PCRs: map[int][]byte{0: pcr0("app")}}, Timeout: -time.Second},
	} {
		if _, err := attestedtls.NewTLSConfig(cfg); !errors.Is(err, attestedtls.ErrConfig) || !errors.Is(err, attestation.ErrInvalidOptions) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	// AtDocumentTime: a live connection verified at its document's own
	// time would accept a recorded certificate (with its key) forever.
	e := newEnclave(t, "app")
	p := policy(e.emu, "app")
	p.Options.AtDocumentTime = true
	_, err := attestedtls.NewClient(p)
	var ce *attestedtls.ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, attestedtls.ErrConfig) || !strings.Contains(ce.Reason, "Options.AtDocumentTime") ||
		!strings.Contains(ce.Reason, "verified at the current time") {
		t.Errorf("AtDocumentTime: err = %v, want a ConfigError naming it", err)
	}
	cl := newClient(t, policy(e.emu, "app"))
	conn, err := cl.Dial(ctx(t), "tcp", e.addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := cl.Challenge(ctx(t), conn.Conn, []byte{1, 2, 3}); !errors.Is(err, attestedtls.ErrConfig) {
		t.Errorf("short nonce: err = %v, want ErrConfig", err)
	}
}

// TLS 1.2 is refused on both sides: a challenge needs the TLS 1.3
// exporter.
func TestTLS13Only(t *testing.T) {
	e := newEnclave(t, "app")
	err := handshake(t, e.addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	if err == nil {
		t.Fatal("the server accepted TLS 1.2")
	}
}

// TestKeyExchanges: every key exchange the server lists completes a
// handshake offered alone, and P-521, the costliest a relaying parent
// could pick, is refused with the handshake-failure alert.
func TestKeyExchanges(t *testing.T) {
	e := newEnclave(t, "app")
	for _, g := range attestedtls.KeyExchanges() {
		if err := handshake(t, e.addr, &tls.Config{InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{g}}); err != nil {
			t.Errorf("%v offered alone: %v", g, err)
		}
	}
	err := handshake(t, e.addr, &tls.Config{InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tls.CurveP521}})
	// The server's alert reaches the client as "remote error" (a
	// net.OpError around an unexported alert type).
	if err == nil || !strings.Contains(err.Error(), "remote error: tls: handshake failure") {
		t.Fatalf("P-521 offered alone: err = %v, want the server's handshake_failure alert", err)
	}
	if slices.Contains(attestedtls.KeyExchanges(), tls.CurveP521) {
		t.Fatal("KeyExchanges lists P-521")
	}
}

// TestChallengeBoundsTheAnswer: an attested server that answers the
// challenge with megabytes of headers (or an endless stream of them) makes
// the client fail with a ChallengeError once the answer is over its
// bound, instead of holding it all in memory until the deadline.
func TestChallengeBoundsTheAnswer(t *testing.T) {
	emu := newEmulator(t, "image")
	srv, err := attestedtls.NewServer(&attestedtls.ServerConfig{NSM: emu, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		w := bufio.NewWriter(c)
		w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/cbor\r\n")
		pad := "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"
		for range 4 << 10 { // 4 MiB of headers
			w.WriteString(pad)
		}
		w.WriteString("Content-Length: 1\r\n\r\nx")
		w.Flush()
	}()
	cl := newClient(t, policy(emu, "image"))
	conn, err := tls.Dial("tcp", ln.Addr().String(), cl.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = cl.Challenge(ctx(t), conn, nil)
	var ce *attestedtls.ChallengeError
	if !errors.As(err, &ce) || !errors.Is(err, attestedtls.ErrChallenge) {
		t.Fatalf("Challenge: %v, want a ChallengeError for an oversized answer", err)
	}
}

// silentListener accepts TCP connections on loopback (the kernel does,
// for its backlog) and never speaks: a parent that relays nothing.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// within runs f and fails the test unless it returns within a generous
// bound (it only turns a hang into a failure, measures nothing).
func within(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("still blocked after 30s")
		return nil
	}
}

// TestClientTimeout: a parent that accepts the TCP connection and stays
// silent, or completes the handshake and never answers the challenge,
// makes Dial, Transport (through an http.Client without a Timeout,
// as the package example was) and Challenge fail once
// ClientConfig.Timeout has passed, with an error matching
// context.DeadlineExceeded, although their context has no deadline.
func TestClientTimeout(t *testing.T) {
	emu := newEmulator(t, "image")
	p := policy(emu, "image")
	p.Timeout = 200 * time.Millisecond
	cl := newClient(t, p)
	addr := silentListener(t)

	err := within(t, func() error {
		_, err := cl.Dial(context.Background(), "tcp", addr, "")
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial to a silent peer: err = %v, want context.DeadlineExceeded", err)
	}
	t.Logf("Dial: %v", err)

	hc := &http.Client{Transport: cl.Transport()}
	defer hc.CloseIdleConnections()
	err = within(t, func() error {
		resp, err := hc.Get("https://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("http.Client to a silent peer: err = %v, want context.DeadlineExceeded", err)
	}
	t.Logf("http.Client: %v", err)

	// The handshake passes; the challenge is read and never answered.
	srv, err := attestedtls.NewServer(&attestedtls.ServerConfig{NSM: emu, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				http.ReadRequest(bufio.NewReader(c))
				io.Copy(io.Discard, c) // until the client gives up
			}()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), cl.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = within(t, func() error {
		_, err := cl.Challenge(context.Background(), conn, nil)
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Challenge never answered: err = %v, want context.DeadlineExceeded", err)
	}
	t.Logf("Challenge: %v", err)
	err = within(t, func() error {
		_, err := cl.Dial(context.Background(), "tcp", ln.Addr().String(), "")
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial, challenge never answered: err = %v, want context.DeadlineExceeded", err)
	}
	t.Logf("Dial (challenge): %v", err)
}

// TestTLSConfigSilentPeer: a tls.Config carries no deadline, so
// ClientConfig.Timeout does not reach a connection made with
// Client.TLSConfig. tls.Dial with it, as ExampleNewTLSConfig had it, to a
// peer that accepts the connection and stays silent is still blocked at
// five times the Timeout (and would be forever); tls.Dialer.DialContext
// with a deadline, as the example now has it, fails at the deadline with
// context.DeadlineExceeded.
func TestTLSConfigSilentPeer(t *testing.T) {
	p := policy(newEmulator(t, "image"), "image")
	p.Timeout = 100 * time.Millisecond
	cfg := newClient(t, p).TLSConfig()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("tls.Dial with TLSConfig to a silent peer returned (%v); want it blocked: nothing bounds it", err)
	case <-time.After(5 * p.Timeout):
	}
	ln.Close() // resets the queued connection, which ends the handshake
	if err := within(t, func() error { return <-done }); err == nil {
		t.Fatal("tls.Dial: handshake with a closed peer passed")
	}

	addr := silentListener(t)
	dctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = within(t, func() error {
		c, err := (&tls.Dialer{Config: cfg}).DialContext(dctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("tls.Dialer.DialContext with a deadline to a silent peer: err = %v, want context.DeadlineExceeded", err)
	}
}
