// SPDX-License-Identifier: Apache-2.0

package kmsserver

// The Recipient parameter: attestation document verification and sealing
// the response to the enclave's key.

import (
	"encoding/hex"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/recipient"
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
		return nil, err
	}
	return &docVerifier{
		v:          v,
		maxAge:     cfg.MaxDocumentAge,
		allowDebug: cfg.AllowDebugEnclavesUnsafe,
	}, nil
}

// verify checks signature, chain to the configured roots, certificate
// validity and freshness at now, and debug mode unless allowed. PCRs are
// not checked here: key policies decide about them.
func (d *docVerifier) verify(doc []byte, now time.Time) (*attestation.Document, error) {
	return d.v.Verify(doc, attestation.Options{CurrentTime: now, MaxAge: d.maxAge, AllowDebugUnsafe: d.allowDebug})
}

type recipientInfo struct {
	KeyEncryptionAlgorithm string `json:"KeyEncryptionAlgorithm"`
	AttestationDocument    []byte `json:"AttestationDocument"`
}

// checkRecipient verifies a Recipient parameter: algorithm, attestation
// document (signature, chain to the configured roots, freshness), and an RSA
// public key of 2048 to 4096 bits. nil ri gives nil.
func (s *Server) checkRecipient(c *call, ri *recipientInfo) (*attestation.Document, error) {
	if ri == nil {
		return nil, nil
	}
	if ri.KeyEncryptionAlgorithm != "RSAES_OAEP_SHA_256" {
		return nil, validation("1 validation error detected: Value '%s' at 'recipient.keyEncryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_OAEP_SHA_256]", ri.KeyEncryptionAlgorithm)
	}
	if len(ri.AttestationDocument) == 0 {
		return nil, validation("Recipient.AttestationDocument is required")
	}
	doc, err := s.verifier.verify(ri.AttestationDocument, c.now)
	if err != nil {
		msg := err.Error()
		if s.cfg.AttestationMessage != nil {
			msg = s.cfg.AttestationMessage(err)
		}
		return nil, validation("The attestation document in Recipient is not valid (%s): %s", attestation.ErrorCode(err), msg)
	}
	c.ev.AdditionalEventData = &additionalEventData{Recipient: &auditRecipient{
		AttestationDocumentModuleID:           doc.ModuleID,
		AttestationDocumentEnclaveImageDigest: hex.EncodeToString(doc.PCRs[0]),
	}}
	if len(doc.PublicKey) == 0 {
		return nil, validation("The attestation document in Recipient has no public_key")
	}
	// Exactly the checks recipient.Seal applies, so a key it would refuse is
	// the caller's ValidationException here, before any key is used.
	if _, err := recipient.ParsePublicKey(doc.PublicKey); err != nil {
		return nil, validation("The public_key of the attestation document must be an RSA key of 2048 to 4096 bits with an odd exponent of at least 65537: %v", err)
	}
	return doc, nil
}

// forRecipient encrypts plaintext to the attested public key.
func (s *Server) forRecipient(doc *attestation.Document, plaintext []byte) ([]byte, error) {
	return recipient.Seal(doc.PublicKey, plaintext, s.rand)
}
