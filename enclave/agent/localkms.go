// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/internal/quote"
	"github.com/enclavekit/enclavekit/internal/readbody"
	"github.com/enclavekit/enclavekit/internal/slots"
	"github.com/enclavekit/enclavekit/internal/transport"
)

// Defaults for [KMSEndpointConfig].
const (
	DefaultKMSMaxRequest    = 64 << 10
	DefaultKMSMaxConcurrent = 64
	// DefaultKMSMaxConnections is KMSEndpointConfig.MaxConnections when
	// zero.
	DefaultKMSMaxConnections = 256
)

// ErrKMSEndpointAddr is returned by [ServeKMSEndpoint] for a listen address
// other than loopback TCP.
var ErrKMSEndpointAddr = errors.New("agent: the local KMS endpoint listens on loopback TCP only")

// ErrKMSEndpointServe is returned by [Serve] for a *[KMSEndpoint] handler:
// the local KMS endpoint answers with plaintext, and [Serve] listens on any
// transport address (vsock and unix sockets the parent can reach), without
// the endpoint's own connection bounds. Serve it with [ServeKMSEndpoint].
var ErrKMSEndpointServe = errors.New("agent: Serve does not serve the local KMS endpoint: use ServeKMSEndpoint, which listens on loopback TCP only")

// KMSEndpointConfig configures [NewKMSEndpoint].
type KMSEndpointConfig struct {
	// Client makes the calls (its KMS endpoint, credentials, transport and
	// recipient key). Required.
	Client *Client
	// MaxRequestBytes bounds a request body; 0 is DefaultKMSMaxRequest.
	MaxRequestBytes int64
	// Timeout bounds each request end to end, the key service's answer
	// included; 0 is the Client's timeout.
	Timeout time.Duration
	// MaxConcurrent bounds requests in progress; further ones are answered
	// ThrottlingException at once (the SDKs back off and retry). 0 is
	// DefaultKMSMaxConcurrent.
	MaxConcurrent int
	// MaxConnections bounds the connections [ServeKMSEndpoint] keeps open
	// at once (each holds a read buffer of 16 KiB and, while a request
	// arrives, its body); one beyond it is answered 503 and closed (the
	// SDKs retry). 0 is DefaultKMSMaxConnections.
	MaxConnections int
	// Logger; nil is slog.Default().
	Logger *slog.Logger
}

// recipientOps are the operations the endpoint answers with Recipient,
// with the response field that carries their plaintext.
var recipientOps = map[string]string{
	"Decrypt":             "Plaintext",
	"GenerateDataKey":     "Plaintext",
	"GenerateDataKeyPair": "PrivateKeyPlaintext",
	"GenerateRandom":      "Plaintext",
	"DeriveSharedSecret":  "SharedSecret",
}

// passThroughOps are the KMS operations forwarded unchanged: none of them
// returns secret material. An operation in neither list (including any the
// KMS API gains later) is refused with UnknownOperationException rather than
// forwarded, since its answer might carry a secret across the parent:
// Encapsulate and Decapsulate are refused so, as KMS returns their shared
// secret in plaintext and takes no Recipient for them.
var passThroughOps = map[string]bool{}

func init() {
	for _, op := range strings.Fields(`CancelKeyDeletion ConnectCustomKeyStore CreateAlias CreateCustomKeyStore
	CreateGrant CreateKey DeleteAlias DeleteCustomKeyStore DeleteImportedKeyMaterial DescribeCustomKeyStores
	DescribeKey DisableKey DisableKeyRotation DisconnectCustomKeyStore EnableKey EnableKeyRotation Encrypt
	GenerateDataKeyPairWithoutPlaintext GenerateDataKeyWithoutPlaintext GenerateMac GetKeyLastUsage GetKeyPolicy
	GetKeyRotationStatus GetParametersForImport GetPublicKey ImportKeyMaterial ListAliases ListGrants
	ListKeyPolicies ListKeyRotations ListKeys ListResourceTags ListRetirableGrants PutKeyPolicy ReEncrypt
	ReplicateKey RetireGrant RevokeGrant RotateKeyOnDemand ScheduleKeyDeletion Sign TagResource UntagResource
	UpdateAlias UpdateCustomKeyStore UpdateKeyDescription UpdatePrimaryRegion Verify VerifyMac`) {
		passThroughOps[op] = true
	}
}

// secretFields may never arrive in an answer relayed by the parent.
var secretFields = []string{"Plaintext", "PrivateKeyPlaintext", "SharedSecret"}

// NewKMSEndpoint returns a handler speaking the KMS JSON 1.1 protocol
// (POST /, X-Amz-Target: TrentService.<Op>) to applications inside the
// enclave, for SDKs pointed at it with an endpoint URL (AWS_ENDPOINT_URL_KMS,
// endpoint_url, endpoint). See the package documentation, "Local KMS
// endpoint".
func NewKMSEndpoint(cfg *KMSEndpointConfig) (*KMSEndpoint, error) {
	if cfg == nil || cfg.Client == nil {
		return nil, fmt.Errorf("%w: local KMS endpoint: no client", ErrConfig)
	}
	e := &KMSEndpoint{c: cfg.Client, max: cfg.MaxRequestBytes, timeout: cfg.Timeout, conns: cfg.MaxConnections, log: cfg.Logger}
	if e.max == 0 {
		e.max = DefaultKMSMaxRequest
	}
	if e.timeout == 0 {
		e.timeout = cfg.Client.timeout
	}
	n := cfg.MaxConcurrent
	if n == 0 {
		n = DefaultKMSMaxConcurrent
	}
	if e.conns == 0 {
		e.conns = DefaultKMSMaxConnections
	}
	if e.max < 0 || e.timeout < 0 || n < 0 || e.conns < 0 {
		return nil, fmt.Errorf("%w: local KMS endpoint: negative limit", ErrConfig)
	}
	e.slots = slots.New(n)
	if e.log == nil {
		e.log = slog.Default()
	}
	return e, nil
}

// CheckKMSEndpointAddr reports whether addr is a loopback TCP address
// (tcp://127.0.0.1:PORT, tcp://[::1]:PORT, tcp://localhost:PORT).
func CheckKMSEndpointAddr(addr string) error {
	a, err := transport.ParseAddr(addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKMSEndpointAddr, err)
	}
	if a.Network != transport.NetworkTCP {
		return fmt.Errorf("%w: %s is not tcp://127.0.0.1:PORT (a vsock or unix address could be reached from the parent instance)", ErrKMSEndpointAddr, addr)
	}
	host, _, err := net.SplitHostPort(a.Address)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrKMSEndpointAddr, addr, err)
	}
	if ip, err := netip.ParseAddr(host); (err != nil || !ip.Unmap().IsLoopback()) && !strings.EqualFold(host, "localhost") {
		return fmt.Errorf("%w: %s is not a loopback address", ErrKMSEndpointAddr, addr)
	}
	return nil
}

// KMSEndpoint is the local KMS endpoint: see [NewKMSEndpoint].
type KMSEndpoint struct {
	c       *Client
	max     int64
	timeout time.Duration
	conns   int          // connections open at once (ServeKMSEndpoint)
	slots   *slots.Slots // requests in progress
	log     *slog.Logger
}

// kmsError is a KMS-shaped error answer.
type kmsError struct {
	status int
	code   string
	msg    string
}

func (e *kmsError) Error() string { return e.code + ": " + e.msg }

// body is the error's JSON answer.
func (e *kmsError) body() []byte {
	b, _ := json.Marshal(map[string]string{"__type": e.code, "message": e.msg})
	return b
}

// writeJSON writes an answer in one piece with its Content-Length and
// nothing after the JSON (a trailing newline left unread by an SDK's
// decoder costs the application its connection).
func writeJSON(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// validOpName reports whether s is 1 to 64 ASCII letters (an operation or
// error code name).
func validOpName(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// ServeHTTP answers one request in process (an [http.Handler], for tests
// and for an application that serves the endpoint itself);
// [ServeKMSEndpoint] serves the same answers over loopback TCP.
func (e *KMSEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, out, ke := e.handle(r.Context(), r.Method, r.URL.Path, relayHeader(r.Header), r.Header.Get("X-Amz-Target"), func() ([]byte, error) {
		body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, e.max))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, e.tooLarge()
			}
			return nil, &kmsError{400, "SerializationException", "reading the request body: " + err.Error()}
		}
		return body, nil
	})
	if ke != nil {
		w.Header().Set("X-Amzn-ErrorType", ke.code)
	}
	writeJSON(w, status, out)
	clear(out)
}

// handle answers one request, given its method, path, relay header (see
// [relayHeader]), X-Amz-Target and a function reading its body: the
// status, the JSON answer, and for an error answer the error.
func (e *KMSEndpoint) handle(parent context.Context, method, path, relay, target string, body func() ([]byte, error)) (int, []byte, *kmsError) {
	if !e.slots.TryAcquire() {
		ke := &kmsError{400, "ThrottlingException", "too many requests in progress at the local KMS endpoint"}
		return ke.status, ke.body(), ke
	}
	defer e.slots.Release()
	ctx, cancel := context.WithTimeout(parent, e.timeout)
	defer cancel()
	out, err := e.serve(ctx, method, path, relay, target, body)
	if err == nil {
		return http.StatusOK, out, nil
	}
	var ke *kmsError
	if !errors.As(err, &ke) {
		ke = &kmsError{500, "KMSInternalException", "local KMS endpoint: internal error"}
	}
	if ke.status >= 500 {
		e.log.Warn("agent: local KMS endpoint", slog.String("target", target), slog.String("error", ke.Error()))
	}
	return ke.status, ke.body(), ke
}

func (e *KMSEndpoint) serve(ctx context.Context, method, path, relay, target string, readBody func() ([]byte, error)) ([]byte, error) {
	op, err := checkHead(method, path, relay, target)
	if err != nil {
		return nil, err
	}
	body, err := readBody()
	if err != nil {
		return nil, err
	}
	return e.call(ctx, op, body)
}

// tooLarge is the answer to a request body over the endpoint's bound.
func (e *KMSEndpoint) tooLarge() *kmsError {
	return &kmsError{413, "ValidationException", "request body exceeds " + strconv.FormatInt(e.max, 10) + " bytes"}
}

// checkHead checks a request's method, path, relay header (see
// [relayHeader]) and X-Amz-Target, and returns the operation named.
func checkHead(method, path, relay, target string) (string, error) {
	if method != http.MethodPost || path != "/" {
		return "", &kmsError{404, "UnknownOperationException", "the local KMS endpoint answers POST / only"}
	}
	if relay != "" {
		return "", &kmsError{403, "AccessDeniedException", "the local KMS endpoint answers processes in the enclave only: the request carries " + relay + " (relayed by a proxy)"}
	}
	op, ok := strings.CutPrefix(target, "TrentService.")
	if !ok || !validOpName(op) {
		return "", &kmsError{400, "UnknownOperationException", "X-Amz-Target must be TrentService.<Operation>"}
	}
	return op, nil
}

// call answers operation op with the request body.
func (e *KMSEndpoint) call(ctx context.Context, op string, body []byte) ([]byte, error) {
	var fields map[string]json.RawMessage
	if len(bytes.TrimSpace(body)) == 0 {
		fields = map[string]json.RawMessage{}
	} else if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, &kmsError{400, "SerializationException", "the request body is not a JSON object"}
	}
	if a, b, ok := caseTwins(fields); ok {
		return nil, &kmsError{400, "SerializationException", "members " + strconv.Quote(a) + " and " + strconv.Quote(b) + " differ only in case"}
	}
	if err := requireKeyID(op, fields); err != nil {
		f := err.(*KeyIDRequiredError).Field
		return nil, &kmsError{400, "ValidationException", "1 validation error detected: " + f + " is required by the enclave's local KMS endpoint: " +
			op + " without " + f + " opens whatever key the stored CiphertextBlob names, and the parent instance can replace that blob " +
			"with one under another key it may use, whose plaintext it knows; hint: pass " + f + "=<the key ARN that encrypted the blob>, " +
			"from the enclave's image or configuration, not stored beside the blob"}
	}
	if ptField, ok := recipientOps[op]; ok {
		return e.withRecipient(ctx, op, ptField, fields)
	}
	if !passThroughOps[op] {
		return nil, &kmsError{400, "UnknownOperationException", "operation " + op + " is not known to the local KMS endpoint"}
	}
	resp, out, err := e.upstream(ctx, op, body)
	if err != nil {
		return nil, err
	}
	if f, ok := refuseSecrets(resp, out); ok {
		return nil, &kmsError{500, "KMSInternalException", "the key service's answer to " + op + " carries " + strconv.Quote(f) + ": refused"}
	}
	if err := e.checkAccount(op, fields, out); err != nil {
		return nil, err
	}
	return resp, nil
}

// upstream sends the request body of operation op to the key service and
// returns its answer and the answer's members; an error answer comes back
// as the key service's error ([upstreamError]), an answer that is not a
// JSON object, or that [checkAnswerMembers] refuses (a member named twice
// in one object, ...), as a KMSInternalException, before anything in it
// is checked.
func (e *KMSEndpoint) upstream(ctx context.Context, op string, body []byte) ([]byte, map[string]json.RawMessage, error) {
	status, resp, err := e.c.rawCall(ctx, op, body)
	if err != nil {
		return nil, nil, err
	}
	if status != http.StatusOK {
		return nil, nil, upstreamError(status, resp)
	}
	notObject := &kmsError{500, "KMSInternalException", "the key service's answer is not a JSON object"}
	if err := checkAnswerMembers(resp); err != nil {
		clear(resp) // it may carry a data key in the clear
		if errors.Is(err, errAnswerNotObject) {
			return nil, nil, notObject
		}
		return nil, nil, &kmsError{500, "KMSInternalException", "the key service's answer to " + op + " " + err.Error() + ": refused"}
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(resp, &out); err != nil {
		clear(resp)
		return nil, nil, notObject
	}
	return resp, out, nil
}

// caseTwins returns two member names of m that differ only in case
// (strings.EqualFold), the first such pair in name order. Key services may
// match names regardless of case (kms-server does, the last one winning),
// so such a request would mean what the key service picks. It groups the
// names by [foldKey] in one pass, so a request of many members costs in
// proportion to their number (comparing every pair cost a 64 KiB request
// a quarter of a second of CPU).
func caseTwins(m map[string]json.RawMessage) (string, string, bool) {
	if len(m) < 2 {
		return "", "", false
	}
	first := make(map[string]string, len(m)) // fold key -> least name
	var a, b string
	found := false
	for _, n := range slices.Sorted(maps.Keys(m)) {
		k := foldKey(n)
		f, ok := first[k]
		if !ok {
			first[k] = n
			continue
		}
		// Names come in order: the first twin of a group is its second
		// least name, and the pair with the least first name wins.
		if !found || f < a {
			a, b, found = f, n, true
		}
	}
	return a, b, found
}

// foldKey returns s with every rune replaced by the least rune of its
// Unicode simple-folding orbit (unicode.SimpleFold), so that two strings
// have the same key exactly when strings.EqualFold reports them equal
// ("K", "k" and the Kelvin sign U+212A all become "K"; invalid UTF-8
// reads as U+FFFD, as EqualFold reads it).
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'a' <= c && c <= 'z' {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	k := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z':
			r -= 'a' - 'A'
		case r >= utf8.RuneSelf:
			least := r
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				least = min(least, f)
			}
			r = least
		}
		k = utf8.AppendRune(k, r)
	}
	return string(k)
}

// relayHeader returns the name of a header a reverse proxy adds
// (X-Forwarded-*, Forwarded, Via; the attested listener sets
// X-Forwarded-Proto), or "". Such a request may come from outside the
// enclave (the attested listener's --upstream, or an application's proxy,
// pointed at this endpoint), and the answer carries plaintext.
func relayHeader(h http.Header) string {
	for k := range h {
		if isRelayHeader(k) {
			return k
		}
	}
	return ""
}

// isRelayHeader reports whether name, in any case, is one of the headers
// [relayHeader] looks for.
func isRelayHeader(name string) bool {
	const fwd = "x-forwarded-"
	return len(name) >= len(fwd) && strings.EqualFold(name[:len(fwd)], fwd) ||
		strings.EqualFold(name, "Forwarded") || strings.EqualFold(name, "Via")
}

func present(v json.RawMessage) bool { return len(v) != 0 && string(v) != "null" }

// secretMember returns the name of a member of an answer that is one of
// secretFields in any case ("plaintext", "SHAREDSECRET") and not null. The
// endpoint writes its answer's members in name order, so a "plaintext" of
// the parent's would follow the endpoint's own "Plaintext", and a decoder
// matching names regardless of case (Go's encoding/json: the last wins)
// would take the parent's.
func secretMember(out map[string]json.RawMessage) (string, bool) {
	for k, v := range out {
		for _, f := range secretFields {
			if strings.EqualFold(k, f) && present(v) {
				return k, true
			}
		}
	}
	return "", false
}

// refuseSecrets is secretMember for an answer the endpoint refuses: when
// out (parsed from resp) has a secret member, it clears resp and the value
// of every member that is one of secretFields in any case (json.Unmarshal
// copied each), and returns the member's name.
func refuseSecrets(resp []byte, out map[string]json.RawMessage) (string, bool) {
	f, ok := secretMember(out)
	if !ok {
		return "", false
	}
	clear(resp)
	for k, v := range out {
		for _, s := range secretFields {
			if strings.EqualFold(k, s) {
				clear(v)
			}
		}
	}
	return f, true
}

// upstreamError relays a KMS error answer as its code and message only.
func upstreamError(status int, body []byte) error {
	var ej struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	if json.Unmarshal(body, &ej) != nil || ej.Type == "" {
		return &kmsError{500, "KMSInternalException", "the key service answered HTTP " + strconv.Itoa(status) + " without a KMS error"}
	}
	code := ej.Type
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if !validOpName(code) {
		code = "KMSInternalException"
	}
	msg := ej.Message
	if msg == "" {
		msg = ej.Message2
	}
	msg = relayedMessage(msg)
	if status < 400 || status > 599 {
		status = 500
	}
	return &kmsError{status, code, msg}
}

// maxRelayedMessage bounds the key service's error message as the
// endpoint relays it (real KMS messages are well under 1 KiB).
const maxRelayedMessage = 1024

// relayedMessage is the key service's error message (the parent's to
// write) as the endpoint relays and logs it: at most maxRelayedMessage
// bytes, cut at a rune boundary and followed by its length and "cut", with
// control, line-separator and bidirectional-override characters and
// invalid UTF-8 replaced by '?', so that it cannot forge lines or
// terminal output in the application's or the agent's logs.
func relayedMessage(s string) string {
	s, note := quote.Cut(s, maxRelayedMessage)
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			return '?'
		}
		return r
	}, s) + note
}

// withRecipient adds Recipient to the application's request, sends it, and
// answers with the plaintext opened from CiphertextForRecipient in the field
// the application's SDK expects.
func (e *KMSEndpoint) withRecipient(ctx context.Context, op, ptField string, fields map[string]json.RawMessage) ([]byte, error) {
	valid, err := plaintextCheck(op, fields)
	if err != nil {
		return nil, err
	}
	rk, rcpt, err := e.c.recipientFor()
	if err != nil {
		return nil, err
	}
	defer e.c.keys.release(rk)
	for k := range fields {
		// kms-server matches member names regardless of case: a
		// "recipient" of the application's must not stand beside ours.
		if strings.EqualFold(k, "Recipient") {
			delete(fields, k)
		}
	}
	// The members are written as they are, not through json.Marshal, which
	// would validate and compact each again (the 7 KB base64 document
	// twice): they are valid JSON, as json.Unmarshal checked all of body,
	// and base64 and the algorithm's name need no escaping. Recipient is
	// written in its place in the request, not built apart and copied.
	doc := base64.StdEncoding
	rn := len(`{"AttestationDocument":"","KeyEncryptionAlgorithm":""}`) + doc.EncodedLen(len(rcpt.AttestationDocument)) + len(rcpt.KeyEncryptionAlgorithm)
	body := appendObjectWith(nil, fields, "Recipient", rn, func(rj []byte) []byte {
		rj = append(rj, `{"AttestationDocument":"`...)
		rj = doc.AppendEncode(rj, rcpt.AttestationDocument)
		rj = append(rj, `","KeyEncryptionAlgorithm":"`...)
		rj = append(rj, rcpt.KeyEncryptionAlgorithm...)
		return append(rj, `"}`...)
	})
	resp, out, err := e.upstream(ctx, op, body)
	if err != nil {
		return nil, err
	}
	var cfr []byte
	if v := out["CiphertextForRecipient"]; present(v) {
		if cfr, err = jsonBytes(v); err != nil {
			return nil, &kmsError{500, "KMSInternalException", "CiphertextForRecipient is not base64"}
		}
	}
	if _, ok := refuseSecrets(resp, out); ok {
		return nil, &kmsError{500, "KMSInternalException", "agent: " + op + ": " + ErrPlaintextInResponse.Error()}
	}
	if err := e.checkAccount(op, fields, out); err != nil {
		return nil, err
	}
	pt, err := e.c.open(rk, "agent: "+op, nil, cfr, func(pt []byte) bool { return valid(pt, out) })
	if err != nil {
		return nil, refusedEnvelope(err.Error())
	}
	defer clear(pt)
	delete(out, "CiphertextForRecipient")
	enc := make([]byte, 2+base64.StdEncoding.EncodedLen(len(pt)))
	enc[0], enc[len(enc)-1] = '"', '"'
	base64.StdEncoding.Encode(enc[1:len(enc)-1], pt)
	defer clear(enc)
	out[ptField] = enc
	return appendObject(nil, out), nil
}

// refusedEnvelope is the endpoint's answer when CiphertextForRecipient
// did not open, or opened to a plaintext that is not what was asked for
// ([Client] answers ErrRecipientOpen): 400 KMSInternalException, and no
// log line. Over plain HTTP the parent writes the envelope, and whether
// one it tampered with opens depends on the plaintext inside (CBC padding,
// the length, the key pair's match): a padding oracle, were the refusal
// told apart from a success by anything but the application's result. A
// 500 is retried by aws-sdk-go-v2, botocore and @aws-sdk/client-kms alike
// (as 502, 503, 504 and the throttling and timeout codes are; a 400 with
// this code by none of them), so the parent would count one request for a
// right guess and three (botocore's legacy mode: five) for a wrong one;
// and the endpoint logs its 5xx answers, which init --logs-to forwards to
// the parent when the agent runs as the application.
func refusedEnvelope(msg string) *kmsError {
	return &kmsError{http.StatusBadRequest, "KMSInternalException", msg}
}

// appendObject appends m as a JSON object, members in name order, each
// value as it is: m comes from json.Unmarshal (which checked every value)
// and from values the endpoint made valid.
func appendObject(dst []byte, m map[string]json.RawMessage) []byte {
	return appendObjectWith(dst, m, "", 0, nil)
}

// appendObjectWith is appendObject with one more member when val is not
// nil: name (which m must not hold), its value appended by val, at most n
// bytes (for the buffer's size) and valid JSON as m's values are.
func appendObjectWith(dst []byte, m map[string]json.RawMessage, name string, n int, val func([]byte) []byte) []byte {
	n += 2 + len(name) + 4
	for k, v := range m {
		n += len(k) + len(v) + 4
	}
	dst = slices.Grow(dst, n)
	dst = append(dst, '{')
	names := slices.Collect(maps.Keys(m))
	if val != nil {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, k := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendName(dst, k)
		dst = append(dst, ':')
		if val != nil && k == name {
			dst = val(dst)
		} else {
			dst = append(dst, m[k]...)
		}
	}
	return append(dst, '}')
}

// jsonBytes decodes v, a JSON value json.Unmarshal checked, as
// encoding/json decodes a []byte: a base64 string (or null). A string of
// base64 characters alone, as KMS writes its blobs, is decoded directly;
// anything else (escapes, null) goes through json.Unmarshal, so the result
// is always encoding/json's (FuzzJSONBytes).
func jsonBytes(v json.RawMessage) ([]byte, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		s := v[1 : len(v)-1]
		plain := true
		for _, c := range s {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
				plain = false
				break
			}
		}
		if plain {
			b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
			n, err := base64.StdEncoding.Decode(b, s)
			return b[:n], err
		}
	}
	var b []byte
	err := json.Unmarshal(v, &b)
	return b, err
}

// appendName appends s as a JSON string: as it is when it needs no
// escaping (member names of KMS requests and answers), else through
// json.Marshal.
func appendName(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// checkAccount checks every key the answer names against the client's
// Config.KMSAccount (see [checkAnswerAccount] and [KeyAccountError]).
func (e *KMSEndpoint) checkAccount(op string, req, out map[string]json.RawMessage) error {
	if err := checkAnswerAccount(e.c.account, op, req, out); err != nil {
		return &kmsError{500, "KMSInternalException", err.Error()}
	}
	return nil
}

// plaintextCheck returns the check a plaintext must pass for op, from the
// application's request (see [Client.GenerateDataKey] and the others).
func plaintextCheck(op string, f map[string]json.RawMessage) (func(pt []byte, out map[string]json.RawMessage) bool, error) {
	bad := func(field string) error {
		return &kmsError{400, "ValidationException", "1 validation error detected: " + field + " is not valid"}
	}
	switch op {
	case "Decrypt":
		return func(pt []byte, _ map[string]json.RawMessage) bool { return len(pt) >= 1 && len(pt) <= maxKMSPlaintext }, nil
	case "GenerateDataKey":
		var spec types.DataKeySpec
		var n *int32
		if v, ok := f["KeySpec"]; ok && json.Unmarshal(v, &spec) != nil {
			return nil, bad("KeySpec")
		}
		if v, ok := f["NumberOfBytes"]; ok && json.Unmarshal(v, &n) != nil {
			return nil, bad("NumberOfBytes")
		}
		want := dataKeySize(spec, n)
		return func(pt []byte, _ map[string]json.RawMessage) bool { return len(pt) == want }, nil
	case "GenerateRandom":
		var n *int32
		if v, ok := f["NumberOfBytes"]; ok && json.Unmarshal(v, &n) != nil {
			return nil, bad("NumberOfBytes")
		}
		if n == nil || *n < 1 || *n > 1024 {
			return nil, &kmsError{400, "ValidationException", "1 validation error detected: NumberOfBytes must be between 1 and 1024"}
		}
		want := int(*n)
		return func(pt []byte, _ map[string]json.RawMessage) bool { return len(pt) == want }, nil
	case "GenerateDataKeyPair":
		var spec string
		if v, ok := f["KeyPairSpec"]; ok && json.Unmarshal(v, &spec) != nil {
			return nil, bad("KeyPairSpec")
		}
		return func(pt []byte, out map[string]json.RawMessage) bool {
			var gotSpec string
			var pub []byte
			return json.Unmarshal(out["KeyPairSpec"], &gotSpec) == nil && gotSpec == spec &&
				json.Unmarshal(out["PublicKey"], &pub) == nil && keyPairMatches(spec, pt, pub)
		}, nil
	case "DeriveSharedSecret":
		return func(pt []byte, _ map[string]json.RawMessage) bool { return sharedSecretSize(len(pt)) }, nil
	}
	return nil, &kmsError{400, "UnknownOperationException", op}
}

// sharedSecretSize reports whether n is the length of an ECDH shared secret
// KMS derives: 32 (P-256, secp256k1, SM2), 48 (P-384) or 66 (P-521) bytes.
func sharedSecretSize(n int) bool { return n == 32 || n == 48 || n == 66 }

// rawCall sends one KMS JSON request, signed with the client's credentials,
// to the client's endpoint through its transport, and returns the status and
// body (at most maxKMSResponse bytes, the transport's bound). No retries: the application's SDK retries.
func (c *Client) rawCall(ctx context.Context, op string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return 0, nil, &kmsError{500, "KMSInternalException", "agent: credentials: " + err.Error()}
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "kms", c.region, c.now()); err != nil {
		return 0, nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, &kmsError{503, "DependencyTimeoutException", "agent: the key service did not answer in time"}
		}
		return 0, nil, &kmsError{503, "DependencyTimeoutException", "agent: the key service is unreachable: " + err.Error()}
	}
	defer resp.Body.Close()
	out, err := readAnswer(resp)
	if err != nil {
		clear(out)
		var tooLarge *AnswerTooLargeError
		switch {
		case errors.As(err, &tooLarge):
			return 0, nil, &kmsError{500, "KMSInternalException", tooLarge.Error()}
		case ctx.Err() != nil:
			return 0, nil, &kmsError{503, "DependencyTimeoutException", "agent: the key service did not answer in time"}
		}
		return 0, nil, &kmsError{503, "DependencyTimeoutException", "agent: reading the key service's answer: " + err.Error()}
	}
	return resp.StatusCode, out, nil
}

// readAnswer reads an answer's body with [readbody.Read]: into a buffer
// sized from its Content-Length up to 64 KiB (a parent's header alone
// reserves no more), each outgrown buffer cleared (an answer carries a
// sealed or, refused, a plain data key). The client's transport bounds the
// body to maxKMSResponse bytes ([AnswerTooLargeError] beyond), as it does
// for the SDK's calls.
func readAnswer(resp *http.Response) ([]byte, error) {
	return readbody.Read(resp.Body, resp.ContentLength, 64<<10, nil)
}
