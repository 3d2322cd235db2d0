// SPDX-License-Identifier: Apache-2.0

package kmsserver

// GetKeyPolicy and PutKeyPolicy, for principals of the key's own account
// only (keyOfOwnAccount), as in AWS.

import (
	"strconv"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

func policyName(p *string) (string, error) {
	if p == nil || *p == "default" {
		return "default", nil
	}
	return "", apiErr(CodeNotFound, "No such policy exists: %s (the only key policy name is \"default\")", strconv.Quote(*p))
}

func (s *Server) getKeyPolicy(c *call, body []byte) (any, error) {
	var in keyPolicyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	name, err := policyName(in.PolicyName)
	if err != nil {
		return nil, err
	}
	k, err := s.keyOfOwnAccount(c, in.KeyID, "kms:GetKeyPolicy")
	if err != nil {
		return nil, err
	}
	return getKeyPolicyOutput{Policy: k.Policy, PolicyName: name}, nil
}

func (s *Server) putKeyPolicy(c *call, body []byte) (any, error) {
	var in keyPolicyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if _, err := policyName(in.PolicyName); err != nil {
		return nil, err
	}
	if in.Policy == nil {
		return nil, validation("1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be null")
	}
	k, err := s.keyOfOwnAccount(c, in.KeyID, "kms:PutKeyPolicy")
	if err != nil {
		return nil, err
	}
	if err := s.checkNewPolicy(c, k, *in.Policy, in.BypassPolicyLockoutSafetyCheck); err != nil {
		return nil, err
	}
	if _, err := s.updateSealed(c.ctx, k.ID, s.rebind(func(k *keystore.Key) error {
		k.Policy = *in.Policy
		return nil
	})); err != nil {
		return nil, err
	}
	return empty{}, nil
}

type keyPolicyInput struct {
	KeyID                          string  `json:"KeyId"`
	PolicyName                     *string `json:"PolicyName"`
	Policy                         *string `json:"Policy"`
	BypassPolicyLockoutSafetyCheck bool    `json:"BypassPolicyLockoutSafetyCheck"`
}

type getKeyPolicyOutput struct {
	Policy     string `json:"Policy"`
	PolicyName string `json:"PolicyName"`
}
