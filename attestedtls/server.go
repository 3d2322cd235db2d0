// SPDX-License-Identifier: Apache-2.0

package attestedtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/slots"
)

// DefaultRefresh is how often a [Server] replaces the document in its
// certificate when ServerConfig.Refresh is zero.
const DefaultRefresh = 5 * time.Minute

// DefaultMaxChallenges is ServerConfig.MaxChallenges when zero.
const DefaultMaxChallenges = 4

// minRefresh bounds how often the certificate is replaced, whatever the
// NSM's leaf says.
const minRefresh = time.Minute

// Attester makes attestation documents; enclave.NSM (the device and the
// emulator) implements it.
type Attester interface {
	// Attestation returns a signed document carrying nonce, userData and
	// publicKey (nil: absent).
	Attestation(nonce, userData, publicKey []byte) ([]byte, error)
}

// ServerConfig configures [NewServer].
type ServerConfig struct {
	// NSM makes the documents. Required.
	NSM Attester
	// Refresh is how often the document in the certificate is replaced
	// (with a new certificate for the same key); zero is [DefaultRefresh].
	// The certificate is also replaced before the document's leaf
	// certificate expires (NSM leaves live three hours). A client's
	// attestation.Options.MaxAge below Refresh refuses some handshakes.
	Refresh time.Duration
	// DNSNames are put in the certificate's subjectAltName. Clients of
	// this package ignore them (the document is what they trust); they
	// help other tools show the certificate.
	DNSNames []string
	// MaxChallenges bounds the challenges answered at once (each is an NSM
	// request, shared with everything else the enclave asks the NSM);
	// more are refused at once with 503 and Retry-After. Zero is
	// [DefaultMaxChallenges]; negative is an error.
	MaxChallenges int
	// Clock is the time source; nil is time.Now.
	Clock func() time.Time
	// Logger; nil is slog.Default().
	Logger *slog.Logger
}

// Server is the enclave side of attested TLS. It holds an ECDSA P-256 TLS
// key made inside the enclave at [NewServer], never written anywhere and
// never returned, and a self-issued certificate for it that carries an
// attestation document binding the key (SHA-256 of its
// SubjectPublicKeyInfo as the document's public_key). It is safe for
// concurrent use.
type Server struct {
	nsm      Attester
	refresh  time.Duration
	dnsNames []string
	clock    func() time.Time
	log      *slog.Logger
	slots    *slots.Slots // challenge slots

	key     *ecdsa.PrivateKey
	spki    []byte
	keyHash []byte

	mu        sync.Mutex
	cert      *tls.Certificate
	doc       []byte
	refreshAt time.Time // replace the certificate at the first handshake after this
	expiresAt time.Time // the document's leaf expires then: never serve it after
}

// NewServer makes the TLS key and the first certificate (asking the NSM
// for a document).
func NewServer(cfg *ServerConfig) (*Server, error) {
	if cfg == nil || cfg.NSM == nil {
		return nil, &ConfigError{Reason: "ServerConfig.NSM is required"}
	}
	if cfg.Refresh < 0 {
		return nil, &ConfigError{Reason: "ServerConfig.Refresh is negative"}
	}
	if cfg.MaxChallenges < 0 {
		return nil, &ConfigError{Reason: "ServerConfig.MaxChallenges is negative"}
	}
	n := cfg.MaxChallenges
	if n == 0 {
		n = DefaultMaxChallenges
	}
	s := &Server{nsm: cfg.NSM, refresh: cfg.Refresh, dnsNames: append([]string(nil), cfg.DNSNames...),
		clock: cfg.Clock, log: cfg.Logger, slots: slots.New(n)}
	if s.refresh == 0 {
		s.refresh = DefaultRefresh
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	// crypto/ecdsa draws from the process's own secure source; inside an
	// enclave that is the kernel's, seeded by the NSM (nsm-hwrng).
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("attestedtls: TLS key: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("attestedtls: TLS key: %w", err)
	}
	s.key, s.spki, s.keyHash = key, spki, KeyHash(spki)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.renewLocked(s.clock()); err != nil {
		return nil, err
	}
	return s, nil
}

// KeyHash returns the SHA-256 of the TLS key's SubjectPublicKeyInfo, the
// public_key of every document the Server serves.
func (s *Server) KeyHash() []byte { return append([]byte(nil), s.keyHash...) }

// TLSConfig returns the server's TLS configuration: TLS 1.3 only, the
// current certificate (replaced as ServerConfig.Refresh says), the key
// exchanges of [KeyExchanges], and http/1.1 as the only application
// protocol (ALPN).
//
// An http.Server serving with it must set Protocols to [HTTP1Only], as
// [Server.HTTPServer] does: http.Server adds h2 to the ALPN list
// otherwise, and a client offering only h2 (any client, through the
// parent instance) gets HTTP/2, whose one connection carries up to 250
// requests at once, its frames read and its streams written by net/http's
// HTTP/2 server: per-connection bounds (a connection limit, the
// http.Server's ReadHeaderTimeout, deadlines a handler sets) then bound
// much less than they say. [Client] speaks HTTP/1.1 only (its challenge is
// an HTTP/1.1 exchange), so nothing is lost.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: KeyExchanges(),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.Certificate()
		},
		NextProtos: []string{"http/1.1"},
	}
}

// HTTP1Only returns the http.Server Protocols of an attested listener:
// HTTP/1 alone (see [Server.TLSConfig]). With it, a client that offers
// only h2 fails the handshake with no_application_protocol. Each call
// returns a new value.
func HTTP1Only() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	return &p
}

// Default bounds of [Server.HTTPServer].
const (
	// DefaultReadHeaderTimeout bounds the TLS handshake and each request's
	// head (http.Server.ReadHeaderTimeout).
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout bounds the wait for the next request on a
	// kept-alive connection (http.Server.IdleTimeout).
	DefaultIdleTimeout = 2 * time.Minute
)

// HTTPServer returns an http.Server for the attested listener: Handler
// is [Server.Handler](app), TLSConfig is [Server.TLSConfig], Protocols is
// [HTTP1Only], ReadHeaderTimeout is [DefaultReadHeaderTimeout] and
// IdleTimeout is [DefaultIdleTimeout]. Serve it with ServeTLS(ln, "", "")
// or ListenAndServeTLS("", ""). Set Addr, and other bounds as the
// application needs (WriteTimeout, a connection limit on the listener:
// enclave/agent.Attested has them all); keep Protocols HTTP/1 only.
func (s *Server) HTTPServer(app http.Handler) *http.Server {
	return &http.Server{
		Handler:           s.Handler(app),
		TLSConfig:         s.TLSConfig(),
		Protocols:         HTTP1Only(),
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
	}
}

// KeyExchanges returns the key exchanges a [Server] accepts, in its order
// of preference: Go's defaults (the hybrid post-quantum ones first) but
// for P-521. Whoever relays the connections (the parent instance) picks
// the key exchange of every handshake it makes the enclave do, and P-521
// is the costliest by far: 1.7 ms of CPU per handshake through the
// agent's attested listener, against 0.3-1.0 ms for every other
// (BenchmarkAttestedHandshake in enclave/agent). No TLS 1.3 client offers
// P-521 alone; one that did fails the handshake with an alert, before the
// server computes anything. The list is fixed, so new defaults of later
// Go releases are not taken up without a change here.
func KeyExchanges() []tls.CurveID {
	return []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024,
		tls.X25519, tls.CurveP256, tls.CurveP384}
}

// Certificate returns the current certificate, replacing it first when it
// is due (see ServerConfig.Refresh). When the NSM fails, the old
// certificate is served until its document's leaf certificate expires;
// after that the error is returned and handshakes fail.
func (s *Server) Certificate() (*tls.Certificate, error) {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.refreshAt) {
		return s.cert, nil
	}
	if err := s.renewLocked(now); err != nil {
		if now.Before(s.expiresAt) {
			s.log.Warn("attested TLS: renewing the certificate's attestation document failed; serving the previous one",
				slog.Any("err", err), slog.Time("expires", s.expiresAt))
			s.refreshAt = now.Add(minRefresh)
			return s.cert, nil
		}
		return nil, err
	}
	return s.cert, nil
}

// renewLocked asks the NSM for a document binding the key and issues a new
// certificate carrying it.
func (s *Server) renewLocked(now time.Time) error {
	doc, err := s.nsm.Attestation(nil, nil, s.keyHash)
	if err != nil {
		return fmt.Errorf("attestedtls: attestation document for the certificate: %w", err)
	}
	// The NSM's own document: parsed only to learn when its leaf expires.
	d, err := attestation.Parse(doc)
	if err != nil {
		return fmt.Errorf("attestedtls: the NSM's document: %w", err)
	}
	ext, err := MarshalExtensionValue(doc)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("attestedtls: certificate serial: %w", err)
	}
	leafEnd := d.Certificate.NotAfter
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         pkix.Name{CommonName: "enclavekit attested TLS " + hex.EncodeToString(s.keyHash[:8])},
		NotBefore:       now.Add(-time.Minute),
		NotAfter:        leafEnd,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:        s.dnsNames,
		ExtraExtensions: []pkix.Extension{{Id: OIDExtensionCMW, Value: ext}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &s.key.PublicKey, s.key)
	if err != nil {
		return fmt.Errorf("attestedtls: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("attestedtls: certificate: %w", err)
	}
	s.cert = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: s.key, Leaf: leaf}
	s.doc = doc
	s.expiresAt = leafEnd
	next := now.Add(s.refresh)
	// Replace it well before the leaf expires, but not in a loop when the
	// NSM keeps a leaf until its last minutes.
	if early := leafEnd.Add(-s.refresh); early.Before(next) {
		next = early
	}
	if min := now.Add(minRefresh); next.Before(min) {
		next = min
	}
	s.refreshAt = next
	return nil
}

// Handler returns the handler of the attested listener (serve it with
// [Server.HTTPServer], or on an http.Server whose Protocols is
// [HTTP1Only]): the attestation
// challenge on [ChallengePath] (any path under /.well-known/enclavekit/ is
// reserved and answers 404), everything else passed to app, whose answers
// (errors included) are its own: enclave-agent's app is a reverse proxy
// that answers 502 upstream_error and 504 upstream_timeout itself (see
// enclave/agent.Attested).
//
// A challenge is POST [ChallengePath] with the header [NonceHeader]: the
// client's nonce in hex, [MinNonceSize] to [MaxNonceSize] bytes; the body
// is ignored (bounded). The answer is 200 with a fresh document
// (application/cbor) whose nonce is the client's, whose user_data is this
// TLS session's exporter value ([ExporterLabel]) and whose public_key is
// [Server.KeyHash]. Errors are JSON {"error":{"code","message"}} with code
// bad_request, method_not_allowed, not_found, busy (503: more than
// ServerConfig.MaxChallenges at once) or nsm_error.
func (s *Server) Handler(app http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(ChallengePath, s.challenge)
	mux.HandleFunc("/.well-known/enclavekit/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: use POST "+ChallengePath)
	})
	mux.Handle("/", app)
	return mux
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// ParseNonce decodes the [NonceHeader] value: hex (either case), between
// [MinNonceSize] and [MaxNonceSize] bytes.
func ParseNonce(h string) ([]byte, error) {
	h = strings.TrimSpace(h)
	if len(h) > 2*MaxNonceSize {
		return nil, fmt.Errorf("%s is over %d bytes", NonceHeader, MaxNonceSize)
	}
	n, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%s is not hex", NonceHeader)
	}
	if len(n) < MinNonceSize {
		return nil, fmt.Errorf("%s is %d bytes, want %d to %d", NonceHeader, len(n), MinNonceSize, MaxNonceSize)
	}
	return n, nil
}

func (s *Server) challenge(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	// Drain a small body so that the connection stays usable.
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 4<<10))
	if r.TLS == nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the attestation challenge is only served over TLS")
		return
	}
	nonce, err := ParseNonce(r.Header.Get(NonceHeader))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	ekm, err := exporter(r.TLS)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "no TLS exporter on this connection: "+err.Error())
		return
	}
	if !s.slots.TryAcquire() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "busy", "too many attestation challenges at once; retry")
		return
	}
	defer s.slots.Release()
	doc, err := s.nsm.Attestation(nonce, ekm, s.keyHash)
	if err != nil {
		s.log.Error("attested TLS: challenge: NSM failed", slog.Any("err", err))
		writeError(w, http.StatusInternalServerError, "nsm_error", "the NSM failed to make a document")
		return
	}
	w.Header().Set("Content-Type", mediaTypeCBOR)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(doc)
}
