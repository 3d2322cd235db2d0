// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// These tests are a flood of connections to the KMS listener, none of them
// authenticated: whoever reaches the listener opens and holds them, and
// each costs the server a goroutine, buffers and, with TLS, a handshake's
// state. Config.MaxConnections bounds how many are open at once.

// connSlack is how late a waiting connection may be served, on a loaded
// machine, once a held one closes.
const connSlack = 2 * time.Second

// selfSignedTLS returns a server TLS configuration with a fresh
// self-signed certificate for 127.0.0.1 (the tests do not verify it).
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kms-server test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// dialKMS opens a TCP connection to the server's KMS listener, closed when
// the test ends.
func dialKMS(t *testing.T, srv *Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr("kms").String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// servingBounded is a serving kms-server holding at most max connections,
// over TLS when withTLS.
func servingBounded(t *testing.T, max int, withTLS bool) *Server {
	srv, _ := newServing(t, func(c *Config) {
		c.MaxConnections = max
		if withTLS {
			c.TLSConfig = selfSignedTLS(t)
		}
	})
	return srv
}

// TestConnectionBound: with MaxConnections connections open (raw TCP that
// sends nothing: with TLS, before their handshake), one more is not served
// (its request gets no answer, its handshake none) until one of them
// closes; then it is.
func TestConnectionBound(t *testing.T) {
	const max = 4
	for _, withTLS := range []bool{false, true} {
		name := "plain HTTP"
		if withTLS {
			name = "TLS, held before the handshake"
		}
		t.Run(name, func(t *testing.T) {
			srv := servingBounded(t, max, withTLS)
			var held []net.Conn
			for range max {
				held = append(held, dialKMS(t, srv))
			}
			// The kernel completes the TCP connect of one more (it waits in
			// the accept queue); the server must not read it.
			over := dialKMS(t, srv)
			_ = over.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
			if withTLS {
				over = tls.Client(over, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
			}
			// Unauthenticated: any HTTP answer at all means served.
			servedOnlyAfter(t, over, "GET / HTTP/1.1\r\nHost: kms\r\n\r\n",
				fmt.Sprintf("a connection over MaxConnections %d", max), held[0])
		})
	}
}

// TestConnectionFlood: a flood of connections that send nothing grows the
// server's goroutines by what MaxConnections of them cost (one each, one
// more each while a TLS handshake runs), not by the flood.
func TestConnectionFlood(t *testing.T) {
	const max, flood = 4, 64
	for _, withTLS := range []bool{false, true} {
		name := "plain HTTP"
		if withTLS {
			name = "TLS"
		}
		t.Run(name, func(t *testing.T) {
			srv := servingBounded(t, max, withTLS)
			before := runtime.NumGoroutine()
			for range flood {
				dialKMS(t, srv)
			}
			// The server accepts what it will at once; 300 ms is plenty for
			// the flood to show, on a machine where 64 accepts take
			// microseconds.
			for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if grown := runtime.NumGoroutine() - before; grown > 2*max+2 {
					t.Fatalf("%d connections (MaxConnections %d) grew the goroutines by %d", flood, max, grown)
				}
			}
		})
	}
}

// TestMaxConnectionsConfig: a negative MaxConnections is refused naming
// the field; zero is the default, DefaultMaxConnections.
func TestMaxConnectionsConfig(t *testing.T) {
	base := func() *Config {
		return &Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32),
			AccessKeys: map[string]AccessKey{testAKID: {Secret: testSecret, PrincipalARN: testPrincipal, Policy: FullAccessPolicy}}}
	}
	c := base()
	c.MaxConnections = -1
	_, err := NewServer(c)
	var ce *ConfigError
	if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || ce.Setting != "maximum connections" ||
		!strings.Contains(err.Error(), "MaxConnections is negative (-1)") {
		t.Fatalf("negative MaxConnections: %v", err)
	}
	cfg, errs := base().withDefaults()
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if cfg.MaxConnections != DefaultMaxConnections || DefaultMaxConnections != 4096 {
		t.Fatalf("MaxConnections left zero is %d, want DefaultMaxConnections (%d), 4096", cfg.MaxConnections, DefaultMaxConnections)
	}
}

// TestMetricsConnectionBound: the metrics listener (unauthenticated too)
// holds at most metricsMaxConnections connections at once; one more is
// served once one of them closes.
func TestMetricsConnectionBound(t *testing.T) {
	srv, _ := newServing(t, nil)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", srv.Addr("metrics").String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var held []net.Conn
	for range metricsMaxConnections {
		held = append(held, dial())
	}
	over := dial()
	_ = over.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
	servedOnlyAfter(t, over, "GET /healthz HTTP/1.1\r\nHost: metrics\r\n\r\n",
		fmt.Sprintf("a metrics connection over %d", metricsMaxConnections), held[0])
}

// servedOnlyAfter sends req on over, a connection beyond a listener's
// bound, and checks that no answer comes while the bound's connections are
// held (for 300 ms), then that one does, without error, within connSlack
// of held closing. what names over in the failures.
func servedOnlyAfter(t *testing.T, over net.Conn, req, what string, held net.Conn) {
	t.Helper()
	answered := make(chan error, 1)
	go func() {
		if _, err := io.WriteString(over, req); err != nil {
			answered <- err
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(over), nil)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("%s was served (err %v) while the bound's connections were held", what, err)
	case <-time.After(300 * time.Millisecond):
	}
	held.Close()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("%s: its request, once one held connection closed: %v", what, err)
		}
	case <-time.After(connSlack):
		t.Fatalf("%s was not served within %v of one held connection closing", what, connSlack)
	}
}

// TestUnauthenticatedBodyMemory: connections whose request has no key
// and whose body never finishes cost the server what a connection that
// sends nothing costs, not a body buffer each: such a request is refused
// before its body is read (authenticateHeader) and its connection
// closed. Before, each held a buffer of up to MaxBodyBytes for the
// listener's 30 s read timeout, 93 KiB per connection against 14 KiB for
// a header-only one (found by review). A request that passes the checks
// made without the body (a configured access key ID, whose ID is no
// secret, and a current X-Amz-Date) still has its body read before its
// signature is checked: that one is logged, for the documented ceiling.
func TestUnauthenticatedBodyMemory(t *testing.T) {
	const n = 200
	srv := servingBounded(t, 3*n+10, false)
	addr := srv.Addr("kms").String()
	heap := func() float64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapInuse + ms.StackInuse)
	}
	var conns []net.Conn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	}
	defer closeAll()
	// perConn opens n connections that each send payload and measures
	// what they cost the server (and this test's side of them, which
	// holds no buffers) once it has read what they sent.
	perConn := func(payload string) float64 {
		closeAll()
		time.Sleep(time.Second)
		base := heap()
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if _, err := io.WriteString(c, payload); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(3 * time.Second)
		return (heap() - base) / n / 1024
	}
	date := time.Now().UTC().Format(amzDateFormat)
	head := "POST / HTTP/1.1\r\nHost: kms\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.ListKeys\r\n"
	// One byte short of its Content-Length: the server waits for the rest.
	body := "Content-Length: 65536\r\n\r\n" + strings.Repeat("A", 65535)
	signedHead := head + "X-Amz-Date: " + date + "\r\nAuthorization: AWS4-HMAC-SHA256 Credential=" + testAKID + "/" + date[:8] +
		"/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=" + strings.Repeat("0", 64) + "\r\n"

	headerOnly := perConn(head)
	noKey := perConn(head + body)
	knownKeyID := perConn(signedHead + body)
	t.Logf("per connection: header unfinished %.1f KiB; 64 KiB body unfinished, no Authorization %.1f KiB; "+
		"same with a configured access key ID and a current date %.1f KiB (%.0f MiB at %d connections)",
		headerOnly, noKey, knownKeyID, knownKeyID*DefaultMaxConnections/1024, DefaultMaxConnections)
	if noKey > headerOnly+8 {
		t.Errorf("a connection with an unfinished body and no key costs %.1f KiB, one that sends only a header %.1f KiB", noKey, headerOnly)
	}
}
