// SPDX-License-Identifier: Apache-2.0

package kms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"regexp"
	"strings"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/host/kms/keystore"
	"github.com/enclavekit/enclavekit/host/kms/policy"
	"github.com/enclavekit/enclavekit/recipient"
)

const (
	specSymmetric = "SYMMETRIC_DEFAULT"
	usageEncrypt  = "ENCRYPT_DECRYPT"
	usageMAC      = "GENERATE_VERIFY_MAC"
	wrapLabel     = "enclavekit/kms key material v1\x00"
)

var (
	uuidPattern  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	aliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
)

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
		return a.KeyID, nil
	}
	return name, nil
}

// loadKey resolves ref and loads the key; the key ARN goes to the audit log.
func (s *Server) loadKey(c *call, ref string) (*keystore.Key, error) {
	id, err := s.resolveKeyID(c, ref)
	if err != nil {
		return nil, err
	}
	if !uuidPattern.MatchString(id) {
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

// material is a key's unwrapped material, cached for the process life (a
// key's material never changes).
type material struct {
	raw  []byte
	aead cipher.AEAD // nil for non-AES keys
}

func (s *Server) wrapMaterial(id string, raw []byte) ([]byte, error) {
	nonce := make([]byte, s.rootAEAD.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, err
	}
	return s.rootAEAD.Seal(nonce, nonce, raw, []byte(wrapLabel+id)), nil
}

func (s *Server) material(k *keystore.Key) (*material, error) {
	if m, ok := s.materials.Load(k.ID); ok {
		return m.(*material), nil
	}
	ns := s.rootAEAD.NonceSize()
	if len(k.WrappedMaterial) < ns {
		return nil, errors.New("kms: wrapped key material too short")
	}
	raw, err := s.rootAEAD.Open(nil, k.WrappedMaterial[:ns], k.WrappedMaterial[ns:], []byte(wrapLabel+k.ID))
	if err != nil {
		return nil, errors.New("kms: cannot unwrap key material (wrong root key?)")
	}
	m := &material{raw: raw}
	if k.KeySpec == specSymmetric {
		blk, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		m.aead, _ = cipher.NewGCM(blk)
	}
	actual, _ := s.materials.LoadOrStore(k.ID, m)
	return actual.(*material), nil
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
	pub, err := x509.ParsePKIXPublicKey(doc.PublicKey)
	if err != nil {
		return nil, validation("The public_key of the attestation document is not a DER SubjectPublicKeyInfo: %v", err)
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok || rk.N.BitLen() < 2048 || rk.N.BitLen() > 4096 {
		return nil, validation("The public_key of the attestation document must be an RSA key of 2048 to 4096 bits")
	}
	return doc, nil
}

// forRecipient encrypts plaintext to the attested public key.
func (s *Server) forRecipient(doc *attestation.Document, plaintext []byte) ([]byte, error) {
	return recipient.Seal(doc.PublicKey, plaintext, s.rand)
}
