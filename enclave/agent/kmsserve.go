// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// kmsServerLimits bound the HTTP/1.1 server of the local KMS endpoint.
type kmsServerLimits struct {
	// read bounds the arrival of one request, its request line, headers
	// and body: from the connection's opening for the first request, from
	// its first byte for the next ones.
	read time.Duration
	// write bounds the writing of one answer.
	write time.Duration
	// idle bounds the wait for the next request on a kept-alive
	// connection.
	idle time.Duration
	// header bounds the request line and headers, in bytes (the server's
	// read buffer).
	header int
	// writeBuffer is the size of the server's pooled write buffer; 0 is
	// fasthttp's 4 KiB. Smaller than any answer's header, it never holds
	// an answer, whose header and body go to the connection from where
	// they are (one writev on TCP): nobody clears the pooled buffer.
	writeBuffer int
}

// kmsServerDefaults are the limits [ServeKMSEndpoint] serves with.
var kmsServerDefaults = kmsServerLimits{read: 10 * time.Second, write: 30 * time.Second, idle: 2 * time.Minute, header: 16 << 10, writeBuffer: 64}

// ServeKMSEndpoint serves e on addr, which must be tcp://127.0.0.1:PORT or
// another loopback address: the endpoint returns plaintext, so it must be
// reachable from inside the enclave only, never over vsock. It returns when
// ctx is done, after up to 5 s for the requests in progress.
//
// The server is fasthttp's (HTTP/1.1, keep-alive, pipelining; HTTP/1.0
// answered and closed): the package documentation, "Local KMS endpoint",
// says why and lists its bounds. Every request it refuses before the
// endpoint sees it gets a KMS-shaped error too: a body over
// KMSEndpointConfig.MaxRequestBytes 413 ValidationException, a request
// line and headers over 16 KiB 431 ValidationException, a request that has
// not arrived whole 10 s after its first byte (or the connection's
// opening) 408 RequestTimeoutException, a malformed one 400
// SerializationException; each then closes its connection.
func ServeKMSEndpoint(ctx context.Context, addr string, e *KMSEndpoint, ready func(net.Addr)) error {
	if err := CheckKMSEndpointAddr(addr); err != nil {
		return err
	}
	if e == nil {
		return fmt.Errorf("%w: local KMS endpoint: nil endpoint", ErrConfig)
	}
	ln, err := listen(addr, "listen address")
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return serveKMS(ctx, ln, e.serveFast, e.max, e.conns, kmsServerDefaults, e.log)
}

// serveKMS serves h on ln, with request bodies bounded to maxBody bytes,
// at most conns connections and the limits lim, until ctx is done.
func serveKMS(ctx context.Context, ln net.Listener, h fasthttp.RequestHandler, maxBody int64, conns int, lim kmsServerLimits, log *slog.Logger) error {
	srv := &fasthttp.Server{
		Handler: h,
		ErrorHandler: func(rc *fasthttp.RequestCtx, err error) {
			ke := requestError(err, maxBody, lim)
			writeFastAnswer(rc, ke.status, ke.body(), ke)
		},
		Concurrency:        conns,
		ReadBufferSize:     lim.header,
		WriteBufferSize:    lim.writeBuffer,
		ReadTimeout:        lim.read,
		WriteTimeout:       lim.write,
		IdleTimeout:        lim.idle,
		MaxRequestBodySize: int(maxBody),
		// Answers carry Content-Type, Content-Length and, for an error,
		// X-Amzn-ErrorType: nothing else for the SDK to parse.
		NoDefaultServerHeader: true,
		NoDefaultDate:         true,
		NoDefaultContentType:  true,
		// Error messages and logs never quote a request (an Encrypt
		// request carries a plaintext).
		SecureErrorLogMessage:        true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		Logger:                       fastLogger{log},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		ln.Close()
		if err == nil {
			err = errors.New("listener closed")
		}
		return fmt.Errorf("agent: serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.ShutdownWithContext(sctx)
		// A Shutdown before Serve has begun does not stop a Serve that
		// begins later (a stop right at start): closing ln ends it.
		ln.Close()
		<-errc
		return nil
	}
}

// requestError is the KMS-shaped answer to a request the server refused
// before the endpoint saw it.
func requestError(err error, maxBody int64, lim kmsServerLimits) *kmsError {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return &kmsError{413, "ValidationException", "request body exceeds " + strconv.FormatInt(maxBody, 10) + " bytes"}
	case errors.As(err, &small):
		return &kmsError{431, "ValidationException", "request line and headers exceed " + strconv.Itoa(lim.header) + " bytes"}
	case errors.As(err, &ne) && ne.Timeout():
		return &kmsError{408, "RequestTimeoutException", "the request did not arrive whole within " + lim.read.String()}
	}
	return &kmsError{400, "SerializationException", "malformed HTTP/1.1 request: " + err.Error()}
}

// serveFast answers one request the server read whole (its body within
// the endpoint's bound).
func (e *KMSEndpoint) serveFast(rc *fasthttp.RequestCtx) {
	// fasthttp does not recover a handler's panic, as net/http's server
	// does: the agent (PID 1 under init) would die with it.
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("agent: local KMS endpoint: panic", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			ke := &kmsError{500, "KMSInternalException", "local KMS endpoint: internal error"}
			rc.Response.Reset()
			writeFastAnswer(rc, ke.status, ke.body(), ke)
		}
	}()
	h := &rc.Request.Header
	relay := ""
	for k := range h.All() {
		if isRelayHeader(string(k)) {
			relay = string(k)
			break
		}
	}
	// No request context: fasthttp's is the server's (a goroutine per
	// request to follow it), and a departed client is not noticed during
	// a request; the endpoint's timeout bounds each request instead.
	status, out, ke := e.handle(context.Background(), string(h.Method()), string(rc.Path()), relay, string(h.Peek("X-Amz-Target")), func() ([]byte, error) {
		return rc.Request.Body(), nil
	})
	// The answer (a plaintext for the Recipient operations) is sent from
	// out itself, not copied into the response's pooled body buffer,
	// which fasthttp truncates and never clears; wipeOnClose clears out
	// once the server has written it (or given up): fasthttp closes a
	// request's user values when it resets the request, after the answer
	// is written. The server's write buffer is too small to take a copy
	// (kmsServerLimits.writeBuffer).
	setFastHead(rc, status, ke)
	rc.Response.SetBodyRaw(out)
	rc.SetUserValue(wipeKey{}, wipeOnClose(out))
}

// wipeKey is the request user value under which serveFast leaves its
// answer's buffer for fasthttp to close.
type wipeKey struct{}

// wipeOnClose is an answer's buffer, cleared by Close.
type wipeOnClose []byte

// Close clears the buffer.
func (w wipeOnClose) Close() error {
	clear(w)
	return nil
}

// writeFastAnswer sets the answer: status, JSON body (copied), and for an
// error its code in X-Amzn-ErrorType.
func writeFastAnswer(rc *fasthttp.RequestCtx, status int, body []byte, ke *kmsError) {
	setFastHead(rc, status, ke)
	rc.SetBody(body)
}

// setFastHead sets an answer's status and headers: its content type and,
// for an error, its code in X-Amzn-ErrorType.
func setFastHead(rc *fasthttp.RequestCtx, status int, ke *kmsError) {
	rc.SetStatusCode(status)
	rc.Response.Header.SetContentType("application/x-amz-json-1.1")
	if ke != nil {
		rc.Response.Header.Set("X-Amzn-ErrorType", ke.code)
	}
}

// fastLogger logs fasthttp's messages: connections refused over the limit
// (at most once a minute) as warnings, the rest (a connection's error, as
// a malformed request, which its client was answered) at debug level.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	msg := "agent: local KMS endpoint: " + fmt.Sprintf(format, args...)
	if strings.Contains(format, "Concurrency") {
		l.log.Warn(msg)
		return
	}
	l.log.Debug(msg)
}
