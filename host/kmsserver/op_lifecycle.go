// SPDX-License-Identifier: Apache-2.0

package kmsserver

// EnableKey, DisableKey, ScheduleKeyDeletion and CancelKeyDeletion: the key
// state machine, for principals of the key's own account only
// (keyOfOwnAccount), as in AWS. Rotation (EnableKeyRotation,
// RotateKeyOnDemand, ...) is in op_rotation.go beside it.

import (
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// setState applies fn to the key's current record inside Store.UpdateKey;
// state is that record's state for the request (PendingImport for an
// imported key without usable material, see lacksMaterial).
func (s *Server) setState(c *call, body []byte, action string, fn func(k *keystore.Key, state string) error) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.keyOfOwnAccount(c, in.KeyID, action)
	if err != nil {
		return nil, err
	}
	change := func(k *keystore.Key, raw []byte) error {
		state := k.State
		if lacksMaterial(k, len(raw) > 0, c.now) {
			state = keystore.StatePendingImport
		}
		return fn(k, state)
	}
	if _, err := s.updateSealed(c.ctx, k.ID, s.rebindRaw(change)); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) enableKey(c *call, body []byte) (any, error) {
	return s.setState(c, body, "kms:EnableKey", func(k *keystore.Key, state string) error {
		switch state {
		case keystore.StatePendingDeletion:
			return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
		case keystore.StatePendingImport:
			// As AWS: a key without usable key material is enabled by
			// importing it (ImportKeyMaterial), not by EnableKey.
			return apiErr(CodeInvalidState, "%s is pending import.", s.keyARN(k.ID))
		}
		k.State = keystore.StateEnabled
		return nil
	})
}

func (s *Server) disableKey(c *call, body []byte) (any, error) {
	return s.setState(c, body, "kms:DisableKey", func(k *keystore.Key, _ string) error {
		if k.State == keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
		}
		k.State = keystore.StateDisabled
		return nil
	})
}

func (s *Server) scheduleKeyDeletion(c *call, body []byte) (any, error) {
	var in scheduleKeyDeletionInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	days := 30
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
		if days < 7 || days > 30 {
			return nil, validation("1 validation error detected: Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", days)
		}
	}
	k, err := s.keyOfOwnAccount(c, in.KeyID, "kms:ScheduleKeyDeletion")
	if err != nil {
		return nil, err
	}
	k, err = s.updateSealed(c.ctx, k.ID, s.rebind(func(k *keystore.Key) error {
		if k.State == keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
		}
		k.State = keystore.StatePendingDeletion
		k.DeletionDate = c.now.UTC().Add(time.Duration(days) * 24 * time.Hour)
		k.PendingWindowInDays = days
		return nil
	}))
	if err != nil {
		return nil, err
	}
	return scheduleKeyDeletionOutput{KeyID: s.keyARN(k.ID), DeletionDate: epoch(k.DeletionDate),
		KeyState: k.State, PendingWindowInDays: days}, nil
}

func (s *Server) cancelKeyDeletion(c *call, body []byte) (any, error) {
	var id string
	if _, err := s.setState(c, body, "kms:CancelKeyDeletion", func(k *keystore.Key, _ string) error {
		if k.State != keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is not pending deletion.", s.keyARN(k.ID))
		}
		if !c.now.Before(k.DeletionDate) {
			// As loadKey: past its deletion date the key is deleted as far
			// as any caller can tell, whatever the sweep has done yet
			// (checked on the record being updated, which may not be the
			// one loadKey read).
			return apiErr(CodeNotFound, "Key '%s' does not exist", s.keyARN(k.ID))
		}
		id = k.ID
		k.State = keystore.StateDisabled
		k.DeletionDate = time.Time{}
		k.PendingWindowInDays = 0
		return nil
	}); err != nil {
		return nil, err
	}
	return keyIDOutput{KeyID: s.keyARN(id)}, nil
}

type scheduleKeyDeletionInput struct {
	KeyID               string `json:"KeyId"`
	PendingWindowInDays *int   `json:"PendingWindowInDays"`
}

type scheduleKeyDeletionOutput struct {
	KeyID               string  `json:"KeyId"`
	DeletionDate        float64 `json:"DeletionDate"`
	KeyState            string  `json:"KeyState"`
	PendingWindowInDays int     `json:"PendingWindowInDays"`
}

type keyIDOutput struct {
	KeyID string `json:"KeyId"`
}
