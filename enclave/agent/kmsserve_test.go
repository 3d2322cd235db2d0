// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// These tests speak raw HTTP/1.x to the server of ServeKMSEndpoint, each
// against a bound it must keep: whatever a process in the enclave sends,
// the endpoint answers with a KMS-shaped error or closes the connection,
// and nothing it refuses reaches the key service.

// rawKMS serves an endpoint (on a fake key service) as ServeKMSEndpoint
// does, with the limits lim, and returns its address and the key service.
func rawKMS(t *testing.T, cfg KMSEndpointConfig, lim kmsServerLimits) (string, *fakeKMS) {
	t.Helper()
	f, c := newFakeClient(t, newEmulator(t), "sealed")
	cfg.Client = c
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e, err := NewKMSEndpoint(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return startKMS(t, e.serveFast, e.max, e.conns, lim, e.log), f
}

// startKMS serves h with serveKMS, as ServeKMSEndpoint serves the
// endpoint, on a loopback port until the test ends, and returns the
// address; serveKMS's error at the end fails the test.
func startKMS(tb testing.TB, h fasthttp.RequestHandler, maxBody int64, conns int, lim kmsServerLimits, log *slog.Logger) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveKMS(ctx, ln, h, maxBody, conns, lim, log) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serveKMS: %v", err)
		}
	})
	return ln.Addr().String()
}

// rawConn is one connection to the endpoint, written to as bytes and read
// as HTTP answers.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

// answer reads one answer: its status, KMS error code (X-Amzn-ErrorType,
// checked against the body's __type for a KMS-shaped error) and body.
func (r *rawConn) answer() (int, string, []byte, *http.Response) {
	r.t.Helper()
	resp, err := http.ReadResponse(r.r, nil)
	if err != nil {
		r.t.Fatalf("reading an answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("reading an answer's body: %v", err)
	}
	code := resp.Header.Get("X-Amzn-ErrorType")
	if resp.StatusCode != 200 {
		var ej struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(b, &ej); err != nil || ej.Type != code || ej.Message == "" ||
			resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
			r.t.Errorf("error answer is not KMS-shaped: %d %q %s", resp.StatusCode, code, b)
		}
	}
	return resp.StatusCode, code, b, resp
}

// closed reports whether the server closed the connection: EOF with
// nothing more to read, or a reset (a server closing with bytes of ours
// unread resets the connection). It waits up to 30 s: a server that keeps
// the connection open keeps it open for good, so the wait only bounds how
// long that takes to show.
func (r *rawConn) closed() bool {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := r.r.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// kmsRequest is an HTTP/1.1 request for op with body and the extra header
// lines.
func kmsRequest(op, body string, extra ...string) string {
	h := "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: TrentService." + op + "\r\nContent-Type: application/x-amz-json-1.1\r\n"
	for _, x := range extra {
		h += x + "\r\n"
	}
	return h + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

const randomBody = `{"NumberOfBytes":32}`

func TestKMSServerBodyBound(t *testing.T) {
	addr, f := rawKMS(t, KMSEndpointConfig{MaxRequestBytes: 1024}, kmsServerDefaults)
	// Exactly the bound (the JSON padded with spaces) is served.
	at := randomBody + strings.Repeat(" ", 1024-len(randomBody))
	c := dialRaw(t, addr)
	c.send(kmsRequest("GenerateRandom", at))
	if status, code, b, _ := c.answer(); status != 200 {
		t.Fatalf("a body of exactly MaxRequestBytes: %d %s %s", status, code, b)
	}
	calls := f.calls.Load()
	for name, req := range map[string]string{
		"one byte over": kmsRequest("GenerateRandom", at+" "),
		// Refused on its Content-Length alone: nothing is read or
		// allocated for it.
		"declared 1 TiB": "POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: TrentService.GenerateRandom\r\nContent-Length: 1099511627776\r\n\r\n{",
		"chunked over": "POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: TrentService.GenerateRandom\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"200\r\n" + strings.Repeat(" ", 0x200) + "\r\n200\r\n" + strings.Repeat(" ", 0x200) + "\r\n10\r\n" + strings.Repeat(" ", 16) + "\r\n0\r\n\r\n",
	} {
		c := dialRaw(t, addr)
		c.send(req)
		status, code, b, _ := c.answer()
		if status != http.StatusRequestEntityTooLarge || code != "ValidationException" || !strings.Contains(string(b), "exceeds 1024 bytes") {
			t.Errorf("%s: %d %s %s, want 413 ValidationException", name, status, code, b)
		}
		if !c.closed() {
			t.Errorf("%s: the connection stays open after the refusal", name)
		}
	}
	if n := f.calls.Load() - calls; n != 0 {
		t.Errorf("%d oversized requests reached the key service", n)
	}
}

func TestKMSServerChunkedBody(t *testing.T) {
	addr, f := rawKMS(t, KMSEndpointConfig{}, kmsServerDefaults)
	c := dialRaw(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: TrentService.GenerateRandom\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\n{\"Num\r\n" + strconv.FormatInt(int64(len(randomBody)-5), 16) + "\r\n" + randomBody[5:] + "\r\n0\r\n\r\n")
	if status, code, b, _ := c.answer(); status != 200 {
		t.Fatalf("a chunked request: %d %s %s", status, code, b)
	}
	calls := f.calls.Load()
	for name, req := range map[string]string{
		"chunk size not hex":         "POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: TrentService.GenerateRandom\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
		"chunk longer than its size": "POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: TrentService.GenerateRandom\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xx\r\n0\r\n\r\n",
		"unknown transfer coding":    "POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: TrentService.GenerateRandom\r\nTransfer-Encoding: gzip\r\n\r\n{}",
		"two Content-Lengths":        "POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: TrentService.GenerateRandom\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{} ",
	} {
		c := dialRaw(t, addr)
		c.send(req)
		if status, code, b, _ := c.answer(); status != 400 || code != "SerializationException" {
			t.Errorf("%s: %d %s %s, want 400 SerializationException", name, status, code, b)
		}
		if !c.closed() {
			t.Errorf("%s: the connection stays open after the refusal", name)
		}
	}
	if n := f.calls.Load() - calls; n != 0 {
		t.Errorf("%d malformed requests reached the key service", n)
	}
}

// TestKMSServerSmuggling: a request with both Content-Length and
// Transfer-Encoding is read as chunked and its connection closed after the
// answer, so that bytes the two framings disagree on are never taken for a
// second request.
func TestKMSServerSmuggling(t *testing.T) {
	addr, f := rawKMS(t, KMSEndpointConfig{}, kmsServerDefaults)
	smuggled := kmsRequest("GenerateRandom", randomBody)
	chunked := strconv.FormatInt(int64(len(randomBody)), 16) + "\r\n" + randomBody + "\r\n0\r\n\r\n"
	c := dialRaw(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: TrentService.GenerateRandom\r\nContent-Length: " + strconv.Itoa(len(chunked)+len(smuggled)) +
		"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + smuggled)
	status, code, b, resp := c.answer()
	if status != 200 || !resp.Close {
		t.Errorf("Content-Length and Transfer-Encoding: %d %s %s (Connection: close %v), want 200 and the connection closed", status, code, b, resp.Close)
	}
	if !c.closed() {
		t.Error("the connection stays open: the smuggled request may be answered")
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d requests reached the key service, want 1", n)
	}
}

func TestKMSServerHeaderBound(t *testing.T) {
	addr, f := rawKMS(t, KMSEndpointConfig{}, kmsServerDefaults)
	// Many headers within 16 KiB are served.
	c := dialRaw(t, addr)
	c.send(kmsRequest("GenerateRandom", randomBody, strings.Repeat("X-A: b\r\n", 1000)+"X-A: b"))
	if status, code, b, _ := c.answer(); status != 200 {
		t.Fatalf("1,001 headers in 8 KB: %d %s %s", status, code, b)
	}
	calls := f.calls.Load()
	for name, extra := range map[string]string{
		"too many headers": strings.Repeat("X-A: b\r\n", 3000) + "X-A: b",
		"one long header":  "X-A: " + strings.Repeat("b", 17<<10),
	} {
		c := dialRaw(t, addr)
		c.send(kmsRequest("GenerateRandom", randomBody, extra))
		status, code, b, _ := c.answer()
		if status != http.StatusRequestHeaderFieldsTooLarge || code != "ValidationException" || !strings.Contains(string(b), "exceed 16384 bytes") {
			t.Errorf("%s: %d %s %s, want 431 ValidationException", name, status, code, b)
		}
		if !c.closed() {
			t.Errorf("%s: the connection stays open after the refusal", name)
		}
	}
	if n := f.calls.Load() - calls; n != 0 {
		t.Errorf("%d requests with oversized headers reached the key service", n)
	}
}

// TestKMSServerSlowRequest: a request that does not arrive whole within
// the read bound, in its headers or its body, is answered 408 and its
// connection closed; a kept-alive connection left idle is closed.
//
// The bounds here are 300 ms (read) and 2 s (idle); the answers must come
// well before the defaults (10 s, 2 min) and the 408 names the bound that
// fired. The idle bound leaves the keep-alive check's 400 ms pause 1.6 s of
// room on a loaded machine (with 600 ms it had 200 ms).
func TestKMSServerSlowRequest(t *testing.T) {
	lim := kmsServerDefaults
	lim.read, lim.idle = 300*time.Millisecond, 2*time.Second
	const slack = 5 * time.Second
	addr, f := rawKMS(t, KMSEndpointConfig{}, lim)
	full := kmsRequest("GenerateRandom", randomBody)
	for name, part := range map[string]string{
		"nothing sent":  "",
		"half a header": full[:20],
		"headers only":  full[:strings.Index(full, "\r\n\r\n")+4],
		"half the body": full[:len(full)-5],
	} {
		c := dialRaw(t, addr)
		c.send(part)
		start := time.Now()
		status, code, b, _ := c.answer()
		if el := time.Since(start); status != http.StatusRequestTimeout || code != "RequestTimeoutException" ||
			!strings.Contains(string(b), "within "+lim.read.String()) || el > lim.read+slack {
			t.Errorf("%s: %d %s %s after %v, want 408 RequestTimeoutException after %v", name, status, code, b, el, lim.read)
		}
		if !c.closed() {
			t.Errorf("%s: the connection stays open after the timeout", name)
		}
	}
	// The read bound runs from a kept-alive request's first byte, not from
	// the previous answer.
	c := dialRaw(t, addr)
	c.send(full)
	if status, code, b, _ := c.answer(); status != 200 {
		t.Fatalf("a request: %d %s %s", status, code, b)
	}
	time.Sleep(lim.read + 100*time.Millisecond)
	c.send(full)
	if status, code, b, _ := c.answer(); status != 200 {
		t.Fatalf("a second request after %v idle: %d %s %s", lim.read+100*time.Millisecond, status, code, b)
	}
	start := time.Now()
	if !c.closed() || time.Since(start) > lim.idle+slack {
		t.Errorf("an idle kept-alive connection is not closed after %v", lim.idle)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("%d requests reached the key service, want 2", n)
	}
}

// TestKMSServerPipelined: requests sent back to back on one connection are
// answered in order, each as if alone.
func TestKMSServerPipelined(t *testing.T) {
	addr, f := rawKMS(t, KMSEndpointConfig{}, kmsServerDefaults)
	c := dialRaw(t, addr)
	c.send(kmsRequest("GenerateRandom", randomBody) + kmsRequest("Frobnicate", `{}`) + kmsRequest("GenerateRandom", `{"NumberOfBytes":0}`) +
		kmsRequest("GenerateRandom", randomBody))
	for i, want := range []struct {
		status int
		code   string
	}{{200, ""}, {400, "UnknownOperationException"}, {400, "ValidationException"}, {200, ""}} {
		if status, code, b, _ := c.answer(); status != want.status || code != want.code {
			t.Errorf("pipelined answer %d: %d %s %s, want %d %s", i, status, code, b, want.status, want.code)
		}
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("%d requests reached the key service, want 2", n)
	}
}

// TestKMSServerHTTP10: an HTTP/1.0 request is answered and its connection
// closed, unless it asks for keep-alive; one with Transfer-Encoding (which
// HTTP/1.0 does not have) is refused.
func TestKMSServerHTTP10(t *testing.T) {
	addr, f := rawKMS(t, KMSEndpointConfig{}, kmsServerDefaults)
	req := strings.Replace(kmsRequest("GenerateRandom", randomBody), "HTTP/1.1", "HTTP/1.0", 1)
	c := dialRaw(t, addr)
	c.send(req)
	if status, code, b, _ := c.answer(); status != 200 || !strings.Contains(string(b), `"Plaintext"`) {
		t.Fatalf("HTTP/1.0: %d %s %s", status, code, b)
	}
	if !c.closed() {
		t.Error("HTTP/1.0: the connection stays open")
	}
	c = dialRaw(t, addr)
	ka := strings.Replace(req, "\r\n\r\n", "\r\nConnection: keep-alive\r\n\r\n", 1)
	c.send(ka + ka)
	for i := range 2 {
		if status, code, b, _ := c.answer(); status != 200 {
			t.Fatalf("HTTP/1.0 keep-alive, request %d: %d %s %s", i, status, code, b)
		}
	}
	c = dialRaw(t, addr)
	c.send("POST / HTTP/1.0\r\nX-Amz-Target: TrentService.GenerateRandom\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
	if status, code, b, _ := c.answer(); status != 400 || code != "SerializationException" {
		t.Errorf("HTTP/1.0 with Transfer-Encoding: %d %s %s, want 400 SerializationException", status, code, b)
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("%d requests reached the key service, want 3", n)
	}
}

// TestKMSServerConnectionBound: beyond MaxConnections open connections, a
// new one is answered 503 (which the SDKs retry) and closed, and served
// again once one closes.
func TestKMSServerConnectionBound(t *testing.T) {
	logged := &lockedBuffer{}
	addr, _ := rawKMS(t, KMSEndpointConfig{MaxConnections: 2, Logger: slog.New(slog.NewTextHandler(logged, nil))}, kmsServerDefaults)
	var open []*rawConn
	for range 2 {
		c := dialRaw(t, addr)
		c.send(kmsRequest("GenerateRandom", randomBody))
		if status, code, b, _ := c.answer(); status != 200 {
			t.Fatalf("a connection within the bound: %d %s %s", status, code, b)
		}
		open = append(open, c)
	}
	c := dialRaw(t, addr)
	c.send(kmsRequest("GenerateRandom", randomBody))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a third connection: %v %v, want 503", resp, err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil || !c.closed() {
		t.Error("the connection over the bound stays open")
	}
	// fasthttp logs the refusal after it has answered and closed the
	// connection, so the line may come after the client saw the close.
	warned := func() bool {
		l := logged.String()
		return strings.Contains(l, "level=WARN") && strings.Contains(l, "concurrent connections")
	}
	for deadline := time.Now().Add(time.Minute); !warned(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the refused connection was not logged as a warning: %q", logged.String())
		}
	}
	open[0].c.Close()
	// The server notices the close when it next reads; the minute only
	// turns a server that never does into a failure.
	deadline := time.Now().Add(time.Minute)
	for {
		c := dialRaw(t, addr)
		c.send(kmsRequest("GenerateRandom", randomBody))
		resp, err := http.ReadResponse(c.r, nil)
		if err == nil && resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a connection closed: %v %v, want 200", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKMSServerRelayHeaderAnyCase: the proxy headers are recognised
// whatever their case on the wire.
func TestKMSServerRelayHeaderAnyCase(t *testing.T) {
	addr, f := rawKMS(t, KMSEndpointConfig{}, kmsServerDefaults)
	for _, h := range []string{"x-forwarded-for: 10.0.0.1", "X-FORWARDED-PROTO: https", "forwarded: for=10.0.0.1", "VIA: 1.1 proxy", "x-Forwarded-Host: a"} {
		c := dialRaw(t, addr)
		c.send(kmsRequest("GenerateRandom", randomBody, h))
		if status, code, b, _ := c.answer(); status != 403 || code != "AccessDeniedException" {
			t.Errorf("with %q: %d %s %s, want 403 AccessDeniedException", h, status, code, b)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d relayed requests reached the key service", n)
	}
}

// TestKMSServerMalformed: what is not an HTTP/1.x request gets 400
// SerializationException and a closed connection.
func TestKMSServerMalformed(t *testing.T) {
	addr, f := rawKMS(t, KMSEndpointConfig{}, kmsServerDefaults)
	for name, req := range map[string]string{
		"not HTTP":           "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
		"no request line":    "\r\nX-Amz-Target: TrentService.GenerateRandom\r\n\r\n",
		"header without :":   "POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target TrentService.GenerateRandom\r\nContent-Length: 2\r\n\r\n{}",
		"two Hosts":          "POST / HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-Amz-Target: TrentService.GenerateRandom\r\nContent-Length: 2\r\n\r\n{}",
		"negative length":    "POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: TrentService.GenerateRandom\r\nContent-Length: -2\r\n\r\n{}",
		"space before colon": "POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target : TrentService.GenerateRandom\r\nContent-Length: 2\r\n\r\n{}",
	} {
		c := dialRaw(t, addr)
		c.send(req)
		status, code, b, _ := c.answer()
		if status != 400 || code != "SerializationException" {
			t.Errorf("%s: %d %s %s, want 400 SerializationException", name, status, code, b)
		}
		if !c.closed() {
			t.Errorf("%s: the connection stays open after the refusal", name)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d malformed requests reached the key service", n)
	}
}

// TestKMSServerPanic: a panic while answering (a bug) is answered 500
// KMSInternalException and logged, and the server goes on serving:
// fasthttp does not recover a handler's panic as net/http's server does.
func TestKMSServerPanic(t *testing.T) {
	logged := &lockedBuffer{}
	e := &KMSEndpoint{log: slog.New(slog.NewTextHandler(logged, nil))} // no slots: the handler panics
	addr := startKMS(t, e.serveFast, 1024, 4, kmsServerDefaults, slog.New(slog.DiscardHandler))
	for range 2 {
		c := dialRaw(t, addr)
		c.send(kmsRequest("GenerateRandom", randomBody))
		if status, code, b, _ := c.answer(); status != 500 || code != "KMSInternalException" || strings.Contains(string(b), "nil pointer") {
			t.Fatalf("a request that panics: %d %s %s, want 500 KMSInternalException without the panic's text", status, code, b)
		}
	}
	if !strings.Contains(logged.String(), "panic") {
		t.Errorf("the panic was not logged: %q", logged.String())
	}
}

// lockedBuffer is a log sink safe to read while the server writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
