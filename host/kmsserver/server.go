// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/enclavekit/enclavekit/host/kmsserver/keymaterial"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the KMS-compatible key service. Create it with [NewServer];
// then either [Server.Listen] and [Server.Serve] it (kms-server does), or
// mount [Server.Handler] in an HTTP server of your own (tests do).
type Server struct {
	cfg      Config
	store    keystore.Store
	root     *keymaterial.Root
	signer   *v4.Signer
	verifier *docVerifier
	rand     io.Reader

	bodies    bodyPool  // request body buffers
	outBufs   sync.Pool // *bytes.Buffer for encoding responses (encodeJSON)
	materials sync.Map  // key ID → *material (unwrapped key material, with the record it was verified for)
	policies  sync.Map  // key ID → *cachedPolicy
	marks     seqMarks  // highest key record sequence verified, per key (rollback.go)
	// aliasMarks is the latest alias record verified, per alias name
	// (aliasrollback.go).
	aliasMarks aliasMarks
	// identities maps a principal ARN to its identity policy.
	identities map[string]*policy.Policy

	audit   *auditLog
	metrics *metrics
	ops     map[string]opFunc
	keyGen  chan struct{} // one token per RSA key generation in progress (startKeyGen)
	usage   *usageTracker // last use of each key (usage.go)
	started time.Time     // when NewServer ran: usage tracking began

	mu        sync.Mutex
	listeners map[string]net.Listener // "kms", "metrics"; bound by Listen
	draining  atomic.Bool             // Serve's context has ended
}

// NewServer validates cfg and returns a server. Every problem in cfg is
// reported at once in a [ConfigErrors] (matching [ErrConfig]). NewServer
// does no I/O: the key store is opened by the caller, and nothing is bound
// before [Server.Listen].
func NewServer(cfg *Config) (*Server, error) {
	c, errs := cfg.withDefaults()
	if cfg == nil {
		return nil, errs
	}
	s := &Server{cfg: c, store: c.Store, signer: newSigner(), rand: c.Rand, listeners: map[string]net.Listener{},
		keyGen: make(chan struct{}, c.MaxConcurrentKeyGenerations)}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	var err error
	if s.verifier, err = newDocVerifier(&c); err != nil {
		// attestation.NewVerifier checks the roots (an empty list, a
		// certificate that is no CA, ...).
		errs = append(errs, &ConfigError{Setting: "attestation roots", Reason: err.Error()})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	s.identities = make(map[string]*policy.Policy, len(c.AccessKeys))
	for _, k := range c.AccessKeys {
		s.identities[k.PrincipalARN], _ = policy.ParseIdentity([]byte(k.Policy)) // checked by withDefaults
	}
	if s.root, err = keymaterial.NewRoot(c.RootKey); err != nil {
		return nil, ConfigErrors{&ConfigError{Setting: "root key", Reason: err.Error()}}
	}
	s.usage, s.started = newUsageTracker(), c.Clock().UTC()
	s.metrics = newMetrics()
	s.audit = newAuditLog(c.AuditLog, c.Logger, s.metrics.auditFailures)
	s.ops = s.operations()
	s.metrics.prepare(slices.Collect(maps.Keys(s.ops)))
	return s, nil
}

// Handler returns the KMS protocol handler (POST / only). A request whose
// context is canceled without a cause (net/http's way of telling that the
// client closed its connection) and whose operation failed for it is
// recorded as [CodeClientClosedRequest]; an HTTP server of the caller's
// that cancels request contexts itself should do so with a cause
// (context.WithCancelCause), or its cancellations count as the clients'.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// AccountID returns the account in the ARNs the server writes and in its
// default key policy: Config.AccountID, or its default.
func (s *Server) AccountID() string { return s.cfg.AccountID }

// Region returns the region the server signs for and writes in ARNs:
// Config.Region, or its default.
func (s *Server) Region() string { return s.cfg.Region }

// MetricsHandler serves the server's Prometheus metrics.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
}

// MetricsRegistry returns the registry holding the server's metrics, so a
// caller can add its own collectors (Go runtime, process).
func (s *Server) MetricsRegistry() *prometheus.Registry { return s.metrics.reg }

// ErrAuditLogUnwritable is what [Server.Healthy] returns while the
// audit log cannot be written: the last audit line failed, and requests
// are answered with KMSInternalException until one is written again.
var ErrAuditLogUnwritable = errors.New("kmsserver: the audit log cannot be written")

// Healthy reports whether the audit log can be written (its last write
// succeeded; else [ErrAuditLogUnwritable]) and the key store answers.
// While the last audit line failed, it tries to write one of its own
// (operation AuditLogWritable), at most once a second by [Config.Clock]
// and one at a time, so that the log is found writable again without a
// request: one that answered unhealthy may get no more.
func (s *Server) Healthy(ctx context.Context) error {
	if s.audit.failed.Load() {
		s.probeAuditLog()
		if s.audit.failed.Load() {
			return ErrAuditLogUnwritable
		}
	}
	_, err := s.store.GetKey(ctx, "00000000-0000-0000-0000-000000000000")
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		return err
	}
	return nil
}

func (s *Server) newRequestID() string {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "00000000-0000-0000-0000-000000000000"
	}
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	now := s.cfg.Clock()
	reqID := s.newRequestID()
	w.Header()[hdrRequestID] = []string{reqID}
	ev := &auditEvent{Time: now.UTC().Format(time.RFC3339Nano), RequestID: reqID, SourceIP: sourceIP(r)}
	op := "unknown"
	var out any
	var err error
	var c *call
	bodyRead := false // the body was read (or reading it failed)
	defer func() {
		if p := recover(); p != nil {
			// A bug reached by this request: answer and audit it as the
			// internal error it is, never as the "allow" of a nil err.
			s.cfg.Logger.Error("request panicked", "request_id", reqID, "operation", op, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out, err = nil, internalErr()
		}
		// The audit line is written before the answer is sent: a request
		// whose line could not be written gets KMSInternalException, never
		// its result (plaintext, a data key) unrecorded.
		var resp *bytes.Buffer
		if err == nil {
			if resp, err = s.encodeJSON(out); err != nil {
				err = fmt.Errorf("encoding the response: %w", err) // KMSInternalException
			}
			defer s.putOutBuf(resp)
		}
		code := ""
		failure := err // what the log names: the operation's own error
		if err != nil {
			err = canceled(r.Context(), err)
			code = errorFor(err).Code
		}
		ev.finish(code, err)
		if aerr := s.audit.write(ev); aerr != nil && err == nil {
			err, code = aerr, CodeInternal // errorFor: KMSInternalException
		}
		if err != nil {
			if !bodyRead && r.ContentLength != 0 {
				// Refused before its body was read. net/http would read
				// the rest of the body (up to 256 KiB, to reuse the
				// connection), before the answer and after it, for as
				// long as the client takes to send it (up to the read
				// timeout): answer now, read no more, close the connection.
				w.Header().Set("Connection", "close")
				_ = http.NewResponseController(w).SetReadDeadline(time.Now()) // unsupported: an HTTP server of the caller's
			}
			writeError(w, err)
		} else {
			s.sendJSON(w, resp)
			if c != nil && c.nUsed > 0 {
				s.recordUses(c)
			}
		}
		s.metrics.observe(op, code, time.Since(start))
		if err != nil {
			var ae *APIError
			switch {
			case code == CodeClientClosedRequest:
				// Any client can hang up at will: not the server's failure.
				s.cfg.Logger.Info("request abandoned: its client closed the connection", "request_id", reqID, "operation", op, "code", code, "error", failure)
			case !errors.As(err, &ae) || ae.Status >= 500:
				s.cfg.Logger.Error("request failed", "request_id", reqID, "operation", op, "code", code, "error", err)
			}
		}
	}()

	target := header(r.Header, hdrTarget)
	name, ok := strings.CutPrefix(target, "TrentService.")
	fn := s.ops[name]
	if ok && fn != nil {
		op = name
	}
	// Until the request is authenticated, its X-Amz-Target is anyone's:
	// the audit line names the operation only if it is one.
	ev.Operation = op
	if ok && knownUnsupported[name] {
		ev.Operation = name
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		err = apiErr(CodeUnknownOperation, "only POST / is served")
		return
	}
	if ct := header(r.Header, hdrContentType); !strings.HasPrefix(ct, "application/x-amz-json-1.1") &&
		!strings.HasPrefix(ct, "application/x-amz-json-1.0") && !strings.HasPrefix(ct, "application/json") {
		err = apiErr(CodeSerialization, "Content-Type must be application/x-amz-json-1.1")
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		err = apiErr(CodeRequestEntityTooLarge, "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, s.cfg.MaxBodyBytes)
		return
	}
	// What can be checked of the signature without the body is, before
	// the body is read (a client without a key must not make the server
	// hold a body buffer while its body trickles in).
	pending, akid, aerr := s.authenticateHeader(r, now)
	ev.AccessKeyID = s.auditAccessKeyID(akid)
	if aerr != nil {
		err = aerr
		return
	}
	// The body goes back to the pool (cleared) once the operation has
	// returned, before the deferred response and audit line: nothing keeps
	// a reference to it, as decode copies every string and byte slice out;
	// a response that aliased it would read as zeros.
	body, rerr := readBody(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), r.ContentLength, s.bodies.get())
	bodyRead = true
	defer s.bodies.put(body)
	if rerr != nil {
		var mbe *http.MaxBytesError
		if errors.As(rerr, &mbe) {
			err = apiErr(CodeRequestEntityTooLarge, "request body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes)
		} else {
			err = apiErr(CodeSerialization, "could not read the request body")
		}
		return
	}
	if aerr := s.verifySignature(r.Context(), r, pending, body); aerr != nil {
		err = aerr
		return
	}
	key := pending.key
	ev.Principal = key.PrincipalARN
	if !ok || fn == nil {
		// An authenticated caller's unknown operation is recorded as it
		// named it, shortened.
		ev.Operation = clipped(name)
		if ok && knownUnsupported[name] {
			err = apiErr(CodeUnsupportedOperation, "%s is a KMS operation this server does not implement", name)
		} else {
			err = apiErr(CodeUnknownOperation, "unknown operation %q", clipped(target))
		}
		return
	}
	// Every store call of the operation shares one deadline: a store that
	// does not answer (a database behind a partition) fails the request
	// with DependencyTimeoutException (writeError) instead of holding it.
	octx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	c = &call{ctx: octx, op: name, principal: key.PrincipalARN, now: now, ev: ev, source: remoteAddr(r), secure: r.TLS != nil}
	out, err = fn(c, body)
}

// canceled returns the error a failed request is recorded with: err
// itself, unless err is or wraps context.Canceled; then it tells by whom
// the request's context ctx was canceled (ctx is net/http's; the
// operation's context below it only ends at its deadline, with
// context.DeadlineExceeded, which is a DependencyTimeoutException):
//   - its client, which net/http reports by canceling ctx with no cause
//     of its own when the connection closes: a [CodeClientClosedRequest]
//     error;
//   - the server, which gives the cancellation a cause ([Server.Serve]
//     cuts the requests left at the end of its shutdown timeout with
//     errShutdownCut; a server of the caller's that mounts
//     [Server.Handler] should cancel with a cause of its own too): err
//     with the cause appended, a KMSInternalException;
//   - nobody (ctx is live: the operation or the store canceled something
//     of its own): err unchanged, a KMSInternalException.
//
// A request that succeeded is not asked: its work is done (a key may have
// been created) whether or not the client stayed to read the answer.
func canceled(ctx context.Context, err error) error {
	if !errors.Is(err, context.Canceled) {
		return err
	}
	switch cause := context.Cause(ctx); {
	case cause == nil:
		return err
	case cause == context.Canceled:
		return apiErr(CodeClientClosedRequest, "The client closed the connection before the request completed.")
	default:
		return fmt.Errorf("%w (%w)", err, cause)
	}
}
