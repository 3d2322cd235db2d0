// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
)

// AccessKey is one SigV4 credential the server accepts.
type AccessKey struct {
	// Secret is the secret access key.
	Secret string
	// PrincipalARN is the identity the key authenticates, used as the
	// Principal in key policies, e.g. "arn:aws:iam::111122223333:user/dev".
	PrincipalARN string
}

// Config configures a [Server]. Zero fields take the documented defaults;
// RootKey, AccessKeys and one of KeyStoreDir / Postgres / Store are required.
type Config struct {
	// KeyStoreDir is the directory of the embedded key store (see
	// keystore.OpenDir); ignored when Store is set.
	KeyStoreDir string
	// Store, when set, replaces the directory store (e.g. PostgreSQL). The
	// server does not close a Store it was given.
	Store keystore.Store
	// Postgres, when set (and Store is nil), selects the PostgreSQL key
	// store (package keystore/postgres) instead of KeyStoreDir, for several
	// replicas sharing one database. The server opens it (creating or
	// migrating the schema), owns it and closes it in Close. Its Clock
	// defaults to Clock.
	Postgres *postgres.Config
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
	// AllowDebugEnclaves accepts documents from debug-mode enclaves (PCR0,
	// PCR1 and PCR2 all zero) so that key policies decide about them (AWS
	// KMS's behaviour; a PCR condition then denies). Default false: such
	// documents are rejected outright.
	AllowDebugEnclaves bool
	// MaxClockSkew is the tolerated difference between X-Amz-Date and the
	// server clock; default 5 minutes as AWS.
	MaxClockSkew time.Duration
	// MaxBodyBytes bounds a request body; default 64 KiB.
	MaxBodyBytes int64
	// Clock returns the current time; default time.Now.
	Clock func() time.Time
	// Rand is the source of key material, nonces and IDs; default
	// crypto/rand.Reader.
	Rand io.Reader
	// AuditLog receives one JSON line per request; nil discards.
	AuditLog io.Writer
	// Logger receives operational logs; nil discards.
	Logger *slog.Logger
}

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
)

func (c *Config) withDefaults() (Config, error) {
	if c == nil {
		return Config{}, fmt.Errorf("%w: nil config", ErrConfig)
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
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.AuditLog == nil {
		cfg.AuditLog = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case !regionPattern.MatchString(cfg.Region):
		return Config{}, fmt.Errorf("%w: region %q", ErrConfig, cfg.Region)
	case !accountPattern.MatchString(cfg.AccountID):
		return Config{}, fmt.Errorf("%w: account ID %q must be 12 digits", ErrConfig, cfg.AccountID)
	case len(cfg.RootKey) != 32:
		return Config{}, fmt.Errorf("%w: root key must be 32 bytes, got %d", ErrConfig, len(cfg.RootKey))
	case len(cfg.AccessKeys) == 0:
		return Config{}, fmt.Errorf("%w: no access keys", ErrConfig)
	case cfg.Store == nil && cfg.KeyStoreDir == "" && cfg.Postgres == nil:
		return Config{}, fmt.Errorf("%w: no key store (set KeyStoreDir or Postgres)", ErrConfig)
	case cfg.Store == nil && cfg.KeyStoreDir != "" && cfg.Postgres != nil:
		return Config{}, fmt.Errorf("%w: set KeyStoreDir or Postgres, not both", ErrConfig)
	case cfg.MaxDocumentAge < 0 || cfg.MaxClockSkew < 0 || cfg.MaxBodyBytes < 0:
		return Config{}, fmt.Errorf("%w: negative limit", ErrConfig)
	}
	for id, k := range cfg.AccessKeys {
		if id == "" || k.Secret == "" || k.PrincipalARN == "" {
			return Config{}, fmt.Errorf("%w: access key %q needs a secret and a principal ARN", ErrConfig, id)
		}
	}
	return cfg, nil
}
