// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// serviceRoutesProxy serves the time and credentials routes and the admin
// endpoint on loopback, and returns, by name, a URL each answers 200.
func serviceRoutesProxy(t *testing.T) map[string]string {
	t.Helper()
	log, _ := testLogger(t)
	p, _ := startProxy(t, &Config{Logger: log, Time: &ServiceConfig{Listen: "tcp://127.0.0.1:0"},
		Environ:     []string{"AWS_ACCESS_KEY_ID=AKIDROLE", "AWS_SECRET_ACCESS_KEY=role-secret"},
		Credentials: &CredentialsConfig{Listen: "tcp://127.0.0.1:0", Source: "env"},
		Admin:       "tcp://127.0.0.1:0"})
	return map[string]string{
		"time":        "http://" + p.Addr("time").String() + "/v1/time",
		"credentials": "http://" + p.Addr("credentials").String() + "/credentials",
		"admin":       "http://" + p.Addr("admin").String() + "/metrics",
	}
}

// The service routes and the admin endpoint take tiny GET requests: a
// client sending 16 KiB of headers (Go's default limit is 1 MB a request,
// held in memory and parsed) is refused with 431.
func TestServiceRoutesHeaderLimit(t *testing.T) {
	for name, u := range serviceRoutesProxy(t) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set(CredentialsHeader, "1")
		req.Host = "localhost"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: a plain request: HTTP %d", name, resp.StatusCode)
		}
		req.Header.Set("X-Padding", strings.Repeat("a", 16<<10))
		resp, err = http.DefaultClient.Do(req)
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
	urls := serviceRoutesProxy(t)
	closedWithin := func(t *testing.T, c net.Conn, limit time.Duration) {
		t.Helper()
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(limit + 3*time.Second))
		_, err := io.Copy(io.Discard, c)
		if took := time.Since(start); err != nil || took > limit+2*time.Second {
			t.Fatalf("connection still open after %v (err %v), want closed within %v", took, err, limit)
		}
	}
	for name, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name+"/slow headers", func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n")
			closedWithin(t, c, serviceReadHeaderTimeout)
		})
		t.Run(name+"/idle", func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", u.Host)
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
