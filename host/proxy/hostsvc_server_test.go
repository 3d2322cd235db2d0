// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// serviceRoute is where serviceRoutesProxy serves one route: a URL it
// answers 200 and the socket behind it.
type serviceRoute struct {
	url             string
	network, socket string
}

// client returns an HTTP client that connects to the route's socket.
func (r serviceRoute) client(t *testing.T) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, r.network, r.socket)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// serviceRoutesProxy serves the admin endpoint on loopback and the time
// and credentials routes on unix sockets (they refuse TCP), and returns
// them by name.
func serviceRoutesProxy(t *testing.T) map[string]serviceRoute {
	t.Helper()
	log, _ := testLogger(t)
	p, _ := startProxy(t, &Config{Logger: log, Time: &ServiceConfig{Listen: unixListen(t, "time.sock")},
		Environ:     []string{"AWS_ACCESS_KEY_ID=AKIDROLE", "AWS_SECRET_ACCESS_KEY=role-secret"},
		Credentials: &CredentialsConfig{Listen: credsListen(t), Source: "env"},
		Admin:       "tcp://127.0.0.1:0"})
	return map[string]serviceRoute{
		"time":        {"http://localhost/v1/time", "unix", p.Addr("time").String()},
		"credentials": {"http://localhost/credentials", "unix", p.Addr("credentials").String()},
		"admin":       {"http://" + p.Addr("admin").String() + "/metrics", "tcp", p.Addr("admin").String()},
	}
}

// The service routes and the admin endpoint take tiny GET requests: a
// client sending 16 KiB of headers (Go's default limit is 1 MB a request,
// held in memory and parsed) is refused with 431.
func TestServiceRoutesHeaderLimit(t *testing.T) {
	for name, r := range serviceRoutesProxy(t) {
		client := r.client(t)
		req, _ := http.NewRequest(http.MethodGet, r.url, nil)
		req.Header.Set(CredentialsHeader, "1")
		req.Host = "localhost"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: a plain request: HTTP %d", name, resp.StatusCode)
		}
		req.Header.Set("X-Padding", strings.Repeat("a", 16<<10))
		resp, err = client.Do(req)
		if err != nil {
			continue // the server may close before the client has written it all
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: 16 KiB of headers: HTTP %d, want 431", name, resp.StatusCode)
		}
	}
}

// A client that opens connections and sends its headers slowly (or
// never), or keeps a connection idle, does not hold it for long: the
// server closes it within the service routes' timeouts.
func TestServiceRoutesTimeouts(t *testing.T) {
	routes := serviceRoutesProxy(t)
	closedWithin := func(t *testing.T, c net.Conn, limit time.Duration) {
		t.Helper()
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(limit + 3*time.Second))
		_, err := io.Copy(io.Discard, c)
		if took := time.Since(start); err != nil || took > limit+2*time.Second {
			t.Fatalf("connection still open after %v (err %v), want closed within %v", took, err, limit)
		}
	}
	for name, r := range routes {
		u, err := url.Parse(r.url)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name+"/slow headers", func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial(r.network, r.socket)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n")
			closedWithin(t, c, serviceReadHeaderTimeout)
		})
		t.Run(name+"/idle", func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial(r.network, r.socket)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = io.WriteString(c, "GET "+u.Path+" HTTP/1.1\r\nHost: localhost\r\n"+CredentialsHeader+": 1\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: HTTP %d", u.Path, resp.StatusCode)
			}
			start := time.Now()
			closedWithin(t, c, serviceIdleTimeout)
			if time.Since(start) < serviceIdleTimeout/2 {
				t.Fatalf("closed after %v, before the idle timeout", time.Since(start))
			}
		})
	}
}

// The limits wired into the service routes' server, and the write
// timeout leaves room for a credentials refresh from IMDS (three requests
// of at most 5 s).
func TestServiceServerLimits(t *testing.T) {
	s := newServiceServer(http.NotFoundHandler(), nil)
	if s.MaxHeaderBytes != serviceMaxHeaderBytes || s.ReadHeaderTimeout != serviceReadHeaderTimeout ||
		s.ReadTimeout != serviceReadTimeout || s.WriteTimeout != serviceWriteTimeout || s.IdleTimeout != serviceIdleTimeout {
		t.Fatalf("server limits: %+v", s)
	}
	if serviceWriteTimeout <= 3*5*time.Second || serviceMaxHeaderBytes+4096 >= 16<<10 /* net/http allows 4 KiB more */ || serviceIdleTimeout > 10*time.Second {
		t.Fatal("service limits out of range")
	}
}
