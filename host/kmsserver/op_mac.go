// SPDX-License-Identifier: Apache-2.0

package kmsserver

// GenerateMac and VerifyMac: HMAC KMS keys (GENERATE_VERIFY_MAC usage).

import (
	"github.com/enclavekit/enclavekit/host/kmsserver/keyspec"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

func (s *Server) generateMac(c *call, body []byte) (any, error) {
	var in generateMacInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkMessage(in.Message, "macAlgorithm", in.MacAlgorithm); err != nil {
		return nil, err
	}
	cond := map[string][]string{policy.KeyMacAlgorithm: {in.MacAlgorithm}}
	k, key, err := s.useSpecKey(c, in.KeyID, keyspec.OpGenerateMac, "kms:GenerateMac", cond, nil)
	if err != nil {
		return nil, err
	}
	mac, err := key.GenerateMac(keyspec.MacAlgorithm(in.MacAlgorithm), in.Message)
	if err != nil {
		return nil, specErr(err)
	}
	if in.DryRun {
		return nil, dryRun("kms:GenerateMac")
	}
	return generateMacOutput{KeyID: s.keyARN(k.ID), Mac: mac, MacAlgorithm: in.MacAlgorithm}, nil
}

func (s *Server) verifyMac(c *call, body []byte) (any, error) {
	var in verifyMacInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkMessage(in.Message, "macAlgorithm", in.MacAlgorithm); err != nil {
		return nil, err
	}
	if len(in.Mac) == 0 || len(in.Mac) > keyspec.MaxSignature {
		return nil, validation("1 validation error detected: Value at 'mac' failed to satisfy constraint: Member must have length between 1 and %d", keyspec.MaxSignature)
	}
	cond := map[string][]string{policy.KeyMacAlgorithm: {in.MacAlgorithm}}
	k, key, err := s.useSpecKey(c, in.KeyID, keyspec.OpVerifyMac, "kms:VerifyMac", cond, nil)
	if err != nil {
		return nil, err
	}
	if err := key.VerifyMac(keyspec.MacAlgorithm(in.MacAlgorithm), in.Message, in.Mac); err != nil {
		return nil, specErr(err) // with DryRun too: the real call would fail
	}
	if in.DryRun {
		return nil, dryRun("kms:VerifyMac")
	}
	return verifyMacOutput{KeyID: s.keyARN(k.ID), MacValid: true, MacAlgorithm: in.MacAlgorithm}, nil
}

type generateMacInput struct {
	KeyID        string   `json:"KeyId"`
	MacAlgorithm string   `json:"MacAlgorithm"`
	Message      []byte   `json:"Message"`
	GrantTokens  []string `json:"GrantTokens"`
	DryRun       bool     `json:"DryRun"`
}

type generateMacOutput struct {
	KeyID        string `json:"KeyId"`
	Mac          []byte `json:"Mac"`
	MacAlgorithm string `json:"MacAlgorithm"`
}

type verifyMacInput struct {
	KeyID        string   `json:"KeyId"`
	MacAlgorithm string   `json:"MacAlgorithm"`
	Message      []byte   `json:"Message"`
	Mac          []byte   `json:"Mac"`
	GrantTokens  []string `json:"GrantTokens"`
	DryRun       bool     `json:"DryRun"`
}

type verifyMacOutput struct {
	KeyID        string `json:"KeyId"`
	MacValid     bool   `json:"MacValid"`
	MacAlgorithm string `json:"MacAlgorithm"`
}
