// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/attestedtls"
)

// serveHTTP serves hs on a loopback listener until the test ends and
// returns its address.
func serveHTTP(t testing.TB, hs *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs.ErrorLog = slog.NewLogLogger(quietLogger().Handler(), slog.LevelError)
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// TestServerHTTPServerHTTP1Only: an http.Server serving Server.TLSConfig
// speaks HTTP/2 to a client offering only h2 (net/http adds h2 to the
// ALPN list), and over HTTP/2 one connection carries hundreds of
// requests at once beyond any per-connection bound. Server.HTTPServer
// speaks HTTP/1.1 only: the h2-only client fails the handshake with
// no_application_protocol, and the attested client still gets through.
func TestServerHTTPServerHTTP1Only(t *testing.T) {
	e := newEnclave(t, "app")
	hs := e.srv.HTTPServer(appHandler)
	if hs.Protocols == nil || hs.Protocols.HTTP2() || hs.Protocols.UnencryptedHTTP2() || !hs.Protocols.HTTP1() {
		t.Fatalf("HTTPServer's Protocols = %v, want HTTP/1 only", hs.Protocols)
	}
	if hs.ReadHeaderTimeout <= 0 || hs.IdleTimeout <= 0 {
		t.Errorf("HTTPServer: ReadHeaderTimeout %v, IdleTimeout %v: want bounds", hs.ReadHeaderTimeout, hs.IdleTimeout)
	}
	addr := serveHTTP(t, hs)

	err := handshake(t, addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"}})
	if err == nil {
		t.Errorf("a client offering only h2 completed the handshake")
	} else if !strings.Contains(err.Error(), "no application protocol") {
		t.Errorf("h2-only handshake: %v, want the no_application_protocol alert", err)
	}

	cl := newClient(t, policy(e.emu, "app"))
	c, err := cl.Dial(ctx(t), "tcp", addr, "")
	if err != nil {
		t.Fatalf("the attested client through HTTPServer: %v", err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("the attested client negotiated %q, want http/1.1", p)
	}
}

// TestHTTP1Only: HTTP1Only is HTTP/1 alone, a new value each call.
func TestHTTP1Only(t *testing.T) {
	p := attestedtls.HTTP1Only()
	if !p.HTTP1() || p.HTTP2() || p.UnencryptedHTTP2() {
		t.Fatalf("HTTP1Only() = %v", p)
	}
	p.SetHTTP2(true)
	if attestedtls.HTTP1Only().HTTP2() {
		t.Errorf("HTTP1Only returns a shared value")
	}
}
