// SPDX-License-Identifier: Apache-2.0

package kmsserver

// EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
// RotateKeyOnDemand and ListKeyRotations. Only symmetric encryption keys
// rotate, as in AWS; the materials and the automatic rotation loop are
// rotation.go.

import (
	"fmt"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

const (
	minRotationPeriodDays     = 90
	maxRotationPeriodDays     = 2560
	defaultRotationPeriodDays = 365
)

// rotatable loads and authorizes a key for a rotation operation and checks
// that it is a symmetric encryption key. These operations cannot be called
// cross-account in AWS.
func (s *Server) rotatable(c *call, ref, action string) (*keystore.Key, error) {
	k, err := s.keyOfOwnAccount(c, ref, action)
	if err != nil {
		return nil, err
	}
	if k.Origin == keystore.OriginExternal {
		return nil, apiErr(CodeUnsupportedOperation, "%s has imported key material (Origin EXTERNAL); this server does not rotate it.", s.keyARN(k.ID))
	}
	if k.KeySpec != specSymmetric {
		return nil, apiErr(CodeUnsupportedOperation, "%s is a %s key; key rotation is supported for symmetric encryption keys only.", s.keyARN(k.ID), k.KeySpec)
	}
	return k, nil
}

func (s *Server) enableKeyRotation(c *call, body []byte) (any, error) {
	var in enableKeyRotationInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	period := defaultRotationPeriodDays
	if in.RotationPeriodInDays != nil {
		period = *in.RotationPeriodInDays
		if period < minRotationPeriodDays || period > maxRotationPeriodDays {
			return nil, validation("1 validation error detected: Value '%d' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between %d and %d",
				period, minRotationPeriodDays, maxRotationPeriodDays)
		}
	}
	k, err := s.rotatable(c, in.KeyID, "kms:EnableKeyRotation")
	if err != nil {
		return nil, err
	}
	_, err = s.store.UpdateKey(c.ctx, k.ID, func(k *keystore.Key) error {
		if err := s.enabled(k); err != nil {
			return err
		}
		base := c.now.UTC()
		if k.RotationEnabled {
			// A new period counts from the last rotation (or creation), as
			// in AWS, but never falls due in the past.
			base = k.CreatedAt
			for _, r := range k.Rotations {
				if r.Type == rotationAutomatic {
					base = r.Date
				}
			}
		}
		next := base.Add(days(period))
		if next.Before(c.now) {
			next = c.now.UTC()
		}
		k.RotationEnabled, k.RotationPeriodInDays, k.NextRotationDate = true, period, next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) disableKeyRotation(c *call, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.rotatable(c, in.KeyID, "kms:DisableKeyRotation")
	if err != nil {
		return nil, err
	}
	_, err = s.store.UpdateKey(c.ctx, k.ID, func(k *keystore.Key) error {
		if err := s.enabled(k); err != nil {
			return err
		}
		k.RotationEnabled, k.RotationPeriodInDays, k.NextRotationDate = false, 0, time.Time{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) getKeyRotationStatus(c *call, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	// Cross-account use allowed, as in AWS; the key ID or key ARN only.
	if err := keyIDOnly(c, "KeyId", in.KeyID); err != nil {
		return nil, err
	}
	k, err := s.loadKey(c, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:GetKeyRotationStatus", nil, nil); err != nil {
		return nil, err
	}
	// Keys that do not rotate (asymmetric, HMAC, imported) answer false,
	// as AWS.
	out := getKeyRotationStatusOutput{KeyID: s.keyARN(k.ID)}
	// As AWS: a key pending deletion reports rotation off (and keeps its
	// setting for a cancelled deletion).
	if k.RotationEnabled && k.State != keystore.StatePendingDeletion {
		out.KeyRotationEnabled = true
		p := k.RotationPeriodInDays
		out.RotationPeriodInDays = &p
		d := epoch(k.NextRotationDate)
		out.NextRotationDate = &d
	}
	return out, nil
}

func (s *Server) rotateKeyOnDemand(c *call, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.rotatable(c, in.KeyID, "kms:RotateKeyOnDemand")
	if err != nil {
		return nil, err
	}
	_, err = s.rotate(c.ctx, k.ID, c.now, rotationOnDemand, func(k *keystore.Key) error {
		if err := s.enabled(k); err != nil {
			return err
		}
		n := 0
		for _, r := range k.Rotations {
			if r.Type == rotationOnDemand {
				n++
			}
		}
		if n >= maxOnDemandRotations {
			return apiErr(CodeLimitExceeded, "%s has been rotated on demand %d times, the most a key may be.", s.keyARN(k.ID), n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return keyIDOutput{KeyID: s.keyARN(k.ID)}, nil
}

func (s *Server) listKeyRotations(c *call, body []byte) (any, error) {
	var in listKeyRotationsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit, err := limitIn(in.Limit, 100, 1000)
	if err != nil {
		return nil, err
	}
	all := false
	switch in.IncludeKeyMaterial {
	case "", "ROTATIONS_ONLY":
	case "ALL_KEY_MATERIAL":
		all = true
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]", in.IncludeKeyMaterial)
	}
	k, err := s.rotatable(c, in.KeyID, "kms:ListKeyRotations")
	if err != nil {
		return nil, err
	}
	arn := s.keyARN(k.ID)
	state := func(mid string) string {
		if mid == k.MaterialID {
			return "CURRENT"
		}
		return "NON_CURRENT"
	}
	var entries []rotationEntry
	if all {
		orig := k.MaterialID
		if len(k.RetiredMaterials) > 0 {
			orig = k.RetiredMaterials[0].MaterialID
		}
		entries = append(entries, rotationEntry{KeyID: arn, KeyMaterialID: displayMaterialID(k.ID, orig), KeyMaterialState: state(orig)})
	}
	for _, r := range k.Rotations {
		d := epoch(r.Date)
		entries = append(entries, rotationEntry{KeyID: arn, RotationDate: &d, RotationType: r.Type,
			KeyMaterialID: displayMaterialID(k.ID, r.MaterialID), KeyMaterialState: state(r.MaterialID)})
	}
	pos := make([]string, len(entries))
	for i := range entries {
		pos[i] = fmt.Sprintf("%08d", i)
	}
	from, to, next, err := pageAfter(pos, in.Marker, limit)
	if err != nil {
		return nil, err
	}
	return listKeyRotationsOutput{Rotations: append([]rotationEntry{}, entries[from:to]...), NextMarker: next, Truncated: next != ""}, nil
}

type enableKeyRotationInput struct {
	KeyID                string `json:"KeyId"`
	RotationPeriodInDays *int   `json:"RotationPeriodInDays"`
}

type getKeyRotationStatusOutput struct {
	KeyID                string   `json:"KeyId"`
	KeyRotationEnabled   bool     `json:"KeyRotationEnabled"`
	NextRotationDate     *float64 `json:"NextRotationDate,omitempty"`
	RotationPeriodInDays *int     `json:"RotationPeriodInDays,omitempty"`
}

type listKeyRotationsInput struct {
	KeyID              string `json:"KeyId"`
	Limit              *int   `json:"Limit"`
	Marker             string `json:"Marker"`
	IncludeKeyMaterial string `json:"IncludeKeyMaterial"`
}

type rotationEntry struct {
	KeyID            string   `json:"KeyId"`
	RotationDate     *float64 `json:"RotationDate,omitempty"`
	RotationType     string   `json:"RotationType,omitempty"`
	KeyMaterialID    string   `json:"KeyMaterialId"`
	KeyMaterialState string   `json:"KeyMaterialState"`
}

type listKeyRotationsOutput struct {
	Rotations  []rotationEntry `json:"Rotations"`
	NextMarker string          `json:"NextMarker,omitempty"`
	Truncated  bool            `json:"Truncated"`
}
