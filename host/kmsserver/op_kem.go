// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Encapsulate and Decapsulate: ML-KEM KMS keys (ML_KEM_768, ML_KEM_1024;
// ENCAPSULATE_DECAPSULATE usage). ML_KEM_512 is refused at CreateKey: Go's
// crypto/mlkem has no ML-KEM-512.

import "github.com/enclavekit/enclavekit/host/kmsserver/keyspec"

func (s *Server) encapsulate(c *call, body []byte) (any, error) {
	var in encapsulateInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.EncapsulationAlgorithm == "" {
		return nil, validation("1 validation error detected: Value null at 'encapsulationAlgorithm' failed to satisfy constraint: Member must not be null")
	}
	k, key, err := s.useSpecKey(c, in.KeyID, keyspec.OpEncapsulate, "kms:Encapsulate", nil, nil)
	if err != nil {
		return nil, err
	}
	secret, ct, err := key.Encapsulate(keyspec.EncapsulationAlgorithm(in.EncapsulationAlgorithm))
	if err != nil {
		return nil, specErr(err)
	}
	if in.DryRun {
		return nil, dryRun("kms:Encapsulate")
	}
	return encapsulateOutput{KeyID: s.keyARN(k.ID), SharedSecret: secret, SharedSecretCiphertextBlob: ct, EncapsulationAlgorithm: in.EncapsulationAlgorithm}, nil
}

func (s *Server) decapsulate(c *call, body []byte) (any, error) {
	var in decapsulateInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.EncapsulationAlgorithm == "" {
		return nil, validation("1 validation error detected: Value null at 'encapsulationAlgorithm' failed to satisfy constraint: Member must not be null")
	}
	if len(in.SharedSecretCiphertextBlob) == 0 || len(in.SharedSecretCiphertextBlob) > keyspec.MaxCiphertext {
		return nil, validation("1 validation error detected: Value at 'sharedSecretCiphertextBlob' failed to satisfy constraint: Member must have length between 1 and %d", keyspec.MaxCiphertext)
	}
	k, key, err := s.useSpecKey(c, in.KeyID, keyspec.OpDecapsulate, "kms:Decapsulate", nil, nil)
	if err != nil {
		return nil, err
	}
	secret, err := key.Decapsulate(keyspec.EncapsulationAlgorithm(in.EncapsulationAlgorithm), in.SharedSecretCiphertextBlob)
	if err != nil {
		return nil, specErr(err)
	}
	if in.DryRun {
		return nil, dryRun("kms:Decapsulate")
	}
	return decapsulateOutput{KeyID: s.keyARN(k.ID), SharedSecret: secret, EncapsulationAlgorithm: in.EncapsulationAlgorithm}, nil
}

type encapsulateInput struct {
	KeyID                  string   `json:"KeyId"`
	EncapsulationAlgorithm string   `json:"EncapsulationAlgorithm"`
	GrantTokens            []string `json:"GrantTokens"`
	DryRun                 bool     `json:"DryRun"`
}

type encapsulateOutput struct {
	KeyID                      string `json:"KeyId"`
	SharedSecret               []byte `json:"SharedSecret"`
	SharedSecretCiphertextBlob []byte `json:"SharedSecretCiphertextBlob"`
	EncapsulationAlgorithm     string `json:"EncapsulationAlgorithm"`
}

type decapsulateInput struct {
	KeyID                      string   `json:"KeyId"`
	EncapsulationAlgorithm     string   `json:"EncapsulationAlgorithm"`
	SharedSecretCiphertextBlob []byte   `json:"SharedSecretCiphertextBlob"`
	GrantTokens                []string `json:"GrantTokens"`
	DryRun                     bool     `json:"DryRun"`
}

type decapsulateOutput struct {
	KeyID                  string `json:"KeyId"`
	SharedSecret           []byte `json:"SharedSecret"`
	EncapsulationAlgorithm string `json:"EncapsulationAlgorithm"`
}
