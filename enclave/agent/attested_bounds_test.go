// SPDX-License-Identifier: Apache-2.0

package agent_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
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
func serveBounded(t testing.TB, cfg agent.AttestedConfig, app http.Handler) string {
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
		{agent.AttestedConfig{WriteTimeout: -time.Minute}, []string{"WriteTimeout"}},
		{agent.AttestedConfig{MaxConns: -1}, []string{"MaxConns"}},
		{agent.AttestedConfig{MaxHandshakeRate: -1}, []string{"MaxHandshakeRate"}},
		{agent.AttestedConfig{HandshakeBurst: -10}, []string{"HandshakeBurst"}},
		{agent.AttestedConfig{HeaderTimeout: -1, IdleTimeout: -1, WriteTimeout: -1, MaxConns: -5, MaxHandshakeRate: -1, HandshakeBurst: -1},
			[]string{"HeaderTimeout", "IdleTimeout", "WriteTimeout", "MaxConns", "MaxHandshakeRate", "HandshakeBurst"}},
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

// TestAttestedConnectionBound: with MaxConns connections open, whether
// before or after their handshake, one more is not handshaken (nor read)
// until one of them closes; then it is served.
func TestAttestedConnectionBound(t *testing.T) {
	const max = 2
	for name, hold := range map[string]func(*testing.T, net.Conn) net.Conn{
		"before the handshake": func(t *testing.T, c net.Conn) net.Conn { return c },
		"after the handshake": func(t *testing.T, c net.Conn) net.Conn {
			tc := tlsClient(c)
			if err := tc.Handshake(); err != nil {
				t.Fatalf("handshake within the bound: %v", err)
			}
			return tc
		},
	} {
		t.Run(name, func(t *testing.T) {
			addr := serveBounded(t, agent.AttestedConfig{MaxConns: max}, okApp())
			var held []net.Conn
			for range max {
				held = append(held, hold(t, dialTCP(t, addr)))
			}
			// The kernel completes the TCP connect of one more (it waits
			// in the accept queue), but its handshake gets no answer.
			over := tlsClient(dialTCP(t, addr))
			_ = over.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
			done := make(chan error, 1)
			go func() { done <- over.Handshake() }()
			select {
			case err := <-done:
				t.Fatalf("a connection over MaxConns %d was handshaken (err %v) while %d were open", max, err, max)
			case <-time.After(300 * time.Millisecond):
			}
			held[0].Close()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("the waiting connection's handshake, once one closed: %v", err)
				}
			case <-time.After(boundSlack):
				t.Fatalf("the waiting connection was not handshaken within %v of one closing", boundSlack)
			}
			if _, err := io.WriteString(over, "GET / HTTP/1.1\r\nHost: enclave\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(over), nil)
			if err != nil {
				t.Fatalf("the waiting connection's request: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != "ok" {
				t.Errorf("the waiting connection's request: %d %q", resp.StatusCode, b)
			}
		})
	}
}

// TestAttestedConnectionFlood: a flood of connections that send nothing
// grows the enclave's goroutines by what MaxConns of them cost (one each,
// and one more each while its handshake runs), not by the flood.
func TestAttestedConnectionFlood(t *testing.T) {
	const max, flood = 4, 64
	addr := serveBounded(t, agent.AttestedConfig{MaxConns: max}, okApp())
	before := runtime.NumGoroutine()
	for range flood {
		dialTCP(t, addr)
	}
	// The server accepts what it will at once; 300 ms is plenty for the
	// flood to show, on a machine where 64 accepts take microseconds.
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if grown := runtime.NumGoroutine() - before; grown > 2*max+2 {
			t.Fatalf("%d connections (MaxConns %d) grew the goroutines by %d", flood, max, grown)
		}
	}
}

// TestAttestedWriteTimeout: a client that sends a request and never reads
// its answer holds the request, its goroutine and the connection to the
// application for WriteTimeout, not for good: the application's writes
// fail once the agent gives up, and the client's connection is closed.
func TestAttestedWriteTimeout(t *testing.T) {
	const write = 300 * time.Millisecond
	released := make(chan time.Time, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		for {
			if _, err := w.Write(buf); err != nil {
				released <- time.Now()
				return
			}
		}
	})
	addr := serveBounded(t, agent.AttestedConfig{WriteTimeout: write}, app)
	tc := tlsClient(dialTCP(t, addr))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := io.WriteString(tc, "GET /stream HTTP/1.1\r\nHost: enclave\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-released:
		if el := at.Sub(start); el < write {
			t.Errorf("the answer was cut after %v, before WriteTimeout %v", el, write)
		}
	case <-time.After(write + boundSlack):
		t.Fatalf("%v after a request whose answer nobody reads, the agent still holds it and its connection to the application (WriteTimeout %v)", write+boundSlack, write)
	}
	// Reading now drains what the buffers hold, then finds the end.
	if el, ok := closedWithin(tc, write+boundSlack); !ok {
		t.Errorf("the client's connection is still open after %v more", el)
	}
}

// TestAttestedRequestTimeout: a request the application does not answer
// is bounded by WriteTimeout too: its request to the application is
// cancelled and the client gets 504.
func TestAttestedRequestTimeout(t *testing.T) {
	const write = 300 * time.Millisecond
	cancelled := make(chan time.Time, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		cancelled <- time.Now()
	})
	addr := serveBounded(t, agent.AttestedConfig{WriteTimeout: write}, app)
	tc := tlsClient(dialTCP(t, addr))
	_ = tc.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := io.WriteString(tc, "GET /slow HTTP/1.1\r\nHost: enclave\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-cancelled:
		if el := at.Sub(start); el < write {
			t.Errorf("the request was cancelled after %v, before WriteTimeout %v", el, write)
		}
	case <-time.After(write + boundSlack):
		t.Fatalf("the application's request is not cancelled %v after it began (WriteTimeout %v)", write+boundSlack, write)
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatalf("the client's answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(b), "upstream_timeout") {
		t.Errorf("the client's answer: %d %s, want 504 upstream_timeout", resp.StatusCode, b)
	}
}
