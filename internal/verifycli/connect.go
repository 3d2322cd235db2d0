// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
	"github.com/enclavekit/enclavekit/internal/cli"
	"github.com/enclavekit/enclavekit/internal/quote"
)

// connectTimeout bounds --connect: dial, handshake and challenge.
const connectTimeout = 20 * time.Second

// ReportConnection describes an attested TLS connection (--connect).
type ReportConnection struct {
	// Address is HOST:PORT as given.
	Address     string `json:"address"`
	TLSVersion  string `json:"tls_version"`
	CipherSuite string `json:"cipher_suite"`
	// KeySHA256 is the SHA-256 of the server's SubjectPublicKeyInfo, the
	// documents' public_key; CertificateSHA256 that of its certificate.
	KeySHA256         string `json:"key_sha256"`
	CertificateSHA256 string `json:"certificate_sha256"`
	// HandshakeDocumentTimestamp is the time of the document in the
	// certificate (the report's document is the fresh challenge one).
	HandshakeDocumentTimestamp string `json:"handshake_document_timestamp,omitempty"`
	// ChannelBinding names what binds the challenge document to this
	// session: its user_data is the TLS exporter value of this label.
	ChannelBinding string `json:"channel_binding"`
}

// checkConnectFlags refuses flags that mean nothing with --connect.
func checkConnectFlags(c *config) error {
	switch {
	case c.input != "":
		return usagef("--connect reads no input file (got %s)", c.input)
	case c.atDocument:
		return usagef("--connect verifies a live enclave: --at document does not apply")
	case c.userData != nil || c.publicKey != nil:
		return usagef("--connect: --user-data and --public-key are set by the connection (the TLS exporter value and the TLS key's hash)")
	case c.nonce != nil && (len(c.nonce) < attestedtls.MinNonceSize || len(c.nonce) > attestedtls.MaxNonceSize):
		return usagef("--connect: --nonce must be %d to %d bytes (default: 32 random bytes)", attestedtls.MinNonceSize, attestedtls.MaxNonceSize)
	}
	// "unix:///PATH" splits as host "unix", port "///PATH": refuse any
	// scheme here rather than fail the dial.
	if strings.Contains(c.connect, "://") {
		return cli.WithHint(usagef("--connect %q: want HOST:PORT", c.connect),
			"--connect takes a bare HOST:PORT (TCP), not a tcp://, unix:// or vsock:// address; a vsock enclave is reached through host-proxy ingress")
	}
	if _, _, err := net.SplitHostPort(c.connect); err != nil {
		return usagef("--connect %q: want HOST:PORT", c.connect)
	}
	// Without expected PCRs that pin the image (attestedtls.PinsImage,
	// which attestedtls.NewClient requires too) any genuine enclave
	// passes, one the parent instance runs itself (with its own image)
	// included.
	if !c.anyImage && !attestedtls.PinsImage(c.pcrs) {
		what := "no expected PCRs"
		if len(c.pcrs) > 0 {
			what = "the expected PCRs pin no image (want a non-zero PCR0, PCR8, or PCR1 and PCR2)"
		}
		return cli.WithHint(usagef("--connect: %s: any enclave would pass, one the parent instance runs itself included", what),
			"give the image you expect with --pcr N=HEX, --pcrs FILE or --eif FILE (or --any-image-unsafe to accept any enclave)")
	}
	return nil
}

// anyImageUnpinned reports whether --any-image-unsafe is in force: given,
// and the expected PCRs pin no image ([attestedtls.PinsImage]), so that
// any genuine enclave passes. With PCRs that pin the image the flag
// changes nothing.
func (c *config) anyImageUnpinned() bool {
	return c.anyImage && !attestedtls.PinsImage(c.pcrs)
}

// runConnect is nitro-verify --connect: an attested TLS handshake with
// HOST:PORT and a challenge with a fresh nonce over that connection, and
// the report of the challenge document.
func runConnect(c *config, stdout, stderr io.Writer, now time.Time) int {
	at := c.time(now)
	rep := newReport(c, at)
	if c.anyImageUnpinned() {
		// Said first, whatever the verdict: a log of this run must show
		// that no image was pinned (the reports say it too).
		p := &cli.Program{Name: "nitro-verify", Stdout: stdout, Stderr: stderr}
		p.Warnf("--any-image-unsafe: no expected PCR pins the enclave image: any genuine enclave passes, one the parent instance runs itself included")
	}
	cl, err := attestedtls.NewClient(&attestedtls.ClientConfig{Options: attestation.Options{
		Roots: c.roots, CurrentTime: at, MaxAge: c.maxAge, PCRs: c.pcrs, AllowDebugUnsafe: c.allowDebug,
	}, AnyImageUnsafe: c.anyImage})
	if err != nil {
		fmt.Fprintf(stderr, "nitro-verify: error: %s\n", plainMessage(err.Error()))
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()

	// The handshake accepts any certificate and records the state; the
	// attested checks run right after it, before anything is sent, so
	// that a rejected document can still be shown in the report.
	var cs tls.ConnectionState
	host, _, _ := net.SplitHostPort(c.connect)
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"},
		VerifyConnection: func(s tls.ConnectionState) error { cs = s; return nil }}
	if net.ParseIP(host) == nil {
		cfg.ServerName = host
	}
	nc, err := (&tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}).DialContext(ctx, "tcp", c.connect)
	if err != nil {
		return connectIOError(stdout, stderr, c, rep, err, hintNoListener)
	}
	conn := nc.(*tls.Conn)
	defer conn.Close()
	rep.Connection = connectionReport(c.connect, &cs)

	hs, err := cl.VerifyConnectionState(&cs)
	if err != nil {
		if len(cs.PeerCertificates) > 0 {
			if raw, perr := attestedtls.DocumentFromCertificate(cs.PeerCertificates[0]); perr == nil {
				if d, perr := attestation.Parse(raw); perr == nil {
					rep.Document = documentReport(d, c.pcrs)
				}
			}
		}
		return connectReject(stdout, stderr, c, rep, err)
	}
	rep.Connection.HandshakeDocumentTimestamp = rfc3339(hs.Timestamp)
	doc, err := cl.Challenge(ctx, conn, c.nonce)
	if err != nil {
		return connectReject(stdout, stderr, c, rep, err)
	}
	n := hex.EncodeToString(doc.Nonce)
	rep.Verification.Nonce = &n
	rep.Verified = true
	rep.Document = documentReport(doc, c.pcrs)
	if c.json {
		return writeJSON(&cli.Program{Name: "nitro-verify", Stdout: stdout, Stderr: stderr}, rep, ExitVerified)
	}
	p := &cli.Program{Name: "nitro-verify", Stdout: stdout, Stderr: stderr}
	return writeTextReport(p, func(w io.Writer) {
		fmt.Fprintf(w, "Attested TLS  %s: %s, %s\n", c.connect, rep.Connection.TLSVersion, rep.Connection.CipherSuite)
		fmt.Fprintf(w, "TLS key      SHA-256 %s (the documents' public_key)\n", rep.Connection.KeySHA256)
		fmt.Fprintf(w, "Session      bound: user_data is the TLS exporter value (%s)\n", attestedtls.ExporterLabel)
		fmt.Fprintf(w, "Handshake    document of %s in the certificate\n\n", rep.Connection.HandshakeDocumentTimestamp)
		writeText(w, doc, c, &rep.Verification)
	})
}

// Hints for a --connect that failed before a verdict.
const (
	hintNoListener  = "is an attested TLS listener there (enclave-agent serve --attested-listen)?"
	hintNoChallenge = "the server completed the TLS handshake but not the attestation challenge (" + attestedtls.ChallengePath + "): is it an enclavekit attested TLS listener (enclave-agent serve --attested-listen)?"
)

// connectReject reports a rejection: exit 1 when err carries an
// attestation code, 2 (I/O) otherwise.
func connectReject(stdout, stderr io.Writer, c *config, rep *Report, err error) int {
	switch attestation.ErrorCode(err) {
	case "":
		return connectIOError(stdout, stderr, c, rep, err, hintNoChallenge)
	case attestation.CodeInvalidOptions:
		fmt.Fprintf(stderr, "nitro-verify: error: --connect %s: %s\n", c.connect, plainMessage(err.Error()))
		return ExitUsage
	}
	return reject(&cli.Program{Name: "nitro-verify", Stdout: stdout, Stderr: stderr}, c, rep, err)
}

// connectIOError reports a connection that failed before a verdict (exit
// 2): on stderr with a hint (hint, or the timeout when that was the cause)
// and, with --json, as an io_error report, as for an unreadable input file.
func connectIOError(stdout, stderr io.Writer, c *config, rep *Report, err error, hint string) int {
	p := &cli.Program{Name: "nitro-verify", Stdout: stdout, Stderr: stderr}
	if errors.Is(err, context.DeadlineExceeded) {
		hint = fmt.Sprintf("no answer within %s", connectTimeout)
	}
	msg := fmt.Sprintf("--connect %s: %s", c.connect, plainMessage(err.Error()))
	p.Errorf("%s", quote.Controls(msg)) // msg may repeat the server's text
	p.Hintf("%s", hint)
	if c.json {
		rep.Error = &ReportError{Code: CodeIOError, Message: msg, Hint: hint}
		return writeJSON(p, rep, ExitUsage)
	}
	return ExitUsage
}

func connectionReport(addr string, cs *tls.ConnectionState) *ReportConnection {
	r := &ReportConnection{Address: addr, TLSVersion: tls.VersionName(cs.Version),
		CipherSuite: tls.CipherSuiteName(cs.CipherSuite), ChannelBinding: attestedtls.ExporterLabel}
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		r.KeySHA256 = hex.EncodeToString(attestedtls.KeyHash(leaf.RawSubjectPublicKeyInfo))
		sum := sha256.Sum256(leaf.Raw)
		r.CertificateSHA256 = hex.EncodeToString(sum[:])
	}
	return r
}

// connectHint explains the rejections specific to --connect.
func connectHint(code string) string {
	switch code {
	case attestation.CodePublicKeyMismatch:
		return "the server's TLS key is not the key the enclave attested: something between you and the enclave terminates TLS (the parent instance?)"
	case attestation.CodeUserDataMismatch:
		return "the attestation document was made for another TLS session: the server relays it from a connection of its own"
	case attestation.CodeNonceMismatch:
		return "the server answered the challenge with a recorded document"
	case attestation.CodeTooOld:
		return "the document in the server's certificate is replaced every few minutes (5 by default) and a challenge document is fresh: a --max-age below that refresh interval refuses some handshakes"
	case attestation.CodeMalformed:
		return "the server is not an enclavekit attested TLS listener (enclave-agent serve --attested-listen), or sent a malformed document"
	}
	return ""
}
