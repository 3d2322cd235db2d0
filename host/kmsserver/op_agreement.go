// SPDX-License-Identifier: Apache-2.0

package kmsserver

// DeriveSharedSecret: ECDH with an ECC_NIST KMS key of KEY_AGREEMENT usage,
// with Recipient: the shared secret then comes back only as
// CiphertextForRecipient, sealed to the attested enclave's key.

import (
	"github.com/enclavekit/enclavekit/host/kmsserver/keyspec"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

func (s *Server) deriveSharedSecret(c *call, body []byte) (any, error) {
	var in deriveSharedSecretInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.KeyAgreementAlgorithm == "" {
		return nil, validation("1 validation error detected: Value null at 'keyAgreementAlgorithm' failed to satisfy constraint: Member must not be null")
	}
	if len(in.PublicKey) == 0 || len(in.PublicKey) > keyspec.MaxPublicKey {
		return nil, validation("1 validation error detected: Value at 'publicKey' failed to satisfy constraint: Member must have length between 1 and %d", keyspec.MaxPublicKey)
	}
	doc, err := s.checkRecipient(c, in.Recipient)
	if err != nil {
		return nil, err
	}
	cond := map[string][]string{policy.KeyKeyAgreementAlgorithm: {in.KeyAgreementAlgorithm}}
	k, key, err := s.useSpecKey(c, in.KeyID, keyspec.OpDeriveSharedSecret, "kms:DeriveSharedSecret", cond, doc)
	if err != nil {
		return nil, err
	}
	secret, err := key.DeriveSharedSecret(keyspec.KeyAgreementAlgorithm(in.KeyAgreementAlgorithm), in.PublicKey)
	if err != nil {
		return nil, specErr(err)
	}
	if in.DryRun {
		return nil, dryRun("kms:DeriveSharedSecret")
	}
	out := deriveSharedSecretOutput{KeyID: s.keyARN(k.ID), KeyAgreementAlgorithm: in.KeyAgreementAlgorithm, KeyOrigin: "AWS_KMS"}
	if doc != nil {
		if out.CiphertextForRecipient, err = s.forRecipient(doc, secret); err != nil {
			return nil, err
		}
		return out, nil
	}
	out.SharedSecret = secret
	return out, nil
}

type deriveSharedSecretInput struct {
	KeyID                 string         `json:"KeyId"`
	KeyAgreementAlgorithm string         `json:"KeyAgreementAlgorithm"`
	PublicKey             []byte         `json:"PublicKey"`
	Recipient             *recipientInfo `json:"Recipient"`
	GrantTokens           []string       `json:"GrantTokens"`
	DryRun                bool           `json:"DryRun"`
}

type deriveSharedSecretOutput struct {
	KeyID                  string `json:"KeyId"`
	SharedSecret           []byte `json:"SharedSecret,omitempty"`
	CiphertextForRecipient []byte `json:"CiphertextForRecipient,omitempty"`
	KeyAgreementAlgorithm  string `json:"KeyAgreementAlgorithm"`
	KeyOrigin              string `json:"KeyOrigin"`
}
