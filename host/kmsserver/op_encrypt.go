// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Encrypt, Decrypt and ReEncrypt: ciphertext blobs under a symmetric key.

import (
	"github.com/enclavekit/enclavekit/host/kmsserver/keymaterial"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

const maxPlaintext = 4096

func checkAlgorithm(alg string) error {
	if alg != "" && alg != specSymmetric {
		return apiErr(CodeInvalidKeyUsage, "EncryptionAlgorithm %s is not valid for a symmetric encryption key; use SYMMETRIC_DEFAULT", alg)
	}
	return nil
}

func (s *Server) encrypt(c *call, body []byte) (any, error) {
	var in encryptInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Plaintext) == 0 || len(in.Plaintext) > maxPlaintext {
		return nil, validation("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and %d", maxPlaintext)
	}
	if isRSAEncryption(in.EncryptionAlgorithm) {
		return s.encryptRSA(c, &in)
	}
	k, m, err := s.useKey(c, in.KeyID, "kms:Encrypt", in.EncryptionContext, nil)
	if err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun("kms:Encrypt")
	}
	blob, err := s.sealBlob(k, m, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return encryptOutput{CiphertextBlob: blob, KeyID: s.keyARN(k.ID), EncryptionAlgorithm: specSymmetric}, nil
}

// openAny decrypts blob for the Decrypt and ReEncrypt source side.
func (s *Server) openAny(c *call, blob []byte, keyRef string, ec map[string]string, action string, doc *attestedRecipient) (*keystore.Key, []byte, error) {
	if len(blob) == 0 || len(blob) > 6144 {
		return nil, nil, validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	id, err := keymaterial.BlobKeyID(blob)
	if err != nil {
		return nil, nil, apiErr(CodeInvalidCiphertext, "The ciphertext is not a valid ciphertext blob of this service.")
	}
	// The request's KeyId is resolved before the authorization, which
	// takes kms:RequestAlias from it, but what it names is answered only
	// to a caller authorized for the ciphertext's key: otherwise
	// NotFoundException against IncorrectKeyException would tell anyone
	// which aliases exist and which key each names.
	var want string
	var refErr error
	if keyRef != "" {
		want, refErr = s.resolveKeyID(c, keyRef)
	}
	k, m, err := s.useKey(c, id, action, ec, doc)
	if err != nil {
		return nil, nil, err
	}
	if refErr != nil {
		return nil, nil, refErr
	}
	if keyRef != "" && want != id {
		return nil, nil, apiErr(CodeIncorrectKey, "The key ID in the request does not identify a KMS key that can perform this operation (the ciphertext was encrypted under a different key).")
	}
	if m, err = s.blobMaterial(k, m, blob); err != nil {
		return nil, nil, err
	}
	pt, err := keymaterial.OpenBlob(m.AEAD, blob, ec)
	if err != nil {
		return nil, nil, apiErr(CodeInvalidCiphertext, "The ciphertext or its encryption context is invalid (the encryption context must match exactly, case-sensitively).")
	}
	return k, pt, nil
}

func (s *Server) decrypt(c *call, body []byte) (any, error) {
	c.ctx = keystore.WithCachedReads(c.ctx) // a database backend may answer from its cache while down
	var in decryptInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if isRSAEncryption(in.EncryptionAlgorithm) {
		return s.decryptRSA(c, &in)
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	doc, err := s.checkRecipient(c, in.Recipient)
	if err != nil {
		return nil, err
	}
	// DryRun takes the real path (the key, the authorization, the KeyId
	// check, the blob itself) and stops before the answer.
	k, pt, err := s.openAny(c, in.CiphertextBlob, in.KeyID, in.EncryptionContext, "kms:Decrypt", doc)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun("kms:Decrypt")
	}
	out := decryptOutput{KeyID: s.keyARN(k.ID), EncryptionAlgorithm: specSymmetric}
	if doc != nil {
		if out.CiphertextForRecipient, err = s.forRecipient(doc, pt); err != nil {
			return nil, err
		}
		return out, nil
	}
	out.Plaintext = pt
	return out, nil
}

func (s *Server) reEncrypt(c *call, body []byte) (any, error) {
	var in reEncryptInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if isRSAEncryption(in.SourceEncryptionAlgorithm) || isRSAEncryption(in.DestinationEncryptionAlgorithm) {
		return s.reEncryptRSA(c, &in)
	}
	if err := checkAlgorithm(in.SourceEncryptionAlgorithm); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.DestinationEncryptionAlgorithm); err != nil {
		return nil, err
	}
	src, pt, err := s.openAny(c, in.CiphertextBlob, in.SourceKeyID, in.SourceEncryptionContext, "kms:ReEncryptFrom", nil)
	if err != nil {
		return nil, err
	}
	dst, m, err := s.useKey(c, in.DestinationKeyID, "kms:ReEncryptTo", in.DestinationEncryptionContext, nil)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun("kms:ReEncrypt")
	}
	blob, err := s.sealBlob(dst, m, pt, in.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	return reEncryptOutput{CiphertextBlob: blob, SourceKeyID: s.keyARN(src.ID), KeyID: s.keyARN(dst.ID),
		SourceEncryptionAlgorithm: specSymmetric, DestinationEncryptionAlgorithm: specSymmetric}, nil
}

type encryptInput struct {
	KeyID               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	DryRun              bool              `json:"DryRun"`
}

type encryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

type decryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	KeyID               string            `json:"KeyId"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	Recipient           *recipientInfo    `json:"Recipient"`
	DryRun              bool              `json:"DryRun"`
}

type decryptOutput struct {
	KeyID                  string `json:"KeyId"`
	Plaintext              []byte `json:"Plaintext,omitempty"`
	EncryptionAlgorithm    string `json:"EncryptionAlgorithm"`
	CiphertextForRecipient []byte `json:"CiphertextForRecipient,omitempty"`
}

type reEncryptInput struct {
	CiphertextBlob                 []byte            `json:"CiphertextBlob"`
	SourceEncryptionContext        map[string]string `json:"SourceEncryptionContext"`
	SourceKeyID                    string            `json:"SourceKeyId"`
	DestinationKeyID               string            `json:"DestinationKeyId"`
	DestinationEncryptionContext   map[string]string `json:"DestinationEncryptionContext"`
	SourceEncryptionAlgorithm      string            `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm string            `json:"DestinationEncryptionAlgorithm"`
	GrantTokens                    []string          `json:"GrantTokens"`
	DryRun                         bool              `json:"DryRun"`
}

type reEncryptOutput struct {
	CiphertextBlob                 []byte `json:"CiphertextBlob"`
	SourceKeyID                    string `json:"SourceKeyId"`
	KeyID                          string `json:"KeyId"`
	SourceEncryptionAlgorithm      string `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm string `json:"DestinationEncryptionAlgorithm"`
}
