// SPDX-License-Identifier: Apache-2.0

package agent_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/enclave/emulator"
)

// TestAttestedProxyHeaders is a remote client (the parent is one too: it
// can connect like anyone) trying to smuggle through the attested
// listener's reverse proxy to the application:
//   - forged X-Forwarded-For, X-Forwarded-Host, Forwarded and a downgrade
//     X-Forwarded-Proto: http never reach the application, which sees
//     X-Forwarded-Proto: https only;
//   - "Connection: X-Forwarded-Proto" cannot strip the relay marker the
//     local KMS endpoint refuses relayed requests by;
//   - a request with both Content-Length and Transfer-Encoding (a second
//     request hidden in the body Content-Length counts) is framed by
//     chunked encoding, as RFC 9112 §6.3 says, and re-framed on the way to
//     the application: the application gets an empty body, never the
//     hidden bytes as a body nor a conflicting Content-Length. (Go's
//     server then reads the hidden request as the client's next one, on
//     the client's own connection: no desync, only one parser is
//     involved.)
//
// It passes on the code it was written against: it pins the properties.
func TestAttestedProxyHeaders(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: image[:]}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	var mu sync.Mutex
	var seen []*http.Request
	bodies := map[string]int64{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r)
		bodies[r.URL.Path] = n
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(app.Close)
	a, err := agent.NewAttested(&agent.AttestedConfig{NSM: emu, Upstream: app.URL, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveAttested(t, a, "tcp://127.0.0.1:0")
	cl, err := attestedtls.NewClient(&attestedtls.ClientConfig{Options: attestation.Options{
		Roots: []*x509.Certificate{emu.Root()}, PCRs: map[int][]byte{0: image[:]}, MaxAge: 10 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	raw := func(req string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := cl.Dial(ctx, "tcp", addr.String(), "")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.Status
	}

	st := raw("GET /forged HTTP/1.1\r\nHost: enclave\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: admin.internal\r\n" +
		"Forwarded: for=10.0.0.1;proto=http\r\nX-Forwarded-Proto: http\r\nConnection: X-Forwarded-Proto\r\n\r\n")
	if !strings.HasPrefix(st, "200") {
		t.Fatalf("forged headers: %s", st)
	}
	st = raw("POST /smuggle HTTP/1.1\r\nHost: enclave\r\nContent-Length: 49\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"0\r\n\r\nGET /hidden HTTP/1.1\r\nHost: enclave\r\n\r\n")
	if !strings.HasPrefix(st, "200") {
		t.Fatalf("Content-Length with Transfer-Encoding: %s", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 2 || seen[0].URL.Path != "/forged" || seen[1].URL.Path != "/smuggle" {
		t.Fatalf("the application saw %d requests, want /forged then /smuggle", len(seen))
	}
	if n := bodies["/smuggle"]; n != 0 || len(seen[1].Header.Values("Content-Length")) > 1 {
		t.Fatalf("/smuggle reached the application with a %d-byte body, Content-Length %q", n, seen[1].Header.Values("Content-Length"))
	}
	h := seen[0].Header
	for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "Forwarded"} {
		if v := h.Values(k); len(v) > 0 {
			t.Errorf("the application got the client's %s: %q", k, v)
		}
	}
	if v := h.Values("X-Forwarded-Proto"); len(v) != 1 || v[0] != "https" {
		t.Errorf("X-Forwarded-Proto %q, want [https] (the relay marker)", v)
	}
}
