// SPDX-License-Identifier: Apache-2.0

package agent_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/enclave/emulator"
)

// These tests are the parent instance attacking the attested listener
// with connections it opens and holds: every connection reaches the
// enclave through the parent, so each bound of AttestedConfig is checked
// over raw loopback connections, with bounds short enough to keep the
// tests fast.

// boundSlack is how late a bound may fire on a loaded machine.
const boundSlack = 2 * time.Second

// serveBounded serves an attested listener configured by cfg (its NSM,
// upstream and logger filled in) in front of app, on loopback TCP until
// the test ends, and returns its address.
func serveBounded(t *testing.T, cfg agent.AttestedConfig, app http.Handler) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: image[:]}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	up := httptest.NewServer(app)
	t.Cleanup(up.Close)
	// Runs before up.Close: a handler still writing (the bound under
	// test failed) would hold Close for good.
	t.Cleanup(up.CloseClientConnections)
	cfg.NSM, cfg.Upstream, cfg.Logger = emu, up.URL, log
	a, err := agent.NewAttested(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveAttested(t, a, "tcp://127.0.0.1:0").String()
}

// dialTCP opens a TCP connection to addr, closed when the test ends.
func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tlsClient starts TLS on c. The tests are about what a connection costs
// the enclave, not about verifying it (attested_test.go does that): the
// certificate is not checked.
func tlsClient(c net.Conn) *tls.Conn {
	return tls.Client(c, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
}

// closedWithin reports how long the server took to close c (EOF or a
// reset on read), waiting at most max; ok is false if it had not.
func closedWithin(c net.Conn, max time.Duration) (time.Duration, bool) {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(max))
	_, err := io.Copy(io.Discard, c)
	el := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return el, false
	}
	return el, err == nil || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
}

func okApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
}

// TestAttestedHeaderTimeout is a slow loris: connections that send
// nothing, half a handshake, nothing after the handshake, or half a
// request are closed within HeaderTimeout.
func TestAttestedHeaderTimeout(t *testing.T) {
	const header = 300 * time.Millisecond
	addr := serveBounded(t, agent.AttestedConfig{HeaderTimeout: header}, okApp())
	for name, start := range map[string]func(*testing.T, net.Conn) net.Conn{
		"nothing sent":             func(t *testing.T, c net.Conn) net.Conn { return c },
		"half a TLS record header": func(t *testing.T, c net.Conn) net.Conn { c.Write([]byte{0x16, 0x03}); return c },
		"nothing after the handshake": func(t *testing.T, c net.Conn) net.Conn {
			tc := tlsClient(c)
			if err := tc.Handshake(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			return tc
		},
		"half a request": func(t *testing.T, c net.Conn) net.Conn {
			tc := tlsClient(c)
			if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: enclave\r\n"); err != nil {
				t.Fatalf("request: %v", err)
			}
			return tc
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := start(t, dialTCP(t, addr))
			if el, ok := closedWithin(c, header+boundSlack); !ok {
				t.Errorf("the connection is still open after %v (HeaderTimeout %v)", el, header)
			}
		})
	}
}

// TestAttestedIdleTimeout: a kept-alive connection left idle after an
// answer is closed within IdleTimeout, and one that sends its next
// request in time is served.
func TestAttestedIdleTimeout(t *testing.T) {
	const idle = 400 * time.Millisecond
	addr := serveBounded(t, agent.AttestedConfig{IdleTimeout: idle}, okApp())
	tc := tlsClient(dialTCP(t, addr))
	_ = tc.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
	for i := range 2 {
		if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: enclave\r\nContent-Length: 0\r\n\r\n"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		buf := make([]byte, 4096)
		n, err := tc.Read(buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") || !strings.HasSuffix(string(buf[:n]), "ok") {
			t.Fatalf("request %d: %q %v", i, buf[:n], err)
		}
		time.Sleep(idle / 4)
	}
	if el, ok := closedWithin(tc, idle+boundSlack); !ok {
		t.Errorf("an idle kept-alive connection is still open after %v (IdleTimeout %v)", el, idle)
	}
}

// TestAttestedConfigBounds: a negative bound is refused with ErrConfig
// and a message naming the field, every negative one at once; zero is
// the default.
func TestAttestedConfigBounds(t *testing.T) {
	emu, _ := attestedSetup(t)
	cfg := func(c agent.AttestedConfig) *agent.AttestedConfig {
		c.NSM, c.Upstream = emu, "http://127.0.0.1:8080"
		return &c
	}
	for _, tc := range []struct {
		cfg    agent.AttestedConfig
		fields []string
	}{
		{agent.AttestedConfig{HeaderTimeout: -time.Second}, []string{"HeaderTimeout"}},
		{agent.AttestedConfig{IdleTimeout: -1}, []string{"IdleTimeout"}},
		{agent.AttestedConfig{HeaderTimeout: -1, IdleTimeout: -1}, []string{"HeaderTimeout", "IdleTimeout"}},
	} {
		_, err := agent.NewAttested(cfg(tc.cfg))
		if !errors.Is(err, agent.ErrConfig) {
			t.Errorf("%+v: err = %v, want ErrConfig", tc.cfg, err)
			continue
		}
		for _, f := range tc.fields {
			if !strings.Contains(err.Error(), f+" is negative") {
				t.Errorf("%+v: %q does not name %s", tc.cfg, err, f)
			}
		}
	}
	if _, err := agent.NewAttested(cfg(agent.AttestedConfig{})); err != nil {
		t.Errorf("zero bounds (the defaults): %v", err)
	}
}
