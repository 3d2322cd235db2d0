// SPDX-License-Identifier: Apache-2.0

// Package kmsconfig reads and writes the kms-server's YAML configuration
// file and turns it into a [kmsserver.Config].
//
// A starter file, as `kms-server init` writes it:
//
//	listen: 127.0.0.1:7700
//	metrics_listen: 127.0.0.1:7701
//	region: us-east-1
//	account_id: "111122223333"
//	key_store_dir: /path/keys
//	root_key_file: /path/root.key    # 64 hex digits (32 bytes), mode 0600
//	# root_key_env: KMS_ROOT_KEY     # or: the hex root key in this variable
//	access_keys:
//	  - id: AKIA...
//	    secret: ...
//	    principal: arn:aws:iam::111122223333:user/admin
//	    policy:                      # identity policy (IAM grammar, no Principal)
//	      Version: "2012-10-17"
//	      Statement:
//	        - {Effect: Allow, Action: "kms:*", Resource: "*"}
//	attestation:
//	  roots: []            # PEM files; empty trusts the AWS Nitro root only
//	  max_age: 5m
//	  allow_debug_unsafe: false  # (allow_debug: deprecated spelling, warns)
//	audit_log: /path/audit.jsonl      # "-" for standard output
//	tls:                              # HTTPS; cert and key are read again on SIGHUP
//	  cert: tls-cert.pem
//	  key: tls-key.pem
//	  client_ca: clients.pem          # optional: require client certificates it signed
//	# insecure_http_unsafe: true      # plain HTTP on a non-loopback listen address
//
// Optional settings, with their defaults:
//
//	max_concurrent_key_generations: 0  # RSA key generations at once; 0 = half the CPUs
//	key_usage_flush_interval: 1m       # last usage written to the store; 1s to 24h
//	request_timeout: 10s               # then DependencyTimeoutException; 100ms to below 30s
//	max_connections: 4096              # KMS connections open at once (then they wait); 1 to 1000000
//
// Several replicas share their keys through PostgreSQL instead of a
// directory: replace key_store_dir with a postgres block (every replica gets
// the same database and the same root key):
//
//	postgres:
//	  url_env: KMS_POSTGRES_URL      # or url: postgres://user:pw@host:5432/db?sslmode=verify-full
//	  max_conns: 16                  # connection pool size per replica
//	  operation_timeout: 5s          # then DependencyTimeoutException
//	  cached_reads_on_outage: false  # true: serve Decrypt/GenerateDataKey for cached keys while the database is down
//	  cached_reads_max_age: 5m
//
// Unknown fields are errors, and so are YAML aliases (*name). Relative
// paths are relative to the file.
//
// [File.OpenStore] opens the key store the file names (the directory, or
// PostgreSQL); [File.ServerConfig] builds the server configuration around
// it. The server itself does no I/O until it listens.
package kmsconfig

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
	"github.com/enclavekit/enclavekit/internal/atomicfile"
	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/strictyaml"
)

// ErrConfig reports an invalid configuration file.
var ErrConfig = errors.New("kmsconfig: invalid configuration")

// The bounds of key_usage_flush_interval. Below a second, every request
// would write to the store again; past a day, a crash loses a day of usage
// and other replicas see a use a day late.
const (
	MinKeyUsageFlushInterval = time.Second
	MaxKeyUsageFlushInterval = 24 * time.Hour
)

// The bounds of request_timeout: below MinRequestTimeout a store's
// ordinary round trips would fail; from kmsserver.WriteTimeout on, the
// answer could not be written.
const (
	MinRequestTimeout = 100 * time.Millisecond
	MaxRequestTimeout = kmsserver.WriteTimeout - time.Millisecond
)

// MaxMaxConnections is the largest max_connections: beyond it the bound
// is no bound (a million held connections cost tens of GiB).
const MaxMaxConnections = 1_000_000

// ErrFileMode reports a file holding secrets (the configuration file with
// access keys or a database password, the root key file, a TLS private
// key) that group or others can access; chmod 600 it. It also matches
// [ErrConfig] when it comes as a [FileError].
var ErrFileMode = errors.New("kmsconfig: a file holding secrets is accessible by group or others")

// ErrNoRootKey reports a root_key_file that does not exist (it also
// matches [ErrConfig]).
var ErrNoRootKey = errors.New("kmsconfig: root key file not found")

// File is the configuration file's content.
type File struct {
	Listen        string      `yaml:"listen"`
	MetricsListen string      `yaml:"metrics_listen"`
	Region        string      `yaml:"region"`
	AccountID     string      `yaml:"account_id"`
	KeyStoreDir   string      `yaml:"key_store_dir"`
	Postgres      *Postgres   `yaml:"postgres"`
	RootKeyFile   string      `yaml:"root_key_file"`
	RootKeyEnv    string      `yaml:"root_key_env"`
	AccessKeys    []AccessKey `yaml:"access_keys"`
	Attestation   Attestation `yaml:"attestation"`
	AuditLog      string      `yaml:"audit_log"`
	// TLS serves the KMS listener over TLS (tls: {cert, key, client_ca}).
	TLS *TLS `yaml:"tls"`
	// InsecureHTTPUnsafe (insecure_http_unsafe) allows plain HTTP on a
	// listen address that is not loopback; see
	// kmsserver.Config.InsecureHTTPUnsafe.
	InsecureHTTPUnsafe bool `yaml:"insecure_http_unsafe"`
	// MaxConcurrentKeyGenerations (max_concurrent_key_generations) bounds
	// the RSA key generations running at once; see
	// kmsserver.Config.MaxConcurrentKeyGenerations.
	MaxConcurrentKeyGenerations int `yaml:"max_concurrent_key_generations"`
	// KeyUsageFlushInterval (key_usage_flush_interval) is how often the
	// keys' last usage (GetKeyLastUsage) is written to the store, from
	// [MinKeyUsageFlushInterval] to [MaxKeyUsageFlushInterval]; nil (left
	// out) is the server's default, 1 minute. See
	// kmsserver.Config.KeyUsageFlushInterval.
	KeyUsageFlushInterval *time.Duration `yaml:"key_usage_flush_interval"`
	// RequestTimeout (request_timeout) bounds each request's operation: a
	// key store that has not answered by then makes it fail with
	// DependencyTimeoutException. From [MinRequestTimeout] to
	// [MaxRequestTimeout] (below the 30 s write timeout); nil (left out) is
	// the server's default, 10 seconds. See kmsserver.Config.RequestTimeout.
	RequestTimeout *time.Duration `yaml:"request_timeout"`
	// MaxConnections (max_connections) bounds the KMS listener's
	// connections open at once; one more waits until another closes. From
	// 1 to [MaxMaxConnections]; nil (left out) is the server's default,
	// kmsserver.DefaultMaxConnections (4096). See
	// kmsserver.Config.MaxConnections.
	MaxConnections *int `yaml:"max_connections"`

	// Warnings lists deprecated settings Load found (for the caller to
	// log); they still take effect.
	Warnings []string `yaml:"-"`

	dir   string           // directory of the file, for relative paths
	cert  *Certificate     // loaded by Certificate, once
	file  string           // the path Load read, for errors
	lines strictyaml.Lines // where each key is, for errors
}

// Postgres selects the PostgreSQL key store (package keystore/postgres).
type Postgres struct {
	// URL is the connection URL; URLEnv names an environment variable
	// holding it instead (keeps the password out of the file).
	URL    string `yaml:"url"`
	URLEnv string `yaml:"url_env"`
	// MaxConns bounds the connection pool of this replica (default 16).
	MaxConns int32 `yaml:"max_conns"`
	// OperationTimeout bounds each store operation (default 5s); past it
	// the request fails with DependencyTimeoutException.
	OperationTimeout time.Duration `yaml:"operation_timeout"`
	// CachedReadsOnOutage lets this replica serve Decrypt and
	// GenerateDataKey for keys it has read before while the database is
	// unreachable (default false: those requests fail too). A key disabled
	// during the outage then stays usable here until the database returns.
	CachedReadsOnOutage bool `yaml:"cached_reads_on_outage"`
	// CachedReadsMaxAge bounds how long after this replica last read a
	// record it may be served from the cache (default 5m, at most 1h).
	CachedReadsMaxAge time.Duration `yaml:"cached_reads_max_age"`
}

// StoreConfig returns the PostgreSQL store configuration, nil when the
// file uses key_store_dir.
func (f *File) StoreConfig() (*postgres.Config, error) {
	p := f.Postgres
	if p == nil {
		return nil, nil
	}
	u := p.URL
	switch {
	case p.URL != "" && p.URLEnv != "":
		return nil, f.errorf("postgres", "set url or url_env, not both")
	case p.URLEnv != "":
		u = os.Getenv(p.URLEnv)
		if u == "" {
			return nil, f.errorf("postgres.url_env", "$%s is empty", p.URLEnv)
		}
	case u == "":
		return nil, f.errorf("postgres", "url or url_env is required")
	}
	if p.MaxConns < 0 || p.OperationTimeout < 0 || p.CachedReadsMaxAge < 0 {
		return nil, f.errorf("postgres", "negative limit")
	}
	if p.CachedReadsMaxAge > postgres.MaxCachedReadsMaxAge {
		return nil, f.errorf("postgres.cached_reads_max_age", "%s is more than the %s allowed", p.CachedReadsMaxAge, postgres.MaxCachedReadsMaxAge)
	}
	return &postgres.Config{URL: u, MaxConns: p.MaxConns, OperationTimeout: p.OperationTimeout,
		CachedReadsOnOutage: p.CachedReadsOnOutage, CachedReadsMaxAge: p.CachedReadsMaxAge}, nil
}

// AccessKey is one accepted SigV4 credential.
type AccessKey struct {
	ID        string `yaml:"id"`
	Secret    string `yaml:"secret"`
	Principal string `yaml:"principal"`
	// Policy is the principal's identity policy (required): what it may
	// do at all, evaluated together with each key's key policy.
	Policy *IdentityPolicy `yaml:"policy"`
}

// Attestation configures Recipient verification.
type Attestation struct {
	// Roots are PEM files of trusted roots; empty trusts the AWS Nitro
	// Enclaves root only.
	Roots []string `yaml:"roots"`
	// MaxAge bounds the age of an attestation document (default 5m).
	MaxAge time.Duration `yaml:"max_age"`
	// AllowDebugUnsafe (allow_debug_unsafe) lets documents of debug-mode
	// enclaves reach key policies (kmsserver.Config.AllowDebugEnclavesUnsafe).
	AllowDebugUnsafe bool `yaml:"allow_debug_unsafe"`
	// AllowDebug is the deprecated spelling allow_debug: it still works
	// alone, and Load adds a warning; a file setting both spellings is
	// refused.
	AllowDebug *bool `yaml:"allow_debug"`
}

// FileError is a problem in the file's YAML: unknown keys and values of the
// wrong type, each with its line and key. It matches [ErrConfig].
type FileError struct {
	// Path is the file ("" for a File not read by Load).
	Path string
	// Err is a *strictyaml.Error, or strictyaml.Errors for several.
	Err error
	// Class, when set, is a sentinel the error also matches
	// ([ErrNoRootKey]).
	Class error
}

// Error returns one line per problem, each "PATH: line N: KEY: what".
func (e *FileError) Error() string {
	lines := strings.Split(e.Err.Error(), "\n")
	for i, l := range lines {
		if e.Path != "" {
			lines[i] = e.Path + ": " + l
		}
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns Err.
func (e *FileError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrConfig] or Class.
func (e *FileError) Is(target error) bool {
	return target == ErrConfig || (e.Class != nil && target == e.Class)
}

// errorf is a problem with key (a path such as "postgres.url_env" or
// "access_keys[1]"; "" for the file as a whole): a *FileError naming the
// file, the key's line and the key. It matches [ErrConfig].
func (f *File) errorf(key, format string, args ...any) error {
	return f.wrapf(key, nil, format, args...)
}

// wrapf is errorf for a problem that also matches class.
func (f *File) wrapf(key string, class error, format string, args ...any) error {
	return &FileError{Path: f.file, Err: &strictyaml.Error{Line: f.lines[key], Key: key, Msg: fmt.Sprintf(format, args...)}, Class: class}
}

// MaxFileSize bounds the configuration file and the files it names (root
// key, PEM certificates): a starter file is under 2 KiB, so a larger file
// is a mistaken path, refused before it is read.
const MaxFileSize = boundedfile.MiB

// Load reads and strictly decodes the file at path, refusing a path that
// is not a regular file or is larger than [MaxFileSize], and a file that
// holds secrets (access_keys, or a postgres.url with a password) while
// group or others can access it, as the root key file is refused (the
// mode is that of the file opened, not of a second lookup of path).
func Load(path string) (*File, error) {
	var access boundedfile.Access
	b, err := boundedfile.ReadCheck(path, MaxFileSize, func(fi fs.FileInfo) error {
		access = boundedfile.WhoCanAccess(fi)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var f File
	lines, err := strictyaml.DecodeLines(b, &f)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	f.file, f.lines = path, lines
	if access.Open {
		if key := f.secretKey(); key != "" {
			return nil, f.wrapf(key, ErrFileMode, "%s holds secrets (%s) and is accessible by group or others (%v); %s", path, key, access, access.Fix(path))
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f.dir = filepath.Dir(abs)
	if f.Listen == "" {
		f.Listen = "127.0.0.1:7700"
	}
	if f.MaxConcurrentKeyGenerations < 0 {
		return nil, f.errorf("max_concurrent_key_generations", "negative; leave it out (half the CPUs) or give at least 1")
	}
	if d := f.KeyUsageFlushInterval; d != nil && (*d < MinKeyUsageFlushInterval || *d > MaxKeyUsageFlushInterval) {
		return nil, f.errorf("key_usage_flush_interval", "%s is out of range: give a duration from 1s to 24h (such as 1m or 5m), or leave it out for the default 1m", *d)
	}
	if d := f.RequestTimeout; d != nil && (*d < MinRequestTimeout || *d > MaxRequestTimeout) {
		return nil, f.errorf("request_timeout", "%s is out of range: give a duration from %s to below the %s write timeout (such as 10s), or leave it out for the default %s",
			*d, MinRequestTimeout, kmsserver.WriteTimeout, kmsserver.DefaultRequestTimeout)
	}
	if n := f.MaxConnections; n != nil && (*n < 1 || *n > MaxMaxConnections) {
		return nil, f.errorf("max_connections", "%d is out of range: give a number of connections from 1 to %d (such as %d), or leave it out for the default %d",
			*n, MaxMaxConnections, kmsserver.DefaultMaxConnections, kmsserver.DefaultMaxConnections)
	}
	if a := f.Attestation.AllowDebug; a != nil {
		// Whatever the two say, a file naming both is refused: a leftover
		// allow_debug: true must not override an allow_debug_unsafe: false
		// that the reader of the file sees.
		if _, both := f.lines["attestation.allow_debug_unsafe"]; both {
			return nil, f.errorf("attestation.allow_debug", "both allow_debug_unsafe and its deprecated spelling allow_debug are set; delete the allow_debug line")
		}
		f.Attestation.AllowDebugUnsafe = *a
		f.Warnings = append(f.Warnings, "attestation: allow_debug is deprecated; rename it allow_debug_unsafe")
	}
	return &f, nil
}

// secretKey names the first setting of the file that holds a secret:
// access_keys (their SigV4 secrets) or a postgres.url carrying a
// password; "" when there is none.
func (f *File) secretKey() string {
	if len(f.AccessKeys) > 0 {
		return "access_keys"
	}
	if f.Postgres != nil && urlHasPassword(f.Postgres.URL) {
		return "postgres.url"
	}
	return ""
}

// urlHasPassword reports whether a PostgreSQL connection string (a URL or
// key=value settings) carries a password.
func urlHasPassword(s string) bool {
	if strings.Contains(strings.ToLower(s), "password=") {
		return true
	}
	u, err := url.Parse(s)
	if err != nil {
		// Unparsable: assume the worst if it looks like user:pw@host.
		return strings.Contains(s, "@")
	}
	_, ok := u.User.Password()
	return ok
}

func (f *File) path(p string) string {
	if p == "" || filepath.IsAbs(p) || p == "-" {
		return p
	}
	return filepath.Join(f.dir, p)
}

// RootKey reads the root key from root_key_file or root_key_env (64 hex
// digits, surrounding white space ignored).
func (f *File) RootKey() ([]byte, error) {
	var src, text string
	srcKey := "root_key_env"
	switch {
	case f.RootKeyFile != "" && f.RootKeyEnv != "":
		return nil, f.errorf("root_key_env", "set root_key_file or root_key_env, not both")
	case f.RootKeyFile != "":
		p := f.path(f.RootKeyFile)
		// The mode is that of the file opened and read (fstat), not of a
		// lookup of p before it, which a swap could pass.
		b, err := boundedfile.ReadCheck(p, MaxFileSize, func(fi fs.FileInfo) error {
			if a := boundedfile.WhoCanAccess(fi); a.Open {
				return f.wrapf("root_key_file", ErrFileMode, "%s is accessible by group or others (%v); %s", p, a, a.Fix(p))
			}
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			return nil, f.wrapf("root_key_file", ErrNoRootKey, "%s: root key file not found", p)
		}
		if err != nil {
			return nil, err
		}
		defer clear(b)
		src, text, srcKey = p, string(b), "root_key_file"
	case f.RootKeyEnv != "":
		src, text = "$"+f.RootKeyEnv, os.Getenv(f.RootKeyEnv)
	default:
		return nil, f.errorf("", "no root key (root_key_file or root_key_env)")
	}
	k, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil || len(k) != 32 {
		return nil, f.errorf(srcKey, "root key in %s must be 64 hex digits", src)
	}
	return k, nil
}

// OpenStore opens the key store the file names: the directory of
// key_store_dir (taking its lock), or the PostgreSQL database of postgres
// (creating or migrating its schema, within ctx). The caller closes it.
func (f *File) OpenStore(ctx context.Context) (keystore.Store, error) {
	pg, err := f.StoreConfig()
	if err != nil {
		return nil, err
	}
	switch {
	case pg != nil && f.KeyStoreDir != "":
		return nil, f.errorf("postgres", "set key_store_dir or postgres, not both")
	case pg != nil:
		return postgres.Open(ctx, pg)
	case f.KeyStoreDir == "":
		return nil, f.errorf("", "key_store_dir (or postgres) is required")
	}
	return keystore.OpenDir(f.path(f.KeyStoreDir))
}

// StoreName describes the key store for logs: the directory, or
// "postgres".
func (f *File) StoreName() string {
	if f.Postgres != nil {
		return "postgres"
	}
	return f.path(f.KeyStoreDir)
}

// ServerConfig builds the server configuration around store (see
// [File.OpenStore]). audit is where the audit log goes when the file names
// none (or "-").
func (f *File) ServerConfig(store keystore.Store, audit io.Writer) (*kmsserver.Config, error) {
	rk, err := f.RootKey()
	if err != nil {
		return nil, err
	}
	cfg := &kmsserver.Config{
		Store:                       store,
		RootKey:                     rk,
		AccessKeys:                  map[string]kmsserver.AccessKey{},
		Region:                      f.Region,
		AccountID:                   f.AccountID,
		MaxDocumentAge:              f.Attestation.MaxAge,
		AllowDebugEnclavesUnsafe:    f.Attestation.AllowDebugUnsafe,
		Listen:                      f.Listen,
		InsecureHTTPUnsafe:          f.InsecureHTTPUnsafe,
		MaxConcurrentKeyGenerations: f.MaxConcurrentKeyGenerations,
		AuditLog:                    audit,
	}
	if f.KeyUsageFlushInterval != nil {
		cfg.KeyUsageFlushInterval = *f.KeyUsageFlushInterval
	}
	if f.RequestTimeout != nil {
		cfg.RequestTimeout = *f.RequestTimeout
	}
	if f.MaxConnections != nil {
		cfg.MaxConnections = *f.MaxConnections
	}
	if f.TLS != nil {
		tc, err := f.tlsConfig()
		if err != nil {
			return nil, err
		}
		cfg.TLSConfig = tc
	}
	if f.MetricsListen != "off" {
		cfg.MetricsListen = f.MetricsListen
	}
	for i, k := range f.AccessKeys {
		if _, dup := cfg.AccessKeys[k.ID]; dup {
			return nil, f.errorf(fmt.Sprintf("access_keys[%d].id", i), "access key %s listed twice", k.ID)
		}
		if k.Policy == nil {
			return nil, f.errorf(fmt.Sprintf("access_keys[%d]", i), "(%s): policy is required: the principal's identity policy (see kms-server init)", k.ID)
		}
		if err := kmsserver.CheckPrincipalARN(k.Principal); err != nil {
			return nil, f.errorf(fmt.Sprintf("access_keys[%d].principal", i), "(%s): %v", k.ID, err)
		}
		cfg.AccessKeys[k.ID] = kmsserver.AccessKey{Secret: k.Secret, PrincipalARN: k.Principal, Policy: k.Policy.Text}
	}
	for i, p := range f.Attestation.Roots {
		certs, err := readPEMCerts(f.path(p))
		if err != nil {
			return nil, f.errorf(fmt.Sprintf("attestation.roots[%d]", i), "%s", err)
		}
		cfg.AttestationRoots = append(cfg.AttestationRoots, certs...)
	}
	return cfg, nil
}

// AuditPath returns the audit log path ("" or "-" for standard output).
func (f *File) AuditPath() string { return f.path(f.AuditLog) }

// readPEMCerts reads the PEM certificates in path; its errors start with
// the path.
func readPEMCerts(path string) ([]*x509.Certificate, error) {
	b, err := boundedfile.Read(path, MaxFileSize)
	if err != nil {
		return nil, errors.New(fileProblem(err))
	}
	out, err := attestation.ParseRootsPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return out, nil
}

// fileProblem says why a file could not be read, starting with its path:
// "PATH: no such file or directory" (not "open PATH: ..."), "PATH is a
// directory, not a regular file".
func fileProblem(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// existsError is [WriteStarter]'s refusal to overwrite a file; it matches
// [fs.ErrExist].
type existsError struct{ path string }

func (e *existsError) Error() string {
	return fmt.Sprintf("kmsconfig: %s exists; not overwriting it", e.path)
}

func (e *existsError) Is(target error) bool { return target == fs.ErrExist }

// Starter describes what [WriteStarter] wrote.
type Starter struct {
	ConfigPath, RootKeyPath, KeyStoreDir string
	// AccessKeyID, Secret and Principal are the administrator's: every kms
	// action (key policies still decide per key).
	AccessKeyID, Secret, Principal string
	// ParentAccessKeyID, ParentSecret and ParentPrincipal are the example
	// parent-role's, the credentials an enclave's parent instance holds:
	// GenerateDataKey and Decrypt with an attestation document, nothing
	// else.
	ParentAccessKeyID, ParentSecret, ParentPrincipal string
	// Listen is the KMS listener (HTTPS with the development certificate).
	Listen string
	// TLSCAPath is the development CA clients trust (aws --ca-bundle,
	// AWS_CA_BUNDLE, enclave-agent --kms-ca); TLSCertPath and TLSKeyPath
	// the server's certificate (127.0.0.1, ::1, localhost) and key.
	TLSCAPath, TLSCertPath, TLSKeyPath string
}

// WriteStarter writes a development configuration into dir: kms-server.yaml
// (0600, it holds secrets) with an administrator and a parent-role
// principal, root.key (0600, 32 random bytes as hex), the key store
// directory keys/, and a development CA (tls-ca.pem) with the server's
// certificate for 127.0.0.1, ::1 and localhost (tls-cert.pem, tls-key.pem
// 0600), so that development runs HTTPS too. It refuses to overwrite an
// existing file, with an error that matches [fs.ErrExist].
func WriteStarter(dir string, random io.Reader) (*Starter, error) {
	if random == nil {
		random = rand.Reader
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	st := &Starter{
		ConfigPath:  filepath.Join(abs, "kms-server.yaml"),
		RootKeyPath: filepath.Join(abs, "root.key"),
		KeyStoreDir: filepath.Join(abs, "keys"),
		Principal:   "arn:aws:iam::111122223333:user/dev",
		Listen:      "127.0.0.1:7700",

		ParentPrincipal: "arn:aws:iam::111122223333:role/parent-role",
		TLSCAPath:       filepath.Join(abs, "tls-ca.pem"),
		TLSCertPath:     filepath.Join(abs, "tls-cert.pem"),
		TLSKeyPath:      filepath.Join(abs, "tls-key.pem"),
	}
	for _, p := range []string{st.ConfigPath, st.RootKeyPath, st.TLSCAPath, st.TLSCertPath, st.TLSKeyPath} {
		if _, err := os.Stat(p); err == nil {
			return nil, &existsError{path: p}
		}
	}
	buf := make([]byte, 32+2*(16+20))
	if _, err := io.ReadFull(random, buf); err != nil {
		return nil, err
	}
	st.AccessKeyID, st.Secret = accessKey(buf[32:68])
	st.ParentAccessKeyID, st.ParentSecret = accessKey(buf[68:104])
	if err := os.MkdirAll(st.KeyStoreDir, 0o700); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(st.RootKeyPath, []byte(hex.EncodeToString(buf[:32])+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := writeDevTLS(random, time.Now(), st.TLSCAPath, st.TLSCertPath, st.TLSKeyPath); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`# kms-server configuration (development starter written by "kms-server init").
listen: %s
metrics_listen: 127.0.0.1:7701
region: us-east-1
account_id: "111122223333"
key_store_dir: keys
root_key_file: root.key
# HTTPS with a development certificate for 127.0.0.1, ::1 and localhost,
# signed by the development CA in tls-ca.pem: clients trust that file
# (aws --ca-bundle or AWS_CA_BUNDLE, enclave-agent --kms-ca). kms-server reads
# cert and key again on SIGHUP. Plain HTTP is refused on any address but
# loopback unless insecure_http_unsafe: true says otherwise.
tls:
  cert: tls-cert.pem
  key: tls-key.pem
  # client_ca: clients-ca.pem   # require client certificates it signed (mutual TLS)
access_keys:
  # The administrator: every kms action; key policies still decide per key.
  - id: %s
    secret: %s
    principal: %s
    policy:
      Version: "2012-10-17"
      Statement:
        - {Sid: Administer, Effect: Allow, Action: "kms:*", Resource: "*"}
  # The parent instance of an enclave holds these credentials, so treat them
  # as the attacker's: GenerateDataKey and Decrypt only, and only with an
  # attestation document (the key policy's attestation conditions decide
  # which enclave). No CreateKey, CreateAlias or ListKeys: it cannot squat
  # the alias an enclave image names.
  - id: %s
    secret: %s
    principal: %s
    policy:
      Version: "2012-10-17"
      Statement:
        - Sid: DataKeysForEnclaves
          Effect: Allow
          Action: [kms:GenerateDataKey, kms:Decrypt]
          Resource: "arn:aws:kms:*:111122223333:key/*"
        - Sid: OnlyWithAttestation
          Effect: Deny
          Action: "kms:*"
          Resource: "*"
          Condition: {"Null": {"kms:RecipientAttestation:ImageSha384": "true"}}
attestation:
  # PEM files of trusted roots; empty trusts only the AWS Nitro Enclaves root.
  # Add an emulator root only for development.
  roots: []
  max_age: 5m
  # true lets debug-mode enclaves (whose memory the parent can read) reach
  # key policies; leave it false outside development.
  allow_debug_unsafe: false
audit_log: audit.jsonl
`, st.Listen, st.AccessKeyID, st.Secret, st.Principal, st.ParentAccessKeyID, st.ParentSecret, st.ParentPrincipal)
	if err := atomicfile.Write(st.ConfigPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return st, nil
}

// accessKey makes an AWS-style access key ID (AKIA and 16 base-32 letters)
// and a 40-hex-digit secret from 36 random bytes.
func accessKey(b []byte) (id, secret string) {
	const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	out := []byte("AKIA")
	for _, c := range b[:16] {
		out = append(out, idAlphabet[int(c)%len(idAlphabet)])
	}
	return string(out), hex.EncodeToString(b[16:36])
}
