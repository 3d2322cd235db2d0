// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"io"

	"github.com/enclavekit/enclavekit/attestation"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

const maxPlaintext = 4096

func checkAlgorithm(alg string) error {
	if alg != "" && alg != specSymmetric {
		return apiErr(CodeInvalidKeyUsage, "EncryptionAlgorithm %s is not valid for a symmetric encryption key; use SYMMETRIC_DEFAULT", alg)
	}
	return nil
}

func dryRun(string) error {
	return apiErr(CodeDryRunOperation, "The request would have succeeded, but the DryRun option is set.")
}

// useKey loads a key for a cryptographic operation: resolve, authorize,
// check state and usage. Authorization comes before the state check so an
// unauthorised caller learns nothing about the key.
func (s *Server) useKey(c *call, ref, action string, ec map[string]string, doc *attestation.Document) (*keystore.Key, *material, error) {
	k, err := s.loadKey(c, ref)
	if err != nil {
		return nil, nil, err
	}
	if err := s.authorize(c, k, action, ec, doc); err != nil {
		return nil, nil, err
	}
	if err := s.usable(k); err != nil {
		return nil, nil, err
	}
	m, err := s.material(k)
	if err != nil {
		return nil, nil, err
	}
	return k, m, nil
}

func (s *Server) encrypt(c *call, body []byte) (any, error) {
	var in encryptInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Plaintext) == 0 || len(in.Plaintext) > maxPlaintext {
		return nil, validation("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and %d", maxPlaintext)
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
	blob, err := sealBlob(m.aead, s.rand, k.ID, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return encryptOutput{CiphertextBlob: blob, KeyID: s.keyARN(k.ID), EncryptionAlgorithm: specSymmetric}, nil
}

// openAny decrypts blob for the Decrypt and ReEncrypt source side.
func (s *Server) openAny(c *call, blob []byte, keyRef string, ec map[string]string, action string, doc *attestation.Document) (*keystore.Key, []byte, error) {
	if len(blob) == 0 || len(blob) > 6144 {
		return nil, nil, validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	id, err := blobKeyID(blob)
	if err != nil {
		return nil, nil, apiErr(CodeInvalidCiphertext, "The ciphertext is not a valid ciphertext blob of this service.")
	}
	if keyRef != "" {
		want, err := s.resolveKeyID(c, keyRef)
		if err != nil {
			return nil, nil, err
		}
		if want != id {
			return nil, nil, apiErr(CodeIncorrectKey, "The key ID in the request does not identify a KMS key that can perform this operation (the ciphertext was encrypted under a different key).")
		}
	}
	k, m, err := s.useKey(c, id, action, ec, doc)
	if err != nil {
		return nil, nil, err
	}
	pt, err := openBlob(m.aead, blob, ec)
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
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	doc, err := s.checkRecipient(c, in.Recipient)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		// Authorise and check the key without decrypting.
		id, err := blobKeyID(in.CiphertextBlob)
		if err != nil {
			return nil, apiErr(CodeInvalidCiphertext, "The ciphertext is not a valid ciphertext blob of this service.")
		}
		if _, _, err := s.useKey(c, id, "kms:Decrypt", in.EncryptionContext, doc); err != nil {
			return nil, err
		}
		return nil, dryRun("kms:Decrypt")
	}
	k, pt, err := s.openAny(c, in.CiphertextBlob, in.KeyID, in.EncryptionContext, "kms:Decrypt", doc)
	if err != nil {
		return nil, err
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
	blob, err := sealBlob(m.aead, s.rand, dst.ID, pt, in.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	return reEncryptOutput{CiphertextBlob: blob, SourceKeyID: s.keyARN(src.ID), KeyID: s.keyARN(dst.ID),
		SourceEncryptionAlgorithm: specSymmetric, DestinationEncryptionAlgorithm: specSymmetric}, nil
}

// dataKeySize applies GenerateDataKey's rule: exactly one of KeySpec
// (AES_128, AES_256) and NumberOfBytes (1 to 1024).
func dataKeySize(spec string, n *int) (int, error) {
	switch {
	case spec != "" && n != nil:
		return 0, validation("Please specify either number of bytes or key spec, not both.")
	case spec == "" && n == nil:
		return 0, validation("Please specify either number of bytes or key spec.")
	case n != nil:
		if *n < 1 || *n > 1024 {
			return 0, validation("1 validation error detected: Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", *n)
		}
		return *n, nil
	case spec == "AES_256":
		return 32, nil
	case spec == "AES_128":
		return 16, nil
	default:
		return 0, validation("1 validation error detected: Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", spec)
	}
}

// useKeyForRecipient is the front half of the data-key operations: it
// verifies the Recipient's attestation document (nil doc without one),
// authorizes action on the key with the document's PCRs in the policy
// context, and stops a DryRun there, before any key is generated.
func (s *Server) useKeyForRecipient(c *call, ref, action string, ec map[string]string, ri *recipientInfo, dry bool) (*keystore.Key, *material, *attestation.Document, error) {
	doc, err := s.checkRecipient(c, ri)
	if err != nil {
		return nil, nil, nil, err
	}
	k, m, err := s.useKey(c, ref, action, ec, doc)
	if err != nil {
		return nil, nil, nil, err
	}
	if dry {
		return nil, nil, nil, dryRun(action)
	}
	return k, m, doc, nil
}

func (s *Server) generateDataKeyCommon(c *call, in *generateDataKeyInput, action string, withPlaintext bool) (any, error) {
	size, err := dataKeySize(in.KeySpec, in.NumberOfBytes)
	if err != nil {
		return nil, err
	}
	k, m, doc, err := s.useKeyForRecipient(c, in.KeyID, action, in.EncryptionContext, in.Recipient, in.DryRun)
	if err != nil {
		return nil, err
	}
	dk := make([]byte, size)
	if _, err := io.ReadFull(s.rand, dk); err != nil {
		return nil, err
	}
	blob, err := sealBlob(m.aead, s.rand, k.ID, dk, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	out := generateDataKeyOutput{CiphertextBlob: blob, KeyID: s.keyARN(k.ID)}
	switch {
	case doc != nil:
		if out.CiphertextForRecipient, err = s.forRecipient(doc, dk); err != nil {
			return nil, err
		}
	case withPlaintext:
		out.Plaintext = dk
	}
	return out, nil
}

func (s *Server) generateDataKey(c *call, body []byte) (any, error) {
	c.ctx = keystore.WithCachedReads(c.ctx)
	var in generateDataKeyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return s.generateDataKeyCommon(c, &in, "kms:GenerateDataKey", true)
}

func (s *Server) generateDataKeyWithoutPlaintext(c *call, body []byte) (any, error) {
	var in generateDataKeyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Recipient != nil {
		return nil, validation("GenerateDataKeyWithoutPlaintext does not take a Recipient")
	}
	return s.generateDataKeyCommon(c, &in, "kms:GenerateDataKeyWithoutPlaintext", false)
}

// generateKeyPair returns PKCS#8 private and SPKI public DER for spec.
func generateKeyPair(spec string, rand io.Reader) (priv, pub []byte, err error) {
	var key crypto.Signer
	switch spec {
	case "RSA_2048", "RSA_3072", "RSA_4096":
		bits := map[string]int{"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}[spec]
		key, err = rsa.GenerateKey(rand, bits)
	case "ECC_NIST_P256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand)
	case "ECC_NIST_P384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand)
	case "ECC_NIST_P521":
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand)
	default:
		return nil, nil, validation("1 validation error detected: Value '%s' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521]", spec)
	}
	if err != nil {
		return nil, nil, err
	}
	if priv, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
		return nil, nil, err
	}
	if pub, err = x509.MarshalPKIXPublicKey(key.Public()); err != nil {
		return nil, nil, err
	}
	return priv, pub, nil
}

func (s *Server) generateDataKeyPairCommon(c *call, body []byte, action string, withPlaintext bool) (any, error) {
	var in generateDataKeyPairInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.KeyPairSpec == "" {
		return nil, validation("1 validation error detected: Value null at 'keyPairSpec' failed to satisfy constraint: Member must not be null")
	}
	if !withPlaintext && in.Recipient != nil {
		return nil, validation("GenerateDataKeyPairWithoutPlaintext does not take a Recipient")
	}
	switch in.KeyPairSpec {
	case "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521":
	default:
		_, _, err := generateKeyPair(in.KeyPairSpec, nil)
		return nil, err
	}
	k, m, doc, err := s.useKeyForRecipient(c, in.KeyID, action, in.EncryptionContext, in.Recipient, in.DryRun)
	if err != nil {
		return nil, err
	}
	priv, pub, err := generateKeyPair(in.KeyPairSpec, s.rand)
	if err != nil {
		return nil, err
	}
	blob, err := sealBlob(m.aead, s.rand, k.ID, priv, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	out := generateDataKeyPairOutput{PrivateKeyCiphertextBlob: blob, PublicKey: pub, KeyID: s.keyARN(k.ID), KeyPairSpec: in.KeyPairSpec}
	switch {
	case doc != nil:
		if out.CiphertextForRecipient, err = s.forRecipient(doc, priv); err != nil {
			return nil, err
		}
	case withPlaintext:
		out.PrivateKeyPlaintext = priv
	}
	return out, nil
}

func (s *Server) generateDataKeyPair(c *call, body []byte) (any, error) {
	return s.generateDataKeyPairCommon(c, body, "kms:GenerateDataKeyPair", true)
}

func (s *Server) generateDataKeyPairWithoutPlaintext(c *call, body []byte) (any, error) {
	return s.generateDataKeyPairCommon(c, body, "kms:GenerateDataKeyPairWithoutPlaintext", false)
}

func (s *Server) generateRandom(c *call, body []byte) (any, error) {
	var in generateRandomInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreID != "" {
		return nil, apiErr(CodeUnsupportedOperation, "custom key stores are not supported")
	}
	if in.NumberOfBytes == nil || *in.NumberOfBytes < 1 || *in.NumberOfBytes > 1024 {
		return nil, validation("1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024")
	}
	doc, err := s.checkRecipient(c, in.Recipient)
	if err != nil {
		return nil, err
	}
	b := make([]byte, *in.NumberOfBytes)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return nil, err
	}
	if doc != nil {
		ct, err := s.forRecipient(doc, b)
		if err != nil {
			return nil, err
		}
		return generateRandomOutput{CiphertextForRecipient: ct}, nil
	}
	return generateRandomOutput{Plaintext: b}, nil
}
