// SPDX-License-Identifier: Apache-2.0

package agent_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/enclavekit/enclavekit/enclave/agent"
)

// These tests are the parent instance offering HTTP/2 to the attested
// listener. The listener's bounds (MaxConns, HeaderTimeout, WriteTimeout)
// are per connection and per HTTP/1.1 request: over HTTP/2 one
// connection carries hundreds of concurrent requests, and its frames are
// read and its streams written by net/http's HTTP/2 server, which none of
// the bounds reach. The listener speaks HTTP/1.1 only; each attack below
// offers h2 alone first and HTTP/1.1 as a fallback, as a client would, and is
// carried out in whatever protocol the listener agrees to.

// offerH2 opens a TLS connection to addr offering only h2 (the listener
// would prefer http/1.1 among the two) and, when that handshake fails,
// another offering http/1.1, as a client falls back; it returns the
// connection with the protocol the listener chose.
func offerH2(t *testing.T, addr string) (*tls.Conn, string) {
	t.Helper()
	var err error
	for _, proto := range []string{"h2", "http/1.1"} {
		tc := tls.Client(dialTCP(t, addr), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: []string{proto}})
		_ = tc.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
		if err = tc.Handshake(); err == nil {
			_ = tc.SetDeadline(time.Time{})
			return tc, tc.ConnectionState().NegotiatedProtocol
		}
		tc.Close()
	}
	t.Fatalf("handshake offering http/1.1: %v", err)
	return nil, ""
}

// h2Get starts an HTTP/2 connection on tc and sends GET / on stream 1,
// announcing windows large enough that the server's writes are bounded
// only by the TCP buffers.
func h2Get(t *testing.T, tc *tls.Conn) {
	t.Helper()
	if _, err := io.WriteString(tc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(tc, tc)
	_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	_ = fr.WriteWindowUpdate(0, 1<<31-1-65535)
	// HPACK: :method GET (2), :scheme https (7), :path / (4), :authority "e".
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82, 0x87, 0x84, 0x41, 0x01, 'e'}, EndHeaders: true, EndStream: true}); err != nil {
		t.Fatal(err)
	}
}

// TestAttestedHTTP1Only: the listener negotiates http/1.1 or nothing; a
// client offering only h2 fails the handshake with
// no_application_protocol.
func TestAttestedHTTP1Only(t *testing.T) {
	addr := serveBounded(t, agent.AttestedConfig{}, okApp())
	for _, tc := range []struct {
		offer []string
		want  string // the protocol negotiated
		fail  bool   // the handshake must fail
	}{
		{offer: []string{"h2"}, fail: true},
		{offer: []string{"h2", "http/1.1"}, want: "http/1.1"},
		{offer: []string{"http/1.1"}, want: "http/1.1"},
		{offer: nil, want: ""},
	} {
		name := strings.Join(tc.offer, ",")
		if name == "" {
			name = "no ALPN"
		}
		t.Run(name, func(t *testing.T) {
			c := tls.Client(dialTCP(t, addr), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: tc.offer})
			_ = c.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
			err := c.Handshake()
			if tc.fail {
				if err == nil {
					t.Fatalf("a client offering only %q negotiated %q", tc.offer, c.ConnectionState().NegotiatedProtocol)
				}
				if !strings.Contains(err.Error(), "no application protocol") {
					t.Fatalf("handshake error %v, want the no_application_protocol alert", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ConnectionState().NegotiatedProtocol; got != tc.want {
				t.Errorf("negotiated %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAttestedOneRequestPerConn: with MaxConns 1, one connection sending
// 250 requests at once (250 HTTP/2 streams, or 250 pipelined HTTP/1.1
// requests) has one at a time in flight at the application: each is a
// handler goroutine, a proxy buffer and a connection to the application,
// which MaxConns is meant to bound.
func TestAttestedOneRequestPerConn(t *testing.T) {
	const n = 250
	var mu sync.Mutex
	cur, peak := 0, 0
	release := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		<-release
		mu.Lock()
		cur--
		mu.Unlock()
		io.WriteString(w, "ok")
	})
	addr := serveBounded(t, agent.AttestedConfig{MaxConns: 1}, app)
	tc, proto := offerH2(t, addr)
	var wg sync.WaitGroup
	defer func() {
		close(release)
		tc.Close()
		wg.Wait()
	}()
	switch proto {
	case "h2":
		if _, err := io.WriteString(tc, http2.ClientPreface); err != nil {
			t.Fatal(err)
		}
		fr := http2.NewFramer(tc, tc)
		_ = fr.WriteSettings()
		for i := range n {
			// HPACK: :method GET (2), :scheme https (7), :path / (4),
			// :authority "e" (name 1, not indexed).
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: []byte{0x82, 0x87, 0x84, 0x01, 0x01, 'e'}, EndHeaders: true, EndStream: true}); err != nil {
				t.Fatal(err)
			}
		}
		// Drain the server's frames, so that its writes never block.
		wg.Go(func() { io.Copy(io.Discard, tc) })
	default:
		if _, err := io.WriteString(tc, strings.Repeat("GET /x HTTP/1.1\r\nHost: enclave\r\n\r\n", n)); err != nil {
			t.Fatal(err)
		}
	}
	// 250 requests in flight take milliseconds to show; a second is
	// plenty even on a loaded machine.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		p := peak
		mu.Unlock()
		if p >= n {
			break
		}
	}
	mu.Lock()
	p := peak
	mu.Unlock()
	if p > 1 {
		t.Errorf("MaxConns 1, one %s connection: %d requests in flight at the application at once, want 1", proto, p)
	}
}

// TestAttestedHalfRequestHTTP2: half a request (an HTTP/2 HEADERS frame
// without END_HEADERS, or half an HTTP/1.1 request head) is closed at
// HeaderTimeout.
func TestAttestedHalfRequestHTTP2(t *testing.T) {
	const header = 300 * time.Millisecond
	addr := serveBounded(t, agent.AttestedConfig{HeaderTimeout: header}, okApp())
	tc, proto := offerH2(t, addr)
	switch proto {
	case "h2":
		if _, err := io.WriteString(tc, http2.ClientPreface); err != nil {
			t.Fatal(err)
		}
		fr := http2.NewFramer(tc, tc)
		_ = fr.WriteSettings()
		// :method GET (HPACK index 2), and no END_HEADERS.
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}, EndStream: true})
	default:
		if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: encl"); err != nil {
			t.Fatal(err)
		}
	}
	if el, ok := closedWithin(tc, header+boundSlack); !ok {
		t.Errorf("%s: a connection with half a request is still open %v after the handshake (HeaderTimeout %v)", proto, el, header)
	}
}

// TestAttestedUnreadAnswerHTTP2: a client that sends a request and
// never reads the answer, with MaxConns 1, gives its slot up at
// WriteTimeout (and a grace, and crypto/tls's close): a second client's
// handshake then completes.
// Over HTTP/2 the connection outlived WriteTimeout and IdleTimeout by
// far (40 s and more, measured), keeping every other client out.
func TestAttestedUnreadAnswerHTTP2(t *testing.T) {
	const write = 300 * time.Millisecond
	big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		for range 1024 { // 64 MiB, far beyond the sockets' buffers
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	})
	addr := serveBounded(t, agent.AttestedConfig{WriteTimeout: write, IdleTimeout: time.Second, MaxConns: 1}, big)
	tc, proto := offerH2(t, addr)
	switch proto {
	case "h2":
		h2Get(t, tc)
	default:
		if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: e\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	// The second client waits in the accept queue until the first's slot
	// is released.
	start := time.Now()
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	// The slot is released when the connection is closed: at WriteTimeout
	// and a grace, or up to 5 s later when the kernel's buffers are full,
	// since crypto/tls's Close then waits that long to write its
	// close_notify alert (seen on a loaded machine). HTTP/2 held it for
	// 40 s and more.
	limit := write + 5*time.Second + 2*boundSlack
	_ = c2.SetDeadline(start.Add(limit))
	if err := tls.Client(c2, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}).Handshake(); err != nil {
		t.Errorf("%s: %v after a request whose answer is never read (WriteTimeout %v, IdleTimeout 1 s, MaxConns 1), a second client still cannot get in: %v", proto, time.Since(start).Round(time.Millisecond), write, err)
	}
}
