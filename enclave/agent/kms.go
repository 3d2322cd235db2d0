// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
	"github.com/enclavekit/enclavekit/internal/transport"
	"github.com/enclavekit/enclavekit/recipient"
)

// Defaults for [Config].
const (
	DefaultKeyBits       = 2048
	DefaultKeyRotation   = time.Hour
	DefaultTimeout       = 30 * time.Second
	DefaultExpiryWindow  = 5 * time.Minute
	defaultMaxIdleConns  = 4
	defaultTLSHandshake  = 10 * time.Second
	defaultResponseStart = 30 * time.Second
	// maxKMSHeaderBytes bounds the status line and headers of a KMS
	// answer (http.Transport.MaxResponseHeaderBytes; its default is
	// 10 MiB). AWS KMS sends a handful of short lines (x-amzn-RequestId,
	// Content-Type, Content-Length, Date); the bound leaves them ample
	// room. Over plain http (InsecureHTTPUnsafe) the parent writes the
	// answer, and unbounded, 10 MiB of short distinct header lines cost
	// the agent ~160 MiB of heap per call (TestKMSHeaderBound).
	maxKMSHeaderBytes = 64 << 10
	// maxKMSResponse bounds the body of a KMS answer, for the library
	// calls (through aws-sdk-go-v2) and the local KMS endpoint alike: the
	// client's transport refuses more ([boundedTransport]). A KMS answer
	// is a few KiB; a page of 1,000 entries (ListKeys, ListAliases) a few
	// hundred.
	maxKMSResponse = 1 << 20
)

// MinKeyRotation is the shortest Config.KeyRotation [New] accepts. A
// rotation generates an RSA-2048 key, 63-230 ms of CPU (BenchmarkKeyRotation,
// docs/PERFORMANCE.md), under the lock every request takes for the key:
// with a period of a few milliseconds nearly every request would wait for
// one. At one a minute it costs at most 0.4 % of a core.
const MinKeyRotation = time.Minute

// Sentinel errors.
var (
	// ErrConfig is wrapped by every configuration error of [New].
	ErrConfig = errors.New("agent: invalid configuration")
	// ErrPlaintextInResponse is returned when a response to a request sent
	// with Recipient carries Plaintext: the key material crossed the host
	// in the clear, and the agent refuses it (fail closed).
	ErrPlaintextInResponse = errors.New("agent: KMS response carries Plaintext despite Recipient: refused")
	// ErrNoCiphertextForRecipient is returned when a response lacks
	// CiphertextForRecipient.
	ErrNoCiphertextForRecipient = errors.New("agent: KMS response lacks CiphertextForRecipient")
	// ErrRecipientOpen is returned when CiphertextForRecipient does not
	// open with the agent's key, or opens to something other than what was
	// asked for (a data key of another length, a key pair that does not
	// parse or does not match its KeyPairSpec and public key). Every such
	// failure is this one error, with no detail: the reason would tell a
	// parent that tampered with the envelope whether its padding was valid
	// (see the package documentation).
	ErrRecipientOpen = errors.New("agent: CiphertextForRecipient did not open to what was asked for")
	errClosed        = errors.New("agent: client is closed")
	// ErrAnswerTooLarge is wrapped by every [AnswerTooLargeError].
	ErrAnswerTooLarge = errors.New("agent: the key service's answer is too large")
)

// AnswerTooLargeError is returned when the body of an answer from the key
// service exceeds Limit bytes (1 MiB), by its Content-Length or as it
// arrives: from the library calls ([Client.GenerateDataKey] and the
// others, wrapped in the SDK's error) and, as KMSInternalException, from
// the local KMS endpoint. Over plain http the parent writes the answer, and
// unbounded, a 32 MiB one cost the agent ~216 MiB of heap per call.
type AnswerTooLargeError struct {
	// Limit is the bound, in bytes.
	Limit int64
	// ContentLength is the answer's declared length when that is what
	// exceeds Limit, else -1 (no Content-Length, or one within Limit and
	// more bytes sent).
	ContentLength int64
}

func (e *AnswerTooLargeError) Error() string {
	if e.ContentLength > e.Limit {
		return fmt.Sprintf("agent: the key service's answer exceeds %d bytes (its Content-Length is %d): refused", e.Limit, e.ContentLength)
	}
	return fmt.Sprintf("agent: the key service's answer exceeds %d bytes: refused", e.Limit)
}

// Unwrap returns [ErrAnswerTooLarge].
func (e *AnswerTooLargeError) Unwrap() error { return ErrAnswerTooLarge }

// Config configures a [Client]. Credentials never come from flags: give an
// environment provider ([EnvCredentials]) or the host's credential endpoint
// ([EndpointCredentials]).
type Config struct {
	// NSM supplies attestation documents and the entropy for the RSA key.
	// Required.
	NSM enclave.NSM
	// Region is the KMS region, e.g. "eu-west-1". Required.
	Region string
	// Endpoint is the KMS base URL. Empty means real AWS KMS,
	// https://kms.<Region>.amazonaws.com, with TLS inside the enclave end
	// to end. For kms-server give http://HOST:PORT or https://HOST:PORT;
	// plain http lets the parent substitute the data keys the enclave
	// receives (see the package documentation), so it is refused unless
	// InsecureHTTPUnsafe is set.
	Endpoint string
	// InsecureHTTPUnsafe allows an http:// Endpoint. Unsafe: without TLS
	// inside the enclave nothing authenticates the response, and the parent
	// instance, which relays it, can replace CiphertextForRecipient with an
	// envelope sealed to the public key it saw in the attestation document,
	// choosing the data key the enclave then uses. For development against
	// a local kms-server only.
	InsecureHTTPUnsafe bool
	// Proxy is the transport address every connection is dialled to
	// (vsock://3:8000 to the host-proxy in production; tcp:// or unix://
	// in development), whatever host the endpoint names; TLS, when the
	// endpoint is https, still runs end to end with the endpoint's host as
	// server name. Empty dials the endpoint's host directly over TCP.
	Proxy string
	// TLS is the TLS configuration for https endpoints (e.g. RootCAs for a
	// kms-server certificate); nil uses the system roots. ServerName
	// defaults to the endpoint's host.
	TLS *tls.Config
	// KMSAccount, when set, is the AWS account (12 digits) whose keys the
	// client uses: every KMS response's KeyId must be a key ARN in it, and,
	// when the request names a key by its full key ARN, that ARN; any other
	// response is refused ([KeyAccountError]) and none of its plaintext is
	// used. The parent instance supplies the credentials, and an alias or a
	// bare key ID resolves in the credentials' account, so without it a
	// parent can hand in credentials for its own account, where alias/app
	// names a key it can decrypt with. Empty checks nothing, and is
	// refused with [EndpointCredentials] (the parent's credentials): a key
	// ARN pins the account of one request only.
	KMSAccount string
	// Credentials signs requests (SigV4); it is wrapped in an
	// aws.CredentialsCache that refreshes ExpiryWindow before expiry.
	// Required.
	Credentials aws.CredentialsProvider
	// ExpiryWindow is how long before expiry credentials are refreshed; 0
	// is DefaultExpiryWindow.
	ExpiryWindow time.Duration
	// KeyBits is the RSA key size; 0 is 2048 (what KMS accepts).
	KeyBits int
	// KeyRotation is how often the RSA key is replaced: at its first use
	// KeyRotation after it was made. 0 is DefaultKeyRotation; negative
	// never rotates; a positive period below [MinKeyRotation] is refused
	// ([KeyRotationError]).
	KeyRotation time.Duration
	// Timeout bounds each KMS call; 0 is DefaultTimeout.
	Timeout time.Duration
	// Clock drives key rotation; nil is time.Now.
	Clock func() time.Time
	// Logger; nil is slog.Default().
	Logger *slog.Logger
}

// KeyRotationError reports a Config.KeyRotation that is positive but
// below [MinKeyRotation]. errors.Is matches [ErrConfig].
type KeyRotationError struct {
	// KeyRotation is the period asked for; Min is MinKeyRotation.
	KeyRotation, Min time.Duration
}

func (e *KeyRotationError) Error() string {
	return fmt.Sprintf("agent: invalid configuration: KeyRotation %v is below the minimum, %v: each rotation generates an RSA key "+
		"(about 100 ms of CPU), so nearly every request would wait for one; 0 is DefaultKeyRotation (%v)", e.KeyRotation, e.Min, DefaultKeyRotation)
}

// Is reports whether target is [ErrConfig].
func (e *KeyRotationError) Is(target error) bool { return target == ErrConfig }

// Client calls KMS with Recipient and returns plaintext only inside the
// enclave. It is safe for concurrent use.
type Client struct {
	nsm     enclave.NSM
	kms     *kms.Client
	keys    *keyring
	timeout time.Duration
	http    *http.Client
	// For raw requests (the local KMS endpoint): the same endpoint,
	// credentials and clock as the SDK client.
	base   string
	region string
	creds  aws.CredentialsProvider
	signer *v4.Signer
	now    func() time.Time
	// account is Config.KMSAccount.
	account string
}

// New builds a client and generates its first RSA key with entropy from the
// NSM.
func New(cfg *Config) (*Client, error) {
	if cfg == nil || cfg.NSM == nil {
		return nil, fmt.Errorf("%w: no NSM", ErrConfig)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%w: no region", ErrConfig)
	}
	if cfg.Credentials == nil {
		return nil, fmt.Errorf("%w: no credentials provider (use the environment or the host's credential endpoint)", ErrConfig)
	}
	if cfg.KMSAccount != "" && !validAccount(cfg.KMSAccount) {
		return nil, fmt.Errorf("%w: KMS account %q: want a 12-digit AWS account ID", ErrConfig, cfg.KMSAccount)
	}
	if cfg.KeyRotation > 0 && cfg.KeyRotation < MinKeyRotation {
		return nil, &KeyRotationError{KeyRotation: cfg.KeyRotation, Min: MinKeyRotation}
	}
	if _, fromParent := cfg.Credentials.(*EndpointCredentials); fromParent && cfg.KMSAccount == "" {
		return nil, fmt.Errorf("%w: EndpointCredentials without KMSAccount: the parent instance supplies those credentials, "+
			"so an alias or a bare key ID resolves in an account of its choosing", ErrConfig)
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "https://kms." + cfg.Region + ".amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("%w: endpoint %q: want http(s)://HOST[:PORT]", ErrConfig, endpoint)
	}
	if u.Scheme == "http" && !cfg.InsecureHTTPUnsafe {
		return nil, fmt.Errorf("%w: endpoint %q is plain http: the parent instance could choose the data keys this enclave receives; use https (with the key server's CA in Config.TLS), or set Config.InsecureHTTPUnsafe for development only", ErrConfig, endpoint)
	}
	httpClient, err := newHTTPClient(u, cfg.Proxy, cfg.TLS)
	if err != nil {
		return nil, err
	}
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	bits := cfg.KeyBits
	if bits == 0 {
		bits = DefaultKeyBits
	}
	rotation := cfg.KeyRotation
	if rotation == 0 {
		rotation = DefaultKeyRotation
	}
	window := cfg.ExpiryWindow
	if window == 0 {
		window = DefaultExpiryWindow
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if u.Scheme == "http" {
		log.Warn("agent: KMS endpoint is plain http (InsecureHTTPUnsafe): the parent instance can choose the data keys this enclave receives; development only",
			slog.String("endpoint", endpoint))
	}
	keys, err := newKeyring(cfg.NSM, bits, rotation, clock, log)
	if err != nil {
		return nil, err
	}
	awsCfg := aws.Config{
		Region: cfg.Region,
		Credentials: aws.NewCredentialsCache(cfg.Credentials, func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = window
		}),
		// sdkhttp keeps the SDK from costing a connection (a new TLS
		// handshake through the host's proxy) on a few calls in ten:
		// aws/aws-sdk-go-v2#1825, #2737, described in package sdkhttp.
		// TestClientKeepsConnection checks it.
		HTTPClient: sdkhttp.New(httpClient),
	}
	base := u.Scheme + "://" + u.Host
	kc := kms.NewFromConfig(awsCfg, func(o *kms.Options) {
		o.BaseEndpoint = aws.String(base)
	})
	return &Client{nsm: cfg.NSM, kms: kc, keys: keys, timeout: timeout, http: httpClient,
		base: base, region: cfg.Region, creds: awsCfg.Credentials, signer: v4.NewSigner(), now: clock, account: cfg.KMSAccount}, nil
}

func newHTTPClient(u *url.URL, proxy string, tlsCfg *tls.Config) (*http.Client, error) {
	tr := &http.Transport{
		Proxy:                 nil, // never an HTTP proxy from the environment
		MaxIdleConns:          defaultMaxIdleConns,
		MaxIdleConnsPerHost:   defaultMaxIdleConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   defaultTLSHandshake,
		ResponseHeaderTimeout: defaultResponseStart,
		// Whoever answers (the parent, over plain http) chooses the
		// headers' size: see maxKMSHeaderBytes.
		MaxResponseHeaderBytes: maxKMSHeaderBytes,
	}
	if proxy != "" {
		addr, err := transport.ParseAddr(proxy)
		if err != nil {
			return nil, fmt.Errorf("%w: proxy: %w", ErrConfig, err)
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return transport.Dial(ctx, addr)
		}
	} else {
		d := &net.Dialer{Timeout: 10 * time.Second}
		tr.DialContext = d.DialContext
	}
	if u.Scheme == "https" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if tlsCfg != nil {
			tc = tlsCfg.Clone()
			if tc.MinVersion < tls.VersionTLS12 {
				tc.MinVersion = tls.VersionTLS12
			}
		}
		if tc.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
		tr.TLSClientConfig = tc
	}
	return &http.Client{Transport: &boundedTransport{tr: tr, max: maxKMSResponse}}, nil
}

// boundedTransport bounds the body of every answer tr returns to max
// bytes. Over plain http (InsecureHTTPUnsafe) the parent writes the
// answer, and the SDK reads a body whole, whatever its length: a 32 MiB
// answer cost one GenerateDataKey ~216 MiB of heap (TestClientAnswerBound).
// An answer whose Content-Length exceeds max is refused before a byte of
// it is read; any other is read up to max bytes, and a byte more is an
// [AnswerTooLargeError]. The refusal is the body's read error, not
// RoundTrip's, so the SDK does not retry it as a failed connection.
type boundedTransport struct {
	tr  *http.Transport
	max int64
}

// RoundTrip sends req through t.tr and bounds the answer's body.
func (t *boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.tr.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		// Closed unread: the transport drops the connection rather than
		// read the rest.
		resp.Body.Close()
		resp.Body = &boundedBody{err: &AnswerTooLargeError{Limit: t.max, ContentLength: resp.ContentLength}}
		return resp, nil
	}
	resp.Body = &boundedBody{body: resp.Body, left: t.max, limit: t.max}
	return resp, nil
}

// CloseIdleConnections closes t.tr's idle connections (http.Client's
// CloseIdleConnections calls it).
func (t *boundedTransport) CloseIdleConnections() { t.tr.CloseIdleConnections() }

// boundedBody reads body until left bytes are read; a byte more is err,
// an [AnswerTooLargeError], from then on.
type boundedBody struct {
	body  io.ReadCloser // nil when refused by its Content-Length
	left  int64
	limit int64
	err   error
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the bound tells an answer that ends there from a longer one
	}
	n, err := b.body.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = 0
		b.err = &AnswerTooLargeError{Limit: b.limit, ContentLength: -1}
		return n, b.err
	}
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error {
	if b.body == nil {
		return nil
	}
	return b.body.Close()
}

// Close releases the client's connections and zeroises its RSA key (best
// effort). It does not close the NSM.
func (c *Client) Close() error {
	c.keys.close()
	c.http.CloseIdleConnections()
	return nil
}

// RotateKey replaces the RSA key now (the schedule continues from here).
func (c *Client) RotateKey() error { return c.keys.rotate() }

// recipientFor acquires the current key and a fresh attestation document
// carrying its public key.
func (c *Client) recipientFor() (*ringKey, *types.RecipientInfo, error) {
	rk, err := c.keys.acquire()
	if err != nil {
		return nil, nil, err
	}
	doc, err := c.nsm.Attestation(nil, nil, rk.spki)
	if err != nil {
		c.keys.release(rk)
		return nil, nil, fmt.Errorf("agent: attestation document: %w", err)
	}
	return rk, &types.RecipientInfo{
		AttestationDocument:    doc,
		KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256,
	}, nil
}

// withRecipient is the round trip every operation shares: it takes the
// current key and a fresh attestation document carrying its public key,
// runs call with them as Recipient within the client's timeout, and opens
// the CiphertextForRecipient that fields picks from the response (refusing
// a response that carries plaintext, and a plaintext that valid, also
// picked by fields, refuses).
func withRecipient[O any](ctx context.Context, c *Client, op string,
	call func(context.Context, *types.RecipientInfo) (O, error),
	fields func(O) (plaintext, cfr []byte, valid func([]byte) bool)) (O, []byte, error) {
	var zero O
	rk, rcpt, err := c.recipientFor()
	if err != nil {
		return zero, nil, err
	}
	defer c.keys.release(rk)
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	out, err := call(ctx, rcpt)
	if err != nil {
		return zero, nil, fmt.Errorf("agent: %s: %w", op, err)
	}
	plaintext, cfr, valid := fields(out)
	pt, err := c.open(rk, "agent: "+op, plaintext, cfr, valid)
	if err != nil {
		return zero, nil, err
	}
	return out, pt, nil
}

// open checks the response for the fail-closed conditions and opens
// CiphertextForRecipient with rk, then checks the plaintext with valid.
//
// Nothing the parent instance can observe afterwards depends on whether
// the envelope opened: every failure to open, or to open to a plaintext
// that valid accepts, is the same [ErrRecipientOpen] without detail, and
// the key stays in use until its scheduled rotation (see keyring). A
// parent that tampers with envelopes learns only what it sent.
func (c *Client) open(rk *ringKey, op string, plaintext, cfr []byte, valid func([]byte) bool) ([]byte, error) {
	if len(plaintext) != 0 {
		clear(plaintext)
		return nil, fmt.Errorf("%s: %w", op, ErrPlaintextInResponse)
	}
	if len(cfr) == 0 {
		return nil, fmt.Errorf("%s: %w", op, ErrNoCiphertextForRecipient)
	}
	pt, err := recipient.Open(rk.priv, cfr)
	if err != nil || !valid(pt) {
		clear(pt)
		return nil, fmt.Errorf("%s: %w", op, ErrRecipientOpen)
	}
	return pt, nil
}

// checkKeyAccount checks a response's KeyId against Config.KMSAccount.
func (c *Client) checkKeyAccount(op string, requested, got *string) error {
	return checkKeyAccount(c.account, op, aws.ToString(requested), aws.ToString(got))
}

func (c *Client) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// DataKey is a data key: Plaintext for use inside the enclave, and
// CiphertextBlob to store and later [Client.Decrypt].
type DataKey struct {
	KeyID          string
	CiphertextBlob []byte
	Plaintext      []byte
}

// GenerateDataKey calls KMS GenerateDataKey with in's fields (KeyId,
// KeySpec or NumberOfBytes, EncryptionContext, GrantTokens, DryRun) and
// Recipient set to a fresh attestation document (any Recipient in in is
// replaced); it returns the data key opened from CiphertextForRecipient,
// which must be as long as KeySpec or NumberOfBytes says ([ErrRecipientOpen]
// otherwise; a request with neither, or both, gets no data key).
// KMS errors are returned wrapped (errors.As a smithy.APIError for the
// KMS error code).
func (c *Client) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput) (*DataKey, error) {
	req := kms.GenerateDataKeyInput{}
	if in != nil {
		req = *in
	}
	want := dataKeySize(req.KeySpec, req.NumberOfBytes)
	out, pt, err := withRecipient(ctx, c, "GenerateDataKey",
		func(ctx context.Context, r *types.RecipientInfo) (*kms.GenerateDataKeyOutput, error) {
			req.Recipient = r
			out, err := c.kms.GenerateDataKey(ctx, &req)
			if err == nil {
				err = c.checkKeyAccount("GenerateDataKey", req.KeyId, out.KeyId)
			}
			return out, err
		},
		func(o *kms.GenerateDataKeyOutput) ([]byte, []byte, func([]byte) bool) {
			return o.Plaintext, o.CiphertextForRecipient, func(pt []byte) bool { return len(pt) == want }
		})
	if err != nil {
		return nil, err
	}
	return &DataKey{KeyID: aws.ToString(out.KeyId), CiphertextBlob: out.CiphertextBlob, Plaintext: pt}, nil
}

// Decrypted is the result of [Client.Decrypt].
type Decrypted struct {
	KeyID               string
	EncryptionAlgorithm string
	Plaintext           []byte
}

// Decrypt calls KMS Decrypt with in's fields and Recipient set to a fresh
// attestation document, and returns the plaintext opened from
// CiphertextForRecipient (1 to 4096 bytes, as KMS plaintexts are).
//
// in.KeyId is required ([KeyIDRequiredError] otherwise, before anything is
// sent): the CiphertextBlob is stored outside the enclave, where the parent
// instance can replace it with one under another key it may use, and
// without KeyId KMS would decrypt that. Give the key ARN that encrypted the
// blob, from the enclave's image or configuration (not stored beside the
// blob); with [Config.KMSAccount] set, the answer's KeyId must then be that
// ARN. An alias is only as fixed as the permission to move it
// (kms:UpdateAlias).
//
// Decrypt cannot know the plaintext's length in advance: over plain HTTP a
// tampered envelope whose padding happens to stay valid is returned as a
// plaintext of another value or length, and what the application then does
// with it is its own signal to the parent (see the package documentation).
func (c *Client) Decrypt(ctx context.Context, in *kms.DecryptInput) (*Decrypted, error) {
	req := kms.DecryptInput{}
	if in != nil {
		req = *in
	}
	if aws.ToString(req.KeyId) == "" {
		return nil, &KeyIDRequiredError{Op: "Decrypt", Field: "KeyId"}
	}
	out, pt, err := withRecipient(ctx, c, "Decrypt",
		func(ctx context.Context, r *types.RecipientInfo) (*kms.DecryptOutput, error) {
			req.Recipient = r
			out, err := c.kms.Decrypt(ctx, &req)
			if err == nil {
				err = c.checkKeyAccount("Decrypt", req.KeyId, out.KeyId)
			}
			return out, err
		},
		func(o *kms.DecryptOutput) ([]byte, []byte, func([]byte) bool) {
			return o.Plaintext, o.CiphertextForRecipient, func(pt []byte) bool { return len(pt) >= 1 && len(pt) <= maxKMSPlaintext }
		})
	if err != nil {
		return nil, err
	}
	return &Decrypted{KeyID: aws.ToString(out.KeyId), EncryptionAlgorithm: string(out.EncryptionAlgorithm), Plaintext: pt}, nil
}

// GenerateRandom calls KMS GenerateRandom for n bytes with Recipient and
// returns the random bytes opened from CiphertextForRecipient.
func (c *Client) GenerateRandom(ctx context.Context, n int) ([]byte, error) {
	if n < 1 || n > 1024 {
		return nil, fmt.Errorf("agent: GenerateRandom: %d bytes: want 1 to 1024", n)
	}
	_, pt, err := withRecipient(ctx, c, "GenerateRandom",
		func(ctx context.Context, r *types.RecipientInfo) (*kms.GenerateRandomOutput, error) {
			return c.kms.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(int32(n)), Recipient: r})
		},
		func(o *kms.GenerateRandomOutput) ([]byte, []byte, func([]byte) bool) {
			return o.Plaintext, o.CiphertextForRecipient, func(pt []byte) bool { return len(pt) == n }
		})
	return pt, err
}

// DataKeyPair is the result of [Client.GenerateDataKeyPair].
type DataKeyPair struct {
	KeyID                    string
	KeyPairSpec              string
	PublicKey                []byte // DER SubjectPublicKeyInfo
	PrivateKeyCiphertextBlob []byte
	PrivateKeyPlaintext      []byte // DER PKCS#8, opened inside the enclave
}

// GenerateDataKeyPair calls KMS GenerateDataKeyPair with Recipient and
// returns the private key opened from CiphertextForRecipient. The private
// key must be a PKCS #8 key of the KeyPairSpec asked for, and, for RSA, the
// NIST curves and Ed25519, match the response's PublicKey ([ErrRecipientOpen]
// otherwise).
func (c *Client) GenerateDataKeyPair(ctx context.Context, in *kms.GenerateDataKeyPairInput) (*DataKeyPair, error) {
	req := kms.GenerateDataKeyPairInput{}
	if in != nil {
		req = *in
	}
	out, pt, err := withRecipient(ctx, c, "GenerateDataKeyPair",
		func(ctx context.Context, r *types.RecipientInfo) (*kms.GenerateDataKeyPairOutput, error) {
			req.Recipient = r
			out, err := c.kms.GenerateDataKeyPair(ctx, &req)
			if err == nil {
				err = c.checkKeyAccount("GenerateDataKeyPair", req.KeyId, out.KeyId)
			}
			return out, err
		},
		func(o *kms.GenerateDataKeyPairOutput) ([]byte, []byte, func([]byte) bool) {
			return o.PrivateKeyPlaintext, o.CiphertextForRecipient, func(pt []byte) bool {
				return o.KeyPairSpec == req.KeyPairSpec && keyPairMatches(string(req.KeyPairSpec), pt, o.PublicKey)
			}
		})
	if err != nil {
		return nil, err
	}
	return &DataKeyPair{
		KeyID: aws.ToString(out.KeyId), KeyPairSpec: string(out.KeyPairSpec), PublicKey: out.PublicKey,
		PrivateKeyCiphertextBlob: out.PrivateKeyCiphertextBlob, PrivateKeyPlaintext: pt,
	}, nil
}

// DeriveSharedSecret calls KMS DeriveSharedSecret (ECDH between a
// KEY_AGREEMENT key and in.PublicKey) with Recipient, and returns the shared
// secret opened from CiphertextForRecipient: 32, 48 or 66 bytes, as the
// curves KMS supports give ([ErrRecipientOpen] otherwise).
func (c *Client) DeriveSharedSecret(ctx context.Context, in *kms.DeriveSharedSecretInput) ([]byte, error) {
	req := kms.DeriveSharedSecretInput{}
	if in != nil {
		req = *in
	}
	_, secret, err := withRecipient(ctx, c, "DeriveSharedSecret",
		func(ctx context.Context, r *types.RecipientInfo) (*kms.DeriveSharedSecretOutput, error) {
			req.Recipient = r
			out, err := c.kms.DeriveSharedSecret(ctx, &req)
			if err == nil {
				err = c.checkKeyAccount("DeriveSharedSecret", req.KeyId, out.KeyId)
			}
			return out, err
		},
		func(o *kms.DeriveSharedSecretOutput) ([]byte, []byte, func([]byte) bool) {
			return o.SharedSecret, o.CiphertextForRecipient, func(pt []byte) bool { return sharedSecretSize(len(pt)) }
		})
	return secret, err
}
