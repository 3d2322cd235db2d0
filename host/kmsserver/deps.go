// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"fmt"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
)

// docVerifier verifies Recipient attestation documents with the shared
// attestation.Verifier (warm chain cache) and the server's policy.
type docVerifier struct {
	v          *attestation.Verifier
	maxAge     time.Duration
	allowDebug bool
}

func newDocVerifier(cfg *Config) (*docVerifier, error) {
	v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: cfg.AttestationRoots})
	if err != nil {
		return nil, fmt.Errorf("%w: AttestationRoots: %v", ErrConfig, err)
	}
	return &docVerifier{
		v:          v,
		maxAge:     cfg.MaxDocumentAge,
		allowDebug: cfg.AllowDebugEnclaves,
	}, nil
}

// verify checks signature, chain to the configured roots, certificate
// validity and freshness at now, and debug mode unless allowed. PCRs are
// not checked here: key policies decide about them.
func (d *docVerifier) verify(doc []byte, now time.Time) (*attestation.Document, error) {
	return d.v.Verify(doc, attestation.Options{CurrentTime: now, MaxAge: d.maxAge, AllowDebugUnsafe: d.allowDebug})
}
