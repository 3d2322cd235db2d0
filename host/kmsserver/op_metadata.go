// SPDX-License-Identifier: Apache-2.0

package kmsserver

// UpdateKeyDescription and ListKeyPolicies. (Tags are op_tags.go,
// UpdateAlias op_aliases.go.) keyOfOwnAccount serves the operations that
// AWS does not allow cross-account.

import (
	"unicode/utf8"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

const maxDescriptionLen = 8192

// keyOfOwnAccount loads and authorizes a key, named by key ID or key ARN
// (an alias is refused: keyIDOnly), for an operation AWS does not
// allow cross-account ("Cross-account use: No" in the AWS KMS permissions
// reference: the key state operations, the key policy, tags, description,
// rotation, imports, ListKeyPolicies; TestCrossAccountUse checks every
// operation against that column): a principal of another account is
// refused whatever the key policy says.
func (s *Server) keyOfOwnAccount(c *call, ref, action string) (*keystore.Key, error) {
	// Every one of these operations takes the key ID or key ARN only.
	if err := keyIDOnly(c, "KeyId", ref); err != nil {
		return nil, err
	}
	k, err := s.loadKey(c, ref)
	if err != nil {
		return nil, err
	}
	if err := s.requireOwnAccount(c, action, s.keyARN(k.ID)); err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, action, nil, nil); err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Server) updateKeyDescription(c *call, body []byte) (any, error) {
	var in updateKeyDescriptionInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Description == nil {
		return nil, validation("1 validation error detected: Value null at 'description' failed to satisfy constraint: Member must not be null")
	}
	if utf8.RuneCountInString(*in.Description) > maxDescriptionLen {
		return nil, validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", maxDescriptionLen)
	}
	k, err := s.keyOfOwnAccount(c, in.KeyID, "kms:UpdateKeyDescription")
	if err != nil {
		return nil, err
	}
	_, err = s.store.UpdateKey(c.ctx, k.ID, func(k *keystore.Key) error {
		if k.State == keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
		}
		k.Description = *in.Description
		return nil
	})
	if err != nil {
		return nil, err
	}
	return empty{}, nil
}

// listKeyPolicies answers the one policy name a key has, "default", paged
// as AWS pages it (Limit 1 to 1000).
func (s *Server) listKeyPolicies(c *call, body []byte) (any, error) {
	var in listKeyPagedInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit, err := limitIn(in.Limit, 100, 1000)
	if err != nil {
		return nil, err
	}
	if _, err := s.keyOfOwnAccount(c, in.KeyID, "kms:ListKeyPolicies"); err != nil {
		return nil, err
	}
	names := []string{"default"}
	from, to, next, err := pageAfter(names, in.Marker, limit)
	if err != nil {
		return nil, err
	}
	return listKeyPoliciesOutput{PolicyNames: append([]string{}, names[from:to]...), NextMarker: next, Truncated: next != ""}, nil
}

type updateKeyDescriptionInput struct {
	KeyID       string  `json:"KeyId"`
	Description *string `json:"Description"`
}

type listKeyPoliciesOutput struct {
	PolicyNames []string `json:"PolicyNames"`
	NextMarker  string   `json:"NextMarker,omitempty"`
	Truncated   bool     `json:"Truncated"`
}
