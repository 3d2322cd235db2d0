// SPDX-License-Identifier: Apache-2.0

package attestedtls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
)

// DefaultTimeout is ClientConfig.Timeout when zero.
const DefaultTimeout = 30 * time.Second

// ClientConfig is the policy a client applies to the enclave behind an
// attested TLS endpoint.
type ClientConfig struct {
	// Options is the attestation policy: Roots (nil: the AWS root; must be
	// nil with a Verifier), PCRs (they must pin the image: see
	// [PinsImage] and AnyImageUnsafe), MaxAge,
	// MaxFutureSkew, AllowDebugUnsafe. Nonce, UserData and PublicKey must
	// be nil: this package sets them. AtDocumentTime must be false: a live
	// peer is verified at the current time, and at its document's own time
	// a recorded certificate (and its key) would pass forever. CurrentTime,
	// when set, is the verification time of every handshake and challenge
	// (tests); zero reads the clock at each of them.
	Options attestation.Options
	// Verifier, when set, verifies the documents and caches their
	// certificate chains: a handshake then costs one ECDSA P-384
	// verification beyond plain TLS. Nil uses attestation.Verify (five).
	Verifier *attestation.Verifier
	// Rand is the source of challenge nonces; nil is crypto/rand.
	Rand io.Reader
	// Timeout bounds each [Client.Dial] (the TCP dial, the handshake and
	// the challenge together; so each connection of
	// [Client.DialTLSContext]) and each [Client.Challenge], when their
	// context has no earlier deadline: the parent relays every byte and
	// can accept a connection and stay silent. Zero is [DefaultTimeout];
	// negative is refused. A timeout fails with an error matching
	// context.DeadlineExceeded (errors.Is). http.Transport ignores
	// TLSHandshakeTimeout with DialTLSContext: set http.Client.Timeout for
	// the requests themselves. It does not apply to [Client.TLSConfig] and
	// [NewTLSConfig]: a tls.Config carries no deadline.
	Timeout time.Duration
	// AnyImageUnsafe accepts a policy that pins no enclave image
	// ([PinsImage] false: no PCRs, or only PCRs that do not identify the
	// image, such as PCR4), which [NewClient] otherwise refuses with
	// [ImageNotPinnedError]. Unsafe: any genuine enclave then passes,
	// one the parent instance launches itself with an image of its own
	// included, and the parent is in the middle of every connection.
	// It is nitro-verify's --any-image-unsafe; for development and
	// diagnostics only.
	AnyImageUnsafe bool
}

// PinsImage reports whether pcrs, an attestation.Options.PCRs,
// identifies the enclave image, as [NewClient] requires: a non-zero PCR0
// (the whole image: kernel, command line and ramdisks, measured as one run
// of bytes; see package eif), a non-zero PCR8
// (the image's signing certificate: only images signed with its key), or
// non-zero PCR1 and PCR2 together (what PCR0 covers, split). Other PCRs
// do not: PCR3 and PCR4 name the parent instance's role and the instance
// (the parent's own enclave on it has them too), PCR1 alone is the
// kernel and command line that many images share, PCR2 alone the
// ramdisks without the kernel that runs them, PCR16 and above what the
// enclave itself extended. A nil value (the PCR absent) and an all-zero
// one identify nothing either: every debug-mode enclave reports zero
// PCR0-2, whatever its image, and every unsigned image a zero PCR8. A
// value of another length than a PCR's matches no document; it counts as
// pinned, since the policy then accepts no enclave at all (and NewClient
// refuses it for its length).
func PinsImage(pcrs map[int][]byte) bool {
	set := func(i int) bool {
		v := pcrs[i]
		return v != nil && (len(v) == 0 || slices.ContainsFunc(v, func(b byte) bool { return b != 0 }))
	}
	return set(0) || set(8) || set(1) && set(2)
}

// checkPCRLengths refuses an expected PCR value that is not
// attestation.PCRSize bytes (nil, the PCR absent, aside): it would match
// no document, and every handshake would fail as a PCR mismatch, the
// caller's mistake told as the enclave's. The lowest such index is named.
func checkPCRLengths(pcrs map[int][]byte) error {
	bad := -1
	for i, v := range pcrs {
		if v != nil && len(v) != attestation.PCRSize && (bad < 0 || i < bad) {
			bad = i
		}
	}
	if bad < 0 {
		return nil
	}
	return &ConfigError{Reason: fmt.Sprintf("Options.PCRs[%d] is %d bytes, want %d (a SHA-384 digest, as every document's PCRs are; nil expects the PCR absent)",
		bad, len(pcrs[bad]), attestation.PCRSize)}
}

// Client verifies attested TLS endpoints. It is safe for concurrent use.
type Client struct {
	opts     attestation.Options
	verifier *attestation.Verifier
	rand     io.Reader
	timeout  time.Duration
}

// NewClient checks cfg and returns a Client. It refuses (with
// [ImageNotPinnedError]) a policy whose Options.PCRs pin no enclave image
// ([PinsImage]) unless cfg.AnyImageUnsafe is set, and (with a
// [ConfigError]) an expected PCR value that is not attestation.PCRSize
// (48) bytes, which no document could match.
func NewClient(cfg *ClientConfig) (*Client, error) {
	if cfg == nil {
		return nil, &ConfigError{Reason: "a ClientConfig is required: at least Options.PCRs should pin the enclave image"}
	}
	o := cfg.Options
	if o.Nonce != nil || o.UserData != nil || o.PublicKey != nil {
		return nil, &ConfigError{Reason: "Options.Nonce, UserData and PublicKey must be nil: the TLS key and session bind the documents"}
	}
	if o.AtDocumentTime {
		return nil, &ConfigError{Reason: "Options.AtDocumentTime must be false: a live connection is verified at the current time (at the document's own time a recorded certificate would pass forever); it is for archived documents, with attestation.Verify"}
	}
	if cfg.Verifier != nil && o.Roots != nil {
		return nil, &ConfigError{Reason: "Options.Roots must be nil with a Verifier (set VerifierConfig.Roots)"}
	}
	if cfg.Timeout < 0 {
		return nil, &ConfigError{Reason: fmt.Sprintf("Timeout is %s: want a positive bound, or zero for DefaultTimeout (%s)", cfg.Timeout, DefaultTimeout)}
	}
	if err := checkPCRLengths(o.PCRs); err != nil {
		return nil, err
	}
	if !cfg.AnyImageUnsafe && !PinsImage(o.PCRs) {
		return nil, &ImageNotPinnedError{PCRs: slices.Sorted(maps.Keys(o.PCRs))}
	}
	c := &Client{opts: o, verifier: cfg.Verifier, rand: cfg.Rand, timeout: cfg.Timeout}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	return c, nil
}

// NewTLSConfig returns a TLS configuration whose handshakes fail unless the
// server's certificate carries an attestation document that verifies under
// cfg and binds the server's TLS key; see [Client.TLSConfig]. It carries
// no deadline: cfg.Timeout does not apply, and a dial made with it needs
// a context with a deadline (see [Client.TLSConfig]).
func NewTLSConfig(cfg *ClientConfig) (*tls.Config, error) {
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return c.TLSConfig(), nil
}

// TLSConfig returns a TLS 1.3 client configuration whose VerifyConnection
// runs [Client.VerifyConnectionState]: the handshake fails unless the
// server is the attested enclave. InsecureSkipVerify is set because the
// server's certificate is self-issued: the attestation document, verified
// under the Client's policy, replaces the web PKI, and VerifyConnection
// still runs. Set ServerName on the result when the server needs SNI.
//
// The handshake proves that the server holds the key an enclave of the
// pinned image attested, at most MaxAge ago (the certificate's document is
// replaced every ServerConfig.Refresh). For a proof that the enclave is
// alive now and terminates this very session, run [Client.Challenge] on
// the connection, or use [Client.Dial], which does both.
//
// The configuration bounds nothing in time, and ClientConfig.Timeout
// does not reach it (it bounds Dial, DialTLSContext and Challenge): a
// tls.Config carries no deadline. The parent relays every byte and can
// accept the connection and stay silent, so tls.Dial(network, addr,
// c.TLSConfig()) may block forever (TestTLSConfigSilentPeer). Bound every
// use: (&tls.Dialer{Config: cfg}).DialContext with a context that has a
// deadline, which bounds the TCP dial and the handshake together (as the
// package's ExampleNewTLSConfig does); or conn.SetDeadline before
// tls.Client(conn, cfg).Handshake; as an http.Transport's
// TLSClientConfig, its TLSHandshakeTimeout (a zero Transport has none),
// or rather [Client.Transport]. Reads after
// the handshake need a deadline of their own.
//
// The verification cannot block on the peer: VerifyConnection runs once
// the server's certificate has arrived and does no I/O; its work is
// bounded (one document of at most [MaxDocumentSize] bytes, one to five
// ECDSA verifications), and the only waits it can make are for a
// Verifier's cache lock and for another handshake's verification of the
// same chain, bounded work too. Every other wait of the handshake is a
// read from the peer, which only the caller's deadline bounds: so a
// silent peer is answered by that deadline, not by a change to the
// callbacks.
func (c *Client) TLSConfig() *tls.Config {
	return c.tlsConfig(nil)
}

func (c *Client) tlsConfig(out **attestation.Document) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by VerifyConnection: see TLSConfig
		NextProtos:         []string{"http/1.1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			d, err := c.VerifyConnectionState(&cs)
			if err == nil && out != nil {
				*out = d
			}
			return err
		},
	}
}

func (c *Client) options() attestation.Options {
	o := c.opts
	if o.CurrentTime.IsZero() {
		o.CurrentTime = time.Now()
	}
	return o
}

func (c *Client) verify(doc []byte, o attestation.Options) (*attestation.Document, error) {
	if c.verifier != nil {
		return c.verifier.Verify(doc, o)
	}
	return attestation.Verify(doc, o)
}

// VerifyConnectionState checks a completed handshake and returns the
// verified document of the server's certificate. In order:
//
//  1. TLS 1.3 was negotiated (the exporter of a challenge needs it).
//  2. The server's certificate carries exactly one id-pe-cmw extension
//     holding a Nitro attestation document ([ErrNoDocument]).
//  3. The document verifies under the Client's policy: every check of
//     attestation.Verify, in its order (chain, signature, freshness, PCRs,
//     debug mode), with its errors.
//  4. The document's public_key is the SHA-256 of the certificate's
//     SubjectPublicKeyInfo ([ErrKeyNotBound]); the TLS handshake itself
//     proved that the server holds that key's private half.
func (c *Client) VerifyConnectionState(cs *tls.ConnectionState) (*attestation.Document, error) {
	if cs.Version != tls.VersionTLS13 {
		return nil, &ConfigError{Reason: "the connection is not TLS 1.3"}
	}
	if len(cs.PeerCertificates) == 0 {
		return nil, &DocumentError{Reason: "the server sent no certificate"}
	}
	leaf := cs.PeerCertificates[0]
	raw, err := DocumentFromCertificate(leaf)
	if err != nil {
		return nil, err
	}
	doc, err := c.verify(raw, c.options())
	if err != nil {
		return nil, documentError("the document in the server's certificate", err)
	}
	want := KeyHash(leaf.RawSubjectPublicKeyInfo)
	if doc.PublicKey == nil || subtle.ConstantTimeCompare(doc.PublicKey, want) != 1 {
		return nil, &KeyBindingError{Want: want, Got: bytes.Clone(doc.PublicKey)}
	}
	return doc, nil
}

// Challenge asks the server on conn (an attested TLS connection whose
// handshake is complete) for a fresh document carrying nonce, over that
// connection, and verifies it. nil nonce draws 32 random bytes; otherwise
// it must be [MinNonceSize] to [MaxNonceSize] bytes. In order, it checks:
//
//  1. The handshake: as [Client.VerifyConnectionState] (so a Challenge on a
//     connection made with another configuration is still safe).
//  2. The answer is a 200 application/cbor body of at most
//     [MaxDocumentSize] bytes, its headers bounded too ([ErrChallenge]).
//  3. The document verifies under the Client's policy with nonce as the
//     expected nonce (attestation.ErrNonceMismatch for a replayed one).
//  4. Its public_key binds the server's TLS key ([ErrKeyNotBound]).
//  5. Its user_data is this session's TLS exporter value
//     ([ErrChannelBinding]): the enclave itself terminates this session.
//
// ctx bounds the exchange (through the connection's deadline), and so
// does ClientConfig.Timeout when ctx has no earlier deadline; a timeout
// matches context.DeadlineExceeded. The connection stays usable for
// HTTP/1.1 requests afterwards.
func (c *Client) Challenge(ctx context.Context, conn *tls.Conn, nonce []byte) (*attestation.Document, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.challenge(ctx, conn, nonce, false)
}

// challenge is Challenge; handshakeVerified skips step 1 when this
// Client's VerifyConnection passed on conn's handshake (Dial).
func (c *Client) challenge(ctx context.Context, conn *tls.Conn, nonce []byte, handshakeVerified bool) (*attestation.Document, error) {
	if nonce == nil {
		nonce = make([]byte, 32)
		if _, err := io.ReadFull(c.rand, nonce); err != nil {
			return nil, fmt.Errorf("attestedtls: nonce: %w", err)
		}
	} else if len(nonce) < MinNonceSize || len(nonce) > MaxNonceSize {
		return nil, &ConfigError{Reason: fmt.Sprintf("the challenge nonce is %d bytes, want %d to %d", len(nonce), MinNonceSize, MaxNonceSize)}
	}
	cs := conn.ConnectionState()
	if !cs.HandshakeComplete {
		return nil, &ConfigError{Reason: "Challenge needs a connection whose handshake is complete"}
	}
	if !handshakeVerified {
		if _, err := c.VerifyConnectionState(&cs); err != nil {
			return nil, err
		}
	}
	raw, err := exchange(ctx, conn, nonce)
	if err != nil {
		return nil, err
	}
	ekm, err := exporter(&cs)
	if err != nil {
		return nil, &ConfigError{Reason: "no TLS exporter on this connection: " + err.Error()}
	}
	o := c.options()
	o.Nonce = nonce
	doc, err := c.verify(raw, o)
	if err != nil {
		return nil, documentError("the challenge document", err)
	}
	want := KeyHash(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
	if doc.PublicKey == nil || subtle.ConstantTimeCompare(doc.PublicKey, want) != 1 {
		return nil, &KeyBindingError{Want: want, Got: bytes.Clone(doc.PublicKey)}
	}
	if doc.UserData == nil || subtle.ConstantTimeCompare(doc.UserData, ekm) != 1 {
		return nil, &ChannelBindingError{Want: ekm, Got: bytes.Clone(doc.UserData)}
	}
	return doc, nil
}

// maxChallengeAnswer bounds a challenge answer read from the server, status
// line, headers and (possibly chunked) body together.
const maxChallengeAnswer = 2*MaxDocumentSize + 32<<10

// exchange sends the challenge request on conn and returns the body.
func exchange(ctx context.Context, conn *tls.Conn, nonce []byte) ([]byte, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
		defer conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://enclave"+ChallengePath, nil)
	if err != nil {
		return nil, err
	}
	if sn := conn.ConnectionState().ServerName; sn != "" {
		req.Host = sn
	}
	req.Header.Set(NonceHeader, hex.EncodeToString(nonce))
	req.ContentLength = 0
	if err := req.Write(conn); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("attestedtls: sending the challenge: %w", err))
	}
	// The whole answer, head included, is bounded: http.ReadResponse
	// alone would read headers without limit.
	lr := &io.LimitedReader{R: conn, N: maxChallengeAnswer}
	tooLong := func() error {
		return &ChallengeError{Reason: fmt.Sprintf("the answer is over %d bytes", maxChallengeAnswer)}
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(lr, 4096), req)
	if err != nil {
		if lr.N == 0 {
			return nil, tooLong()
		}
		return nil, ctxErr(ctx, fmt.Errorf("attestedtls: reading the challenge answer: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	if err != nil {
		if lr.N == 0 {
			return nil, tooLong()
		}
		return nil, ctxErr(ctx, fmt.Errorf("attestedtls: reading the challenge answer: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &ChallengeError{Status: resp.StatusCode, Reason: errorMessage(body)}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != mediaTypeCBOR {
		return nil, &ChallengeError{Status: resp.StatusCode, Reason: fmt.Sprintf("content type %q, want %s", resp.Header.Get("Content-Type"), mediaTypeCBOR)}
	}
	if len(body) > MaxDocumentSize {
		return nil, &ChallengeError{Status: resp.StatusCode, Reason: fmt.Sprintf("document over %d bytes", MaxDocumentSize)}
	}
	return body, nil
}

// ctxErr makes err, an I/O error on a connection whose deadline is ctx's,
// match ctx's error when ctx ended. The connection's deadline can pass a
// moment before ctx reports it: a deadline error is then ctx's deadline.
func ctxErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if _, ok := ctx.Deadline(); ok && cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		cerr = context.DeadlineExceeded
	}
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w (%w)", cerr, err)
}

// errorMessage extracts a short message from an error body.
func errorMessage(body []byte) string {
	if len(body) > 200 {
		body = body[:200]
	}
	return fmt.Sprintf("%q", bytes.TrimSpace(body))
}

// Conn is an attested TLS connection returned by [Client.Dial].
type Conn struct {
	*tls.Conn
	// Handshake is the verified document of the server's certificate.
	Handshake *attestation.Document
	// Document is the verified challenge document: fresh, bound to this
	// session by the TLS exporter.
	Document *attestation.Document
}

// Dial connects to addr, completes an attested TLS handshake (see
// [Client.TLSConfig]) and a [Client.Challenge] with a random nonce, and
// returns the connection only when both passed. serverName, when not
// empty, is sent as SNI. ctx bounds the whole, and so does
// ClientConfig.Timeout when ctx has no earlier deadline; a timeout
// matches context.DeadlineExceeded.
func (c *Client) Dial(ctx context.Context, network, addr, serverName string) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var hs *attestation.Document
	cfg := c.tlsConfig(&hs)
	cfg.ServerName = serverName
	d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		if err = ctxErr(ctx, err); errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("attestedtls: %s %s: timed out before the attested TLS handshake completed: %w", network, addr, err)
		}
		return nil, err
	}
	conn := nc.(*tls.Conn)
	if hs == nil {
		conn.Close()
		return nil, errors.New("attestedtls: internal error: handshake document not recorded")
	}
	doc, err := c.challenge(ctx, conn, nil, true)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &Conn{Conn: conn, Handshake: hs, Document: doc}, nil
}

// DialTLSContext is [Client.Dial] shaped for http.Transport.DialTLSContext:
// each connection it makes is attested and challenged before its first
// request. But http.Transport calls it only for https requests that it
// sends straight to the server: with a Proxy (http.DefaultTransport and
// its clones read HTTPS_PROXY from the environment) it dials the proxy,
// and does TLS itself with TLSClientConfig (the web PKI when nil), no
// attestation asked, so the parent, which can get a publicly trusted
// certificate for the enclave's name, answers in its place; an http://
// URL is plain TCP. Use [Client.Transport], which has neither, rather
// than setting this on a Transport of your own.
func (c *Client) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if net.ParseIP(host) != nil {
		host = ""
	}
	conn, err := c.Dial(ctx, network, addr, host)
	if err != nil {
		return nil, err
	}
	return conn.Conn, nil
}

// Transport returns an http.Transport for this Client whose every
// connection is attested: DialTLSContext is [Client.DialTLSContext] (an
// attested handshake and a challenge before the first request), Proxy is
// nil (a proxy's tunnel would be dialled with DialContext, and its TLS
// done by net/http, not by DialTLSContext), DialContext refuses with a
// [ConfigError] (so an http:// URL, or a Proxy set later, fails instead
// of going out in plain TCP or without the challenge), and
// TLSClientConfig is [Client.TLSConfig] (should DialContext be replaced
// as well, the handshakes net/http makes itself still verify the
// attestation document, though without a challenge). A proxy cannot be
// used with it.
//
// Each connection is bounded by ClientConfig.Timeout; TLSHandshakeTimeout
// does not apply (net/http ignores it with DialTLSContext): bound each
// request, reading included, with http.Client.Timeout. Idle connections
// are closed after 90 s, as http.DefaultTransport's.
func (c *Client) Transport() *http.Transport {
	return &http.Transport{
		Proxy:          nil,
		DialTLSContext: c.DialTLSContext,
		DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
			return nil, &ConfigError{Reason: fmt.Sprintf("Client.Transport dials attested TLS only, not %s %s: an http:// URL or a Proxy would go out without the attested dial (a proxy cannot be used)", network, addr)}
		},
		TLSClientConfig: c.TLSConfig(),
		IdleConnTimeout: 90 * time.Second,
	}
}
