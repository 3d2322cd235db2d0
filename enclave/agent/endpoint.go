// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/netutil"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/internal/slots"
	"github.com/enclavekit/enclavekit/internal/transport"
)

// Attestation endpoint paths and limits.
const (
	AttestationPath = "/v1/attestation"
	HealthPath      = "/v1/health"
	// MaxAttestationRequestBody bounds the JSON body of POST
	// /v1/attestation: three 1024-byte fields in hex and the keys fit.
	MaxAttestationRequestBody = 8 << 10
	// MediaTypeCBOR is the content type of the returned document.
	MediaTypeCBOR = "application/cbor"
	// DefaultEndpointMaxConcurrent is EndpointConfig.MaxConcurrent when
	// zero.
	DefaultEndpointMaxConcurrent = 4
	// DefaultEndpointMaxConns is EndpointConfig.MaxConns when zero, and
	// the bound [Serve] applies to a handler not from [NewEndpoint]:
	// ample for callers that each hold a connection or two, a few MiB at
	// most when all are held.
	DefaultEndpointMaxConns = 256
)

// ErrBadRequest is wrapped by every [ParseAttestationRequest] failure.
var ErrBadRequest = errors.New("agent: bad attestation request")

// AttestationRequest is the decoded body of POST /v1/attestation. A nil
// field is absent (null in the document); a non-nil empty one is a
// zero-length byte string.
type AttestationRequest struct {
	Nonce, UserData, PublicKey []byte
}

// ParseAttestationRequest decodes the JSON body of POST /v1/attestation
// strictly:
//
//	{"nonce": "HEX", "user_data": "HEX", "public_key": "HEX"}
//
// Every member is optional and may be null; values are hex strings (either
// case, even length) of at most 1024 bytes decoded. An empty body or {}
// asks for a document without any of them. Unknown or duplicate members,
// other JSON types, trailing data and bodies over
// [MaxAttestationRequestBody] are rejected with errors wrapping
// [ErrBadRequest].
func ParseAttestationRequest(body []byte) (*AttestationRequest, error) {
	bad := func(format string, args ...any) (*AttestationRequest, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
	}
	if len(body) > MaxAttestationRequestBody {
		return bad("body over %d bytes", MaxAttestationRequestBody)
	}
	req := &AttestationRequest{}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return bad("want a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("malformed JSON")
		}
		key, _ := tok.(string)
		var dst *[]byte
		switch key {
		case "nonce":
			dst = &req.Nonce
		case "user_data":
			dst = &req.UserData
		case "public_key":
			dst = &req.PublicKey
		default:
			return bad("unknown member %q (want nonce, user_data, public_key)", key)
		}
		if seen[key] {
			return bad("duplicate member %q", key)
		}
		seen[key] = true
		tok, err = dec.Token()
		if err != nil {
			return bad("malformed JSON")
		}
		switch v := tok.(type) {
		case nil:
			*dst = nil
		case string:
			if len(v) > 2*enclave.MaxAttestationField {
				return bad("%s is over %d bytes", key, enclave.MaxAttestationField)
			}
			b, err := hex.DecodeString(v)
			if err != nil {
				return bad("%s is not hex", key)
			}
			*dst = b
		default:
			return bad("%s must be a hex string or null", key)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return bad("malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("trailing data after the JSON object")
	}
	return req, nil
}

// EndpointConfig configures [NewEndpoint].
type EndpointConfig struct {
	// NSM answers the attestation requests. Required.
	NSM enclave.NSM
	// Kind names the NSM in the health answer: "device" or "emulator".
	Kind string
	// Ready, when set, is consulted by GET /v1/health: an error makes it
	// answer 503 with the message.
	Ready func() error
	// Logger; nil is slog.Default().
	Logger *slog.Logger
	// AllowPublicKey lets callers put a public_key of their choosing into
	// the documents the endpoint returns. Leave it false unless every
	// caller is trusted: such a document binds this enclave's PCRs to the
	// caller's key, so as the Recipient of a KMS request (real AWS KMS or
	// kms-server) it makes KMS encrypt data keys to the caller, the parent
	// instance included, with every PCR condition of the key policy met.
	// [NewEndpoint] logs a WARN through Logger when it is set.
	AllowPublicKey bool
	// MaxConcurrent bounds the NSM requests the endpoint makes at once
	// (attestations and health checks together; the NSM is shared with
	// everything else the enclave asks of it). Requests beyond it are
	// refused at once with 503 and Retry-After, so that a flood from the
	// parent cannot queue NSM work without bound. Zero is
	// [DefaultEndpointMaxConcurrent]; negative is an error.
	MaxConcurrent int
	// MaxConns bounds the connections [Serve] keeps open at once. Every
	// connection comes through the parent, and each costs the enclave a
	// goroutine and its buffers (a 16 KiB request line and headers at
	// most) for as long as the parent keeps it alive; one beyond the
	// bound is not accepted, so not read, until another closes: it waits
	// in the kernel's accept queue, and its client sees a slow answer,
	// not an error. A parent that holds MaxConns connections keeps other
	// callers waiting (a denial of service, which it can cause anyway by
	// relaying nothing) but cannot grow the enclave's memory with more.
	// Zero is [DefaultEndpointMaxConns]; negative is an error.
	MaxConns int
}

// NewEndpoint returns the HTTP handler of the attestation endpoint:
//
//	POST /v1/attestation   body as in [ParseAttestationRequest]; answers
//	                       200 with the raw document (application/cbor),
//	                       400 for a bad request or one over the NSM's
//	                       limits, 413 for a body over
//	                       [MaxAttestationRequestBody], 415 for a
//	                       Content-Type other than application/json
//	                       (400, 413 and 415 all with code bad_request),
//	                       405 for another method, 500 when the NSM fails
//	GET  /v1/health        200 {"status":"ok","nsm":KIND,"module_id":...},
//	                       503 {"status":"unavailable","error":...}
//
// Both ask the NSM; beyond EndpointConfig.MaxConcurrent requests at once,
// more are answered 503 at once with Retry-After: 1 (code busy for the
// attestation, status unavailable for the health check).
//
// A request with a non-null public_key is refused (400) unless
// EndpointConfig.AllowPublicKey is set: see there.
//
// Errors are JSON {"error":{"code":"...","message":"..."}} with code one of
// bad_request, method_not_allowed, not_found, busy, nsm_error.
func NewEndpoint(cfg *EndpointConfig) (http.Handler, error) {
	if cfg == nil || cfg.NSM == nil {
		return nil, fmt.Errorf("%w: endpoint without NSM", ErrConfig)
	}
	if cfg.MaxConcurrent < 0 {
		return nil, fmt.Errorf("%w: endpoint MaxConcurrent is negative", ErrConfig)
	}
	if cfg.MaxConns < 0 {
		return nil, fmt.Errorf("%w: endpoint MaxConns is negative (%d); 0 is the default, %d", ErrConfig, cfg.MaxConns, DefaultEndpointMaxConns)
	}
	n := cfg.MaxConcurrent
	if n == 0 {
		n = DefaultEndpointMaxConcurrent
	}
	conns := cfg.MaxConns
	if conns == 0 {
		conns = DefaultEndpointMaxConns
	}
	e := &endpoint{cfg: *cfg, log: cfg.Logger, slots: slots.New(n)}
	if e.log == nil {
		e.log = slog.Default()
	}
	if cfg.AllowPublicKey {
		e.log.Warn("agent: attestation endpoint with EndpointConfig.AllowPublicKey: any caller, the parent instance included, gets documents binding this enclave's PCRs to a public key of its choosing, and with them data keys from KMS (real or kms-server) encrypted to that key under every PCR condition of the key policy; only where every caller is trusted",
			slog.String("option", "EndpointConfig.AllowPublicKey"))
	}
	mux := http.NewServeMux()
	mux.HandleFunc(AttestationPath, e.attest)
	mux.HandleFunc(HealthPath, e.health)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: use POST "+AttestationPath+" or GET "+HealthPath)
	})
	return &endpointHandler{Handler: mux, maxConns: conns}, nil
}

// endpointHandler is the handler [NewEndpoint] returns: its routes, and
// the connection bound (EndpointConfig.MaxConns) [Serve] applies.
type endpointHandler struct {
	http.Handler
	maxConns int
}

type endpoint struct {
	cfg   EndpointConfig
	log   *slog.Logger
	slots *slots.Slots // NSM requests in progress
}

// busyMessage is the refusal of a request beyond the endpoint's slots.
const busyMessage = "too many NSM requests at once; retry"

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (e *endpoint) attest(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "bad_request", "Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAttestationRequestBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "bad_request", fmt.Sprintf("body over %d bytes", MaxAttestationRequestBody))
		return
	} else if err != nil {
		// The client is most likely gone; the answer is for the log.
		writeError(w, http.StatusBadRequest, "bad_request", "reading the request body: "+err.Error())
		return
	}
	req, err := ParseAttestationRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if req.PublicKey != nil && !e.cfg.AllowPublicKey {
		// A document with the caller's key would be a KMS Recipient for
		// the caller: never sign one for an untrusted caller.
		writeError(w, http.StatusBadRequest, "bad_request",
			"public_key is not accepted: a document carrying the caller's key would let it receive this enclave's KMS keys")
		return
	}
	if !e.slots.TryAcquire() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "busy", busyMessage)
		return
	}
	doc, err := e.cfg.NSM.Attestation(req.Nonce, req.UserData, req.PublicKey)
	e.slots.Release()
	if err != nil {
		if errors.Is(err, enclave.ErrInvalidArgument) || errors.Is(err, enclave.ErrInputTooLarge) {
			writeError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		e.log.Error("attestation endpoint: NSM failed", slog.Any("err", err))
		writeError(w, http.StatusInternalServerError, "nsm_error", err.Error())
		return
	}
	w.Header().Set("Content-Type", MediaTypeCBOR)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(doc)
}

func (e *endpoint) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fail := func(err error) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "unavailable", "error": err.Error()})
	}
	if e.cfg.Ready != nil {
		if err := e.cfg.Ready(); err != nil {
			fail(err)
			return
		}
	}
	if !e.slots.TryAcquire() {
		w.Header().Set("Retry-After", "1")
		fail(errors.New(busyMessage))
		return
	}
	d, err := e.cfg.NSM.DescribeNSM()
	e.slots.Release()
	if err != nil {
		fail(err)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok", "nsm": e.cfg.Kind, "module_id": d.ModuleID})
}

// Serve serves h on the transport address addr (vsock://, tcp:// or
// unix://) until ctx is done, then shuts down gracefully (up to 5 s). ready,
// when not nil, receives the listener's address once listening.
//
// Every connection may come from the parent, so Serve bounds what each
// costs: a request's line and headers 16 KiB, arriving within 10 s, the
// whole request within 30 s, its answer written within 30 s, a kept-alive
// connection idle for 2 min at most, and at most EndpointConfig.MaxConns
// connections open at once for a handler from [NewEndpoint]
// ([DefaultEndpointMaxConns] for any other handler): one more is not
// accepted, so not read, until one closes.
//
// Serve refuses the local KMS endpoint (a *[KMSEndpoint] handler) with
// [ErrKMSEndpointServe], whatever the address: its answers carry
// plaintext, and [ServeKMSEndpoint] serves it on loopback TCP only, where
// the parent cannot reach it. (A handler wrapping the endpoint is not
// recognised: serve the endpoint with ServeKMSEndpoint.)
func Serve(ctx context.Context, addr string, h http.Handler, ready func(net.Addr)) error {
	if _, ok := h.(*KMSEndpoint); ok {
		return ErrKMSEndpointServe
	}
	ln, err := listen(addr, "listen address")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	if ready != nil {
		ready(ln.Addr())
	}
	conns := DefaultEndpointMaxConns
	if eh, ok := h.(*endpointHandler); ok {
		conns = eh.maxConns
	}
	// A connection over the bound waits in the kernel's accept queue,
	// costing the enclave nothing (EndpointConfig.MaxConns).
	ln = netutil.LimitListener(ln, conns)
	return serveUntilDone(ctx, srv, func() error { return srv.Serve(ln) }, "agent: serve")
}

// listen binds the transport address addr (vsock://, tcp:// or unix://).
// what names addr in the error for a malformed one ("agent: WHAT: ...");
// one that cannot be bound is "agent: listen on ADDR: ...".
func listen(addr, what string) (net.Listener, error) {
	a, err := transport.ParseAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", what, err)
	}
	ln, err := transport.Listen(a)
	if err != nil {
		return nil, fmt.Errorf("agent: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// serveUntilDone runs serve (srv's Serve or ServeTLS on its listener)
// until ctx is done, then shuts srv down gracefully, waiting up to 5 s for
// the requests in flight, and returns nil. Another error that stops serve
// first is returned after what: "WHAT: ERR".
func serveUntilDone(ctx context.Context, srv *http.Server, serve func() error, what string) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("%s: %w", what, err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	}
}
