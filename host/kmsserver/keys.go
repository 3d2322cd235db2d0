// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"regexp"
	"strings"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
	"github.com/enclavekit/enclavekit/recipient"
)

const (
	specSymmetric = "SYMMETRIC_DEFAULT"
	usageEncrypt  = "ENCRYPT_DECRYPT"
	usageMAC      = "GENERATE_VERIFY_MAC"
	wrapLabel     = "enclavekit/kms key material v1\x00"
)

var aliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)

// isKeyID reports whether id is a lower-case UUID (8-4-4-4-12 hex digits),
// as ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ would,
// without a regexp match on every request.
func isKeyID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

func (s *Server) keyARN(id string) string {
	return "arn:aws:kms:" + s.cfg.Region + ":" + s.cfg.AccountID + ":key/" + id
}

func (s *Server) aliasARN(name string) string {
	return "arn:aws:kms:" + s.cfg.Region + ":" + s.cfg.AccountID + ":" + name
}

// resolveKeyID maps a key ID, key ARN, alias name or alias ARN to a key ID.
func (s *Server) resolveKeyID(c *call, ref string) (string, error) {
	if ref == "" {
		return "", validation("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	if len(ref) > 2048 {
		return "", validation("KeyId is longer than 2048 characters")
	}
	name := ref
	if rest, ok := strings.CutPrefix(ref, "arn:"); ok {
		// arn:<partition>:kms:<region>:<account>:key/<id> | alias/<name>
		parts := strings.SplitN(rest, ":", 5)
		if len(parts) != 5 || parts[1] != "kms" {
			return "", apiErr(CodeNotFound, "Invalid arn %s", ref)
		}
		if parts[2] != s.cfg.Region || parts[3] != s.cfg.AccountID {
			return "", apiErr(CodeNotFound, "Key '%s' does not exist", ref)
		}
		name = parts[4]
		if id, ok := strings.CutPrefix(name, "key/"); ok {
			return id, nil
		}
		if !strings.HasPrefix(name, "alias/") {
			return "", apiErr(CodeNotFound, "Invalid arn %s", ref)
		}
	}
	if strings.HasPrefix(name, "alias/") {
		a, err := s.store.GetAlias(c.ctx, name)
		if errors.Is(err, keystore.ErrNotFound) {
			return "", apiErr(CodeNotFound, "Alias %s is not found.", s.aliasARN(name))
		}
		if err != nil {
			return "", err
		}
		if !s.aliasValid(a) {
			return "", errAliasIntegrity
		}
		return a.KeyID, nil
	}
	return name, nil
}

// aliasMACLabel separates the alias MAC key from every other use of the
// root key.
const aliasMACLabel = "enclavekit kms-server alias record MAC v1"

// aliasMAC binds an alias name to its key ID under a key derived from the
// root key. Whoever can write to the key store but does not hold the root
// key cannot point an existing alias at another key (say, one whose policy
// they control, so that this account's GenerateDataKey by alias encrypts
// under a key they can use): the record fails [Server.aliasValid] and the
// alias is refused (KMSInternalException), as a tampered key record is.
func (s *Server) aliasMAC(name, keyID string) []byte {
	m := hmac.New(sha256.New, s.aliasKey)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(name)))
	m.Write(n[:])
	m.Write([]byte(name))
	m.Write([]byte(keyID))
	return m.Sum(nil)
}

// aliasValid reports whether a's MAC is the one this server would write.
func (s *Server) aliasValid(a keystore.Alias) bool {
	return hmac.Equal(a.MAC, s.aliasMAC(a.Name, a.KeyID))
}

var errAliasIntegrity = errors.New("kmsserver: alias record fails its integrity check (modified in the store, or a different root key)")

// loadKey resolves ref and loads the key; the key ARN goes to the audit log.
func (s *Server) loadKey(c *call, ref string) (*keystore.Key, error) {
	id, err := s.resolveKeyID(c, ref)
	if err != nil {
		return nil, err
	}
	if !isKeyID(id) {
		return nil, apiErr(CodeNotFound, "Key '%s' does not exist", s.keyARN(id))
	}
	k, err := s.store.GetKey(c.ctx, id)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, apiErr(CodeNotFound, "Key '%s' does not exist", s.keyARN(id))
	}
	if err != nil {
		return nil, err
	}
	if k.State == keystore.StatePendingDeletion && !c.now.Before(k.DeletionDate) {
		// The waiting period is over: the key is deleted as far as any
		// caller can tell (its record stays in the store).
		return nil, apiErr(CodeNotFound, "Key '%s' does not exist", s.keyARN(id))
	}
	if c.ev.KeyARN == "" {
		c.ev.KeyARN = s.keyARN(id)
	}
	// Nothing in the record (its policy above all) is trusted before the
	// root key vouches for it.
	if _, err := s.material(k); err != nil {
		s.cfg.Logger.Error("key record rejected", "key", s.keyARN(id), "error", err)
		return nil, err
	}
	return k, nil
}

// usable checks that k can be used for a cryptographic operation of
// ENCRYPT_DECRYPT usage.
func (s *Server) usable(k *keystore.Key) error {
	switch k.State {
	case keystore.StateEnabled:
	case keystore.StateDisabled:
		return apiErr(CodeDisabled, "%s is disabled.", s.keyARN(k.ID))
	case keystore.StatePendingDeletion:
		return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
	default:
		return apiErr(CodeInvalidState, "%s is in state %s.", s.keyARN(k.ID), k.State)
	}
	if k.KeySpec != specSymmetric || k.KeyUsage != usageEncrypt {
		return apiErr(CodeInvalidKeyUsage, "%s key usage is %s which is not valid for %s.", s.keyARN(k.ID), k.KeyUsage, "this operation")
	}
	return nil
}

// material is a key's unwrapped material. It is cached per key together
// with the wrapped bytes and the policy it was verified with, so a record
// changed in the store is verified again before use.
type material struct {
	raw     []byte
	aead    cipher.AEAD // nil for non-AES keys
	wrapped []byte
	policy  string
}

// wrapAAD binds the wrapped material to the key's identity and to the
// fields that decide who may use it: key ID, spec, usage and the SHA-256 of
// the key policy. Whoever can write to the key store but does not hold the
// root key cannot swap material between keys or loosen a key's policy: the
// record then fails to unwrap and the key is refused (KMSInternalException).
// Key state (Enabled/Disabled/PendingDeletion) is not bound.
func wrapAAD(k *keystore.Key) []byte {
	h := sha256.Sum256([]byte(k.Policy))
	aad := make([]byte, 0, len(wrapLabel)+len(k.ID)+len(k.KeySpec)+len(k.KeyUsage)+3+len(h))
	aad = append(aad, wrapLabel...)
	for _, f := range []string{k.ID, k.KeySpec, k.KeyUsage} {
		aad = append(aad, f...)
		aad = append(aad, 0)
	}
	return append(aad, h[:]...)
}

// wrapMaterial seals raw under the root key for k (see wrapAAD).
func (s *Server) wrapMaterial(k *keystore.Key, raw []byte) ([]byte, error) {
	nonce := make([]byte, s.rootAEAD.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, err
	}
	return s.rootAEAD.Seal(nonce, nonce, raw, wrapAAD(k)), nil
}

// unwrap opens k's material and so verifies the record's binding.
func (s *Server) unwrap(k *keystore.Key) ([]byte, error) {
	ns := s.rootAEAD.NonceSize()
	if len(k.WrappedMaterial) < ns {
		return nil, errIntegrity
	}
	raw, err := s.rootAEAD.Open(nil, k.WrappedMaterial[:ns], k.WrappedMaterial[ns:], wrapAAD(k))
	if err != nil {
		return nil, errIntegrity
	}
	return raw, nil
}

var errIntegrity = errors.New("kmsserver: key record fails its integrity check (modified in the store, or a different root key)")

// material returns k's unwrapped material, verifying the record first
// unless the same record was verified before.
func (s *Server) material(k *keystore.Key) (*material, error) {
	if v, ok := s.materials.Load(k.ID); ok {
		m := v.(*material)
		if m.policy == k.Policy && bytes.Equal(m.wrapped, k.WrappedMaterial) {
			return m, nil
		}
	}
	raw, err := s.unwrap(k)
	if err != nil {
		return nil, err
	}
	m := &material{raw: raw, wrapped: bytes.Clone(k.WrappedMaterial), policy: k.Policy}
	if k.KeySpec == specSymmetric {
		blk, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		m.aead, _ = cipher.NewGCM(blk)
	}
	s.materials.Store(k.ID, m)
	return m, nil
}

type cachedPolicy struct {
	text string
	pol  *policy.Policy
}

func (s *Server) policyOf(k *keystore.Key) (*policy.Policy, error) {
	if v, ok := s.policies.Load(k.ID); ok && v.(*cachedPolicy).text == k.Policy {
		return v.(*cachedPolicy).pol, nil
	}
	p, err := policy.Parse([]byte(k.Policy))
	if err != nil {
		return nil, err
	}
	s.policies.Store(k.ID, &cachedPolicy{text: k.Policy, pol: p})
	return p, nil
}

// authorize evaluates k's policy for the caller, action, encryption context
// and (for recipient requests) the verified attestation document.
func (s *Server) authorize(c *call, k *keystore.Key, action string, ec map[string]string, doc *attestation.Document) error {
	p, err := s.policyOf(k)
	if err != nil {
		return err // a stored policy that no longer parses is an internal error
	}
	d := p.Evaluate(s.policyRequest(c, k.ID, action, ec, doc))
	if c.ev.PolicyReason == "" || !d.Allowed {
		c.ev.PolicyReason = d.Reason
	}
	if !d.Allowed {
		return apiErr(CodeAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because %s",
			c.principal, action, s.keyARN(k.ID), d.Reason)
	}
	return nil
}

func (s *Server) policyRequest(c *call, id, action string, ec map[string]string, doc *attestation.Document) policy.Request {
	ctx := policy.AddEncryptionContext(nil, ec)
	if doc != nil {
		ctx = policy.AddAttestation(ctx, doc.PCRs)
	}
	return policy.Request{Principal: c.principal, Action: action, Resource: s.keyARN(id), Context: ctx}
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
		return nil, validation("The attestation document in Recipient is not valid (%s): %v", attestation.ErrorCode(err), err)
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
