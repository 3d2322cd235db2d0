// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
	"github.com/enclavekit/enclavekit/internal/transport"
)

// AccessKey is one SigV4 credential the server accepts.
type AccessKey struct {
	// Secret is the secret access key.
	Secret string
	// PrincipalARN is the identity the key authenticates, used as the
	// Principal in key policies, e.g. "arn:aws:iam::111122223333:user/dev"
	// or "arn:aws:iam::111122223333:role/parent-role". An STS assumed-role
	// session ARN is refused (see [CheckPrincipalARN]): configure its role.
	PrincipalARN string
	// Policy is the principal's identity policy (IAM policy JSON without
	// Principal, see policy.ParseIdentity); required. Access keys of one
	// principal must carry the same policy. [FullAccessPolicy] allows every
	// kms action; key policies still decide per key.
	Policy string
}

// FullAccessPolicy is an identity policy allowing every kms action on every
// resource, for administrators and tests. Key policies still decide per key
// (a key policy that names the principal, or its account, must allow too),
// and account-level operations (CreateKey, CreateAlias, ListKeys, ...)
// become possible.
const FullAccessPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"FullAccess","Effect":"Allow","Action":"kms:*","Resource":"*"}]}`

// Config configures a [Server]. Zero fields take the documented defaults;
// Store, RootKey and AccessKeys are required.
type Config struct {
	// Store holds the keys and aliases: a keystore.Dir, a PostgreSQL store
	// (package keystore/postgres) or any other keystore.Store. The caller
	// opens it before [NewServer] and closes it after the server is done
	// (package kmsconfig does both for kms-server.yaml).
	Store keystore.Store
	// RootKey is the operator's 32-byte key under which every key's material
	// is sealed (AES-256-GCM) before it reaches the store.
	RootKey []byte
	// AccessKeys maps an access key ID to its secret and principal.
	AccessKeys map[string]AccessKey
	// Region is the SigV4 region and the region in ARNs; default "us-east-1".
	Region string
	// AccountID is the account in ARNs and in the default key policy;
	// default "111122223333".
	AccountID string
	// AttestationRoots are the roots attestation documents must chain to.
	// nil trusts the embedded AWS Nitro Enclaves root G1 only. Put an
	// emulator root here only for development: whoever holds its key can
	// mint documents with any PCRs.
	AttestationRoots []*x509.Certificate
	// MaxDocumentAge rejects attestation documents older than this at the
	// request time; default 5 minutes. KMS uses no nonce, so this bounds
	// how long a captured document (with its public key) stays usable.
	MaxDocumentAge time.Duration
	// AllowDebugEnclavesUnsafe accepts documents from debug-mode enclaves
	// (PCR0, PCR1 and PCR2 all zero) so that key policies decide about them
	// (AWS KMS's behaviour; a PCR condition then denies). A debug enclave's
	// memory is readable by the parent, so a key policy without a
	// condition on PCR0, PCR1 or PCR2 (or ImageSha384) then releases keys
	// to it: conditions on the other PCRs alone do not stop it, PCR8
	// included. Default false: such documents are rejected outright.
	AllowDebugEnclavesUnsafe bool
	// AttestationMessage, when set, words a refused Recipient attestation
	// document for the caller (the ValidationException message after the
	// error code) and the audit log, in the terms of the program that
	// configures the server: its configuration keys rather than this
	// package's fields (kms-server says "attestation.roots in
	// kms-server.yaml"). nil uses the attestation error's own message.
	AttestationMessage func(err error) string
	// MaxClockSkew is the tolerated difference between X-Amz-Date and the
	// server clock; default 5 minutes as AWS.
	MaxClockSkew time.Duration
	// MaxBodyBytes bounds a request body; default 64 KiB.
	MaxBodyBytes int64
	// MaxConcurrentKeyGenerations bounds the RSA key generations running
	// at once (CreateKey, GenerateDataKeyPair(WithoutPlaintext) and
	// GetParametersForImport make one per request, 1 to 2 s of CPU each
	// for RSA_4096); a request beyond it is refused at once with a
	// ThrottlingException, which the AWS SDKs retry. Default (0): half of
	// GOMAXPROCS, at least 1.
	MaxConcurrentKeyGenerations int

	// Listen is the KMS listen address of [Server.Listen]; default
	// "127.0.0.1:7700".
	Listen string
	// TLSConfig, when set, serves the KMS listener over TLS with it (a copy
	// whose MinVersion is at least TLS 1.2; Go prefers TLS 1.3). Give it a
	// GetCertificate that reloads the certificate to renew it without
	// dropping connections (package kmsconfig does, on SIGHUP); ClientCAs
	// with ClientAuth for mutual TLS. The listener serves HTTP/1.1 only,
	// as the AWS SDKs speak to KMS: "h2" is taken out of the copy's
	// NextProtos (a configuration from autocert offers it), so a client
	// offering h2 and http/1.1 negotiates http/1.1 and one offering only
	// h2 fails its handshake; HTTP/2's concurrent streams per connection
	// would escape [Config.MaxConnections]. Other protocols (autocert's
	// acme-tls/1) are left as they are.
	TLSConfig *tls.Config
	// InsecureHTTPUnsafe lets the KMS listener serve plain HTTP on an
	// address other than loopback. Unsafe: whoever is on the path (the
	// parent instance above all, when it relays an enclave's requests)
	// reads and changes every request and response. Without it, a
	// non-loopback Listen without TLSConfig is a configuration error.
	InsecureHTTPUnsafe bool
	// MaxConnections bounds the KMS listener's connections open at once,
	// counted from their accept (with TLS, before their handshake): one
	// beyond it is not accepted, so neither handshaken nor read, until
	// another closes; it waits in the kernel's accept queue, and its
	// client sees a slow answer rather than an error. Each open connection
	// costs a goroutine, its buffers and, with TLS, the connection's state.
	// A connection that never authenticates is held up to the listener's
	// timeouts: 10 s for its header; a request refused before its body is
	// read (no Authorization, an unknown access key ID, a stale
	// X-Amz-Date: what can be checked without the body) is answered as
	// soon as its header is in and, if it has a body, its connection
	// closed; a request that passes those checks (a configured access key
	// ID, which is no secret, and a current date) has its body read before
	// its signature can be checked, up to [Config.MaxBodyBytes] held for up
	// to the 30 s read timeout; a connection idle after a request is held
	// 120 s. Measured (heap and goroutine stacks): about 14 KiB per
	// connection that sends nothing, 17 KiB per plain-HTTP connection kept
	// alive after a request, 25 KiB per TLS one (1000 connections held
	// from another process), 93 KiB per plain-HTTP connection whose 64 KiB
	// body never finishes after such a header (200 connections, the
	// client in the same process, holding no buffers). Zero is
	// [DefaultMaxConnections], 4096: about 100 MiB when every connection is
	// held without a configured access key ID, about 370 MiB (plain HTTP;
	// more with TLS) when every one holds an unfinished 64 KiB body, far
	// above what one server's clients keep open (each AWS SDK client pools
	// a few) and below the usual file descriptor limits. Lower it, or
	// MaxBodyBytes, to lower that ceiling. Negative is a configuration
	// error. A flood of held connections then delays other clients (a
	// denial of service, which whoever reaches the listener can cause
	// anyway by filling the accept queue) but cannot grow the server's
	// memory without bound.
	MaxConnections int
	// MetricsListen is the address of the metrics and health endpoint
	// (/metrics, /healthz) of [Server.Listen]; "" serves none.
	MetricsListen string
	// ShutdownTimeout bounds how long [Server.Serve] waits for requests in
	// flight after its context ends; default 10 seconds.
	ShutdownTimeout time.Duration
	// RequestTimeout bounds each request's operation, from the
	// authenticated request until the operation returns: the deadline of
	// the context every key store call of the request gets (a Store must
	// honour it). A store that has not answered by then (a database
	// behind a network partition) makes the request fail with
	// DependencyTimeoutException (HTTP 503), as an unavailable store does,
	// instead of holding the request until the client gives up. Default 10
	// seconds; it must be below the KMS listener's write timeout
	// ([WriteTimeout], 30 seconds), past which the answer could not be
	// written. A store's own bound (keystore/postgres's OperationTimeout)
	// applies to each of its calls within it.
	RequestTimeout time.Duration
	// DeletionSweepInterval is how often [Server.Serve] destroys the keys
	// whose deletion date has passed (and once when it starts); default 1
	// hour. Until then such a key already answers NotFoundException.
	DeletionSweepInterval time.Duration
	// RotationSweepInterval is how often [Server.Serve] rotates the keys
	// whose automatic rotation is due (and once when it starts); default
	// 1 hour.
	RotationSweepInterval time.Duration
	// KeyUsageFlushInterval is how often [Server.Serve] writes the keys'
	// last usage (GetKeyLastUsage) to the store: at most one write per key
	// used per interval, and one more when Serve stops; default 1 minute.
	// A crash loses the usage of the last interval at most.
	KeyUsageFlushInterval time.Duration

	// Clock returns the current time; default time.Now.
	Clock func() time.Time
	// Rand is the source of key material, nonces and IDs; default
	// crypto/rand.Reader.
	Rand io.Reader
	// AuditLog receives one JSON line per request; nil discards.
	AuditLog io.Writer
	// Logger receives operational logs; nil discards.
	Logger *slog.Logger

	// sweepDone, when set (by tests), is called at the end of each sweep
	// of Serve's background loops with the loop's name ("deletion" or
	// "rotation"): the event a test waits on instead of a duration.
	sweepDone func(loop string)
}

// ErrConfig is matched (errors.Is) by every configuration error of
// [NewServer].
var ErrConfig = errors.New("kmsserver: invalid configuration")

// ErrPlainHTTP is matched (errors.Is), beside [ErrConfig], by the
// configuration error of a plain-HTTP listener on an address that is not
// loopback (no TLSConfig, no InsecureHTTPUnsafe).
var ErrPlainHTTP = errors.New("kmsserver: plain HTTP on an address that is not loopback")

// ConfigError is one problem in a [Config]: Setting names it in words
// ("root key", "access key \"AKIA...\""), Reason says what is wrong.
type ConfigError struct {
	Setting string
	Reason  string

	kind error // a sentinel it matches beside ErrConfig, or nil
}

func (e *ConfigError) Error() string { return "kmsserver: " + e.Setting + ": " + e.Reason }

// Is matches [ErrConfig], and [ErrPlainHTTP] for that refusal.
func (e *ConfigError) Is(target error) bool {
	return target == ErrConfig || (e.kind != nil && target == e.kind)
}

// ConfigErrors aggregates every problem found in a [Config], so that an
// operator sees them all at once. It matches [ErrConfig].
type ConfigErrors []error

func (e ConfigErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the individual errors.
func (e ConfigErrors) Unwrap() []error { return e }

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
)

// withDefaults returns c with defaults filled in, and every problem found.
func (c *Config) withDefaults() (Config, ConfigErrors) {
	if c == nil {
		return Config{}, ConfigErrors{&ConfigError{Setting: "config", Reason: "nil"}}
	}
	cfg := *c
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "111122223333"
	}
	if cfg.MaxDocumentAge == 0 {
		cfg.MaxDocumentAge = 5 * time.Minute
	}
	if cfg.MaxClockSkew == 0 {
		cfg.MaxClockSkew = 5 * time.Minute
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.MaxConcurrentKeyGenerations == 0 {
		cfg.MaxConcurrentKeyGenerations = defaultKeyGenerations()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:7700"
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.DeletionSweepInterval == 0 {
		cfg.DeletionSweepInterval = time.Hour
	}
	if cfg.RotationSweepInterval == 0 {
		cfg.RotationSweepInterval = time.Hour
	}
	if cfg.KeyUsageFlushInterval == 0 {
		cfg.KeyUsageFlushInterval = time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.AuditLog == nil {
		cfg.AuditLog = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var errs ConfigErrors
	bad := func(setting, format string, args ...any) {
		errs = append(errs, &ConfigError{Setting: setting, Reason: fmt.Sprintf(format, args...)})
	}
	if cfg.Store == nil {
		bad("key store", "none given (open a directory or PostgreSQL store first)")
	}
	if !regionPattern.MatchString(cfg.Region) {
		bad("region", "%q is not an AWS region name", cfg.Region)
	}
	if !accountPattern.MatchString(cfg.AccountID) {
		bad("account ID", "%q must be 12 digits", cfg.AccountID)
	}
	if len(cfg.RootKey) != 32 {
		bad("root key", "must be 32 bytes, got %d", len(cfg.RootKey))
	}
	if len(cfg.AccessKeys) == 0 {
		bad("access keys", "none configured")
	}
	if cfg.MaxDocumentAge < 0 {
		bad("maximum document age", "negative")
	}
	if cfg.MaxClockSkew < 0 {
		bad("maximum clock skew", "negative")
	}
	if cfg.MaxBodyBytes < 0 {
		bad("maximum body size", "negative")
	}
	if cfg.MaxConcurrentKeyGenerations < 0 {
		bad("maximum concurrent key generations", "negative")
		cfg.MaxConcurrentKeyGenerations = 1
	}
	if cfg.ShutdownTimeout < 0 {
		bad("shutdown timeout", "negative")
	}
	if cfg.MaxConnections < 0 {
		bad("maximum connections", "MaxConnections is negative (%d); 0 is the default, %d", cfg.MaxConnections, DefaultMaxConnections)
	}
	if cfg.RequestTimeout < 0 {
		bad("request timeout", "negative")
	} else if cfg.RequestTimeout >= WriteTimeout {
		bad("request timeout", "%s is not below the write timeout of %s, past which the answer could not be written", cfg.RequestTimeout, WriteTimeout)
	}
	if cfg.RotationSweepInterval < 0 {
		bad("rotation sweep interval", "negative")
	}
	if cfg.DeletionSweepInterval < 0 {
		bad("deletion sweep interval", "negative")
	}
	if cfg.KeyUsageFlushInterval < 0 {
		bad("key usage flush interval", "negative")
	}
	if cfg.TLSConfig == nil && !cfg.InsecureHTTPUnsafe && !isLoopback(cfg.Listen) {
		errs = append(errs, &ConfigError{Setting: "listen", kind: ErrPlainHTTP, Reason: fmt.Sprintf("plain HTTP on %s, which is not a loopback address: configure TLS (tls: cert and key, or --tls-cert and --tls-key), or allow it explicitly with insecure_http_unsafe", cfg.Listen)})
	}
	ids := make([]string, 0, len(cfg.AccessKeys))
	for id := range cfg.AccessKeys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	policies := map[string]string{} // principal → identity policy
	for _, id := range ids {
		k := cfg.AccessKeys[id]
		if id == "" || k.Secret == "" || k.PrincipalARN == "" {
			bad(fmt.Sprintf("access key %q", id), "needs an ID, a secret and a principal ARN")
		}
		if err := CheckPrincipalARN(k.PrincipalARN); err != nil {
			bad(fmt.Sprintf("access key %q", id), "%v", err)
		}
		if k.Policy == "" {
			bad(fmt.Sprintf("access key %q", id), "needs an identity policy (FullAccessPolicy allows every kms action)")
		} else if _, err := policy.ParseIdentity([]byte(k.Policy)); err != nil {
			bad(fmt.Sprintf("access key %q", id), "identity policy: %v", err)
		} else if other, ok := policies[k.PrincipalARN]; ok && other != k.Policy {
			bad(fmt.Sprintf("access key %q", id), "principal %s has another access key with a different identity policy", k.PrincipalARN)
		}
		policies[k.PrincipalARN] = k.Policy
	}
	return cfg, errs
}

// CheckPrincipalARN refuses an access key principal that key policies
// could not evaluate faithfully: an STS assumed-role session ARN
// (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION). AWS evaluates a
// session's aws:PrincipalArn as its role's ARN, path included, which the
// session ARN does not give; the error names the role ARN to configure
// instead. [NewServer] checks every access key with it.
func CheckPrincipalARN(arn string) error {
	if !policy.IsAssumedRoleSession(arn) {
		return nil
	}
	role := "arn:aws:iam::ACCOUNT:role/[PATH/]NAME"
	if f := strings.SplitN(arn, ":", 6); len(f) == 6 {
		name, _, _ := strings.Cut(f[5][len("assumed-role/"):], "/")
		role = "arn:" + f[1] + ":iam::" + f[4] + ":role/" + name
	}
	return fmt.Errorf("principal %s is an assumed-role session: key policies see a session as its role, "+
		"and its aws:PrincipalArn is the role's ARN with the role's path, which a session ARN does not give; "+
		"set principal to the role's ARN, %s (with the role's path, if it has one)", arn, role)
}

// isLoopback reports whether a listen address names a local endpoint only:
// a unix socket, or TCP on 127.0.0.0/8, ::1 or localhost. All interfaces
// (empty host), any other name or address, and vsock (reachable from the
// enclaves of the host) are not.
func isLoopback(addr string) bool {
	a, err := transport.ParseAddr(addr)
	if err != nil {
		return false
	}
	switch a.Network {
	case transport.NetworkUnix:
		return true
	case transport.NetworkTCP:
	default:
		return false
	}
	host, _, err := net.SplitHostPort(a.Address)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
