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
