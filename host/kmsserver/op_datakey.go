// SPDX-License-Identifier: Apache-2.0

package kmsserver

// GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateDataKeyPair and
// GenerateDataKeyPairWithoutPlaintext.

import (
	"io"

	"github.com/enclavekit/enclavekit/host/kmsserver/keymaterial"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// dataKeySize applies GenerateDataKey's rule: exactly one of KeySpec
// (AES_128, AES_256) and NumberOfBytes (1 to 1024).
func dataKeySize(spec string, n *int) (int, error) {
	switch {
	case spec != "" && n != nil:
		return 0, validation("Please specify either number of bytes or key spec, not both.")
	case spec == "" && n == nil:
		return 0, validation("Please specify either number of bytes or key spec.")
	case n != nil:
		if *n < keymaterial.MinDataKeyBytes || *n > keymaterial.MaxDataKeyBytes {
			return 0, validation("1 validation error detected: Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between %d and %d",
				*n, keymaterial.MinDataKeyBytes, keymaterial.MaxDataKeyBytes)
		}
		return *n, nil
	}
	size, ok := keymaterial.DataKeySpecSize(spec)
	if !ok {
		return 0, validation("1 validation error detected: Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", spec)
	}
	return size, nil
}

// useKeyForRecipient is the front half of the data-key operations: it
// verifies the Recipient's attestation document (nil doc without one),
// authorizes action on the key with the document's PCRs in the policy
// context, and stops a DryRun there, before any key is generated.
func (s *Server) useKeyForRecipient(c *call, ref, action string, ec map[string]string, ri *recipientInfo, dry bool) (*keystore.Key, *material, *attestedRecipient, error) {
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
	blob, err := s.sealBlob(k, m, dk, in.EncryptionContext)
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
	if err := checkDataKeyPairSpec(in.KeyPairSpec); err != nil {
		return nil, err
	}
	k, m, doc, err := s.useKeyForRecipient(c, in.KeyID, action, in.EncryptionContext, in.Recipient, in.DryRun)
	if err != nil {
		return nil, err
	}
	priv, pub, err := s.newDataKeyPair(in.KeyPairSpec)
	if err != nil {
		return nil, err
	}
	blob, err := s.sealBlob(k, m, priv, in.EncryptionContext)
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

type generateDataKeyInput struct {
	KeyID             string            `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	NumberOfBytes     *int              `json:"NumberOfBytes"`
	KeySpec           string            `json:"KeySpec"`
	GrantTokens       []string          `json:"GrantTokens"`
	Recipient         *recipientInfo    `json:"Recipient"`
	DryRun            bool              `json:"DryRun"`
}

type generateDataKeyOutput struct {
	CiphertextBlob         []byte `json:"CiphertextBlob"`
	Plaintext              []byte `json:"Plaintext,omitempty"`
	KeyID                  string `json:"KeyId"`
	CiphertextForRecipient []byte `json:"CiphertextForRecipient,omitempty"`
}

type generateDataKeyPairInput struct {
	KeyID             string            `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	KeyPairSpec       string            `json:"KeyPairSpec"`
	GrantTokens       []string          `json:"GrantTokens"`
	Recipient         *recipientInfo    `json:"Recipient"`
	DryRun            bool              `json:"DryRun"`
}

type generateDataKeyPairOutput struct {
	PrivateKeyCiphertextBlob []byte `json:"PrivateKeyCiphertextBlob"`
	PrivateKeyPlaintext      []byte `json:"PrivateKeyPlaintext,omitempty"`
	PublicKey                []byte `json:"PublicKey"`
	KeyID                    string `json:"KeyId"`
	KeyPairSpec              string `json:"KeyPairSpec"`
	CiphertextForRecipient   []byte `json:"CiphertextForRecipient,omitempty"`
}
