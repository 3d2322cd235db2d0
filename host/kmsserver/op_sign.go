// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Sign, Verify and GetPublicKey: asymmetric KMS keys of SIGN_VERIFY usage
// (and the public key of any asymmetric key). Package keyspec signs,
// verifies and checks the algorithm, message type and message as AWS does.

import (
	"github.com/enclavekit/enclavekit/host/kmsserver/keyspec"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

// checkMessage applies AWS's input constraints on Message (1 to 4096
// bytes) and a required algorithm member, before the key is looked up.
func checkMessage(msg []byte, algField, alg string) error {
	if len(msg) == 0 || len(msg) > keyspec.MaxMessage {
		return validation("1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length between 1 and %d", keyspec.MaxMessage)
	}
	if alg == "" {
		return validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", algField)
	}
	return nil
}

// signConditions are the condition keys of Sign and Verify.
func signConditions(alg, mt string) map[string][]string {
	if mt == "" {
		mt = string(keyspec.RAW)
	}
	return map[string][]string{policy.KeySigningAlgorithm: {alg}, policy.KeyMessageType: {mt}}
}

func (s *Server) sign(c *call, body []byte) (any, error) {
	var in signInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkMessage(in.Message, "signingAlgorithm", in.SigningAlgorithm); err != nil {
		return nil, err
	}
	k, key, err := s.useSpecKey(c, in.KeyID, keyspec.OpSign, "kms:Sign", signConditions(in.SigningAlgorithm, in.MessageType), nil)
	if err != nil {
		return nil, err
	}
	sig, err := key.Sign(keyspec.SigningAlgorithm(in.SigningAlgorithm), keyspec.MessageType(in.MessageType), in.Message)
	if err != nil {
		return nil, specErr(err)
	}
	if in.DryRun {
		return nil, dryRun("kms:Sign")
	}
	return signOutput{KeyID: s.keyARN(k.ID), Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

func (s *Server) verify(c *call, body []byte) (any, error) {
	var in verifyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkMessage(in.Message, "signingAlgorithm", in.SigningAlgorithm); err != nil {
		return nil, err
	}
	if len(in.Signature) == 0 || len(in.Signature) > keyspec.MaxSignature {
		return nil, validation("1 validation error detected: Value at 'signature' failed to satisfy constraint: Member must have length between 1 and %d", keyspec.MaxSignature)
	}
	k, key, err := s.useSpecKey(c, in.KeyID, keyspec.OpVerify, "kms:Verify", signConditions(in.SigningAlgorithm, in.MessageType), nil)
	if err != nil {
		return nil, err
	}
	if err := key.Verify(keyspec.SigningAlgorithm(in.SigningAlgorithm), keyspec.MessageType(in.MessageType), in.Message, in.Signature); err != nil {
		return nil, specErr(err) // with DryRun too: the real call would fail
	}
	if in.DryRun {
		return nil, dryRun("kms:Verify")
	}
	return verifyOutput{KeyID: s.keyARN(k.ID), SignatureValid: true, SigningAlgorithm: in.SigningAlgorithm}, nil
}

func (s *Server) getPublicKey(c *call, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, key, err := s.useSpecKey(c, in.KeyID, keyspec.OpGetPublicKey, "kms:GetPublicKey", nil, nil)
	if err != nil {
		return nil, err
	}
	pub, err := key.PublicKey()
	if err != nil {
		return nil, specErr(err)
	}
	var m keyMetadata
	addAlgorithms(&m, k.KeySpec, k.KeyUsage)
	return getPublicKeyOutput{KeyID: s.keyARN(k.ID), PublicKey: pub, CustomerMasterKeySpec: k.KeySpec, KeySpec: k.KeySpec,
		KeyUsage: k.KeyUsage, EncryptionAlgorithms: m.EncryptionAlgorithms, SigningAlgorithms: m.SigningAlgorithms,
		KeyAgreementAlgorithms: m.KeyAgreementAlgorithms, EncapsulationAlgorithms: m.EncapsulationAlgorithms}, nil
}

type signInput struct {
	KeyID            string   `json:"KeyId"`
	Message          []byte   `json:"Message"`
	MessageType      string   `json:"MessageType"`
	SigningAlgorithm string   `json:"SigningAlgorithm"`
	GrantTokens      []string `json:"GrantTokens"`
	DryRun           bool     `json:"DryRun"`
}

type signOutput struct {
	KeyID            string `json:"KeyId"`
	Signature        []byte `json:"Signature"`
	SigningAlgorithm string `json:"SigningAlgorithm"`
}

type verifyInput struct {
	KeyID            string   `json:"KeyId"`
	Message          []byte   `json:"Message"`
	MessageType      string   `json:"MessageType"`
	Signature        []byte   `json:"Signature"`
	SigningAlgorithm string   `json:"SigningAlgorithm"`
	GrantTokens      []string `json:"GrantTokens"`
	DryRun           bool     `json:"DryRun"`
}

type verifyOutput struct {
	KeyID            string `json:"KeyId"`
	SignatureValid   bool   `json:"SignatureValid"`
	SigningAlgorithm string `json:"SigningAlgorithm"`
}

type getPublicKeyOutput struct {
	KeyID                   string   `json:"KeyId"`
	PublicKey               []byte   `json:"PublicKey"`
	CustomerMasterKeySpec   string   `json:"CustomerMasterKeySpec"`
	KeySpec                 string   `json:"KeySpec"`
	KeyUsage                string   `json:"KeyUsage"`
	EncryptionAlgorithms    []string `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms       []string `json:"SigningAlgorithms,omitempty"`
	KeyAgreementAlgorithms  []string `json:"KeyAgreementAlgorithms,omitempty"`
	EncapsulationAlgorithms []string `json:"EncapsulationAlgorithms,omitempty"`
}
