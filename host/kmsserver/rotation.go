// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Key rotation: the materials of a key (current and retired), rotating a
// key in one store update, and the automatic rotation loop of Serve. The
// operations are op_rotation.go.
//
// A symmetric key has a current material (keystore.Key.WrappedMaterial,
// named by MaterialID and bound to the whole record as before) and the
// materials earlier rotations retired (RetiredMaterials, each sealed for
// its key, spec and material ID). New ciphertext blobs (format v2) name
// the current material; Decrypt opens a blob with the material it names,
// once the key's current record is verified. A rotation retires the
// current material and installs a new one in the same Store.UpdateKey, so
// a crash leaves either the old record or the new one, and no material an
// acknowledged blob names is ever lost.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keymaterial"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

const (
	rotationAutomatic = "AUTOMATIC"
	rotationOnDemand  = "ON_DEMAND"
	// maxOnDemandRotations is AWS's quota of on-demand rotations per key.
	maxOnDemandRotations = 25
)

// sealBlob encrypts under k's current material m, naming the material.
func (s *Server) sealBlob(k *keystore.Key, m *material, pt []byte, ec map[string]string) ([]byte, error) {
	return keymaterial.SealBlobMaterial(m.AEAD, s.rand, k.ID, k.MaterialID, pt, ec)
}

// blobMaterial returns the material of k that blob names: cur (k's current
// material, already verified) or a retired one. A material k does not have
// is an InvalidCiphertextException.
func (s *Server) blobMaterial(k *keystore.Key, cur *material, blob []byte) (*material, error) {
	mid, err := keymaterial.BlobMaterialID(blob)
	if err != nil {
		return nil, apiErr(CodeInvalidCiphertext, "The ciphertext is not a valid ciphertext blob of this service.")
	}
	if mid == k.MaterialID {
		return cur, nil
	}
	for i := range k.RetiredMaterials {
		if r := &k.RetiredMaterials[i]; r.MaterialID == mid {
			return s.retiredMaterial(k, r)
		}
	}
	return nil, apiErr(CodeInvalidCiphertext, "The ciphertext names key material that %s does not have.", s.keyARN(k.ID))
}

// retiredMaterial unwraps a retired material, cached like the current one
// (by key and material ID, for the exact wrapped bytes verified), so that
// Decrypt under an old material costs what it costs under the current one.
func (s *Server) retiredMaterial(k *keystore.Key, r *keystore.RetiredMaterial) (*material, error) {
	ck := k.ID + "/" + r.MaterialID
	b := keymaterial.Binding{KeyID: k.ID, KeySpec: k.KeySpec, MaterialID: r.MaterialID}
	if v, ok := s.materials.Load(ck); ok {
		m := v.(*material)
		if m.binding == b && string(m.wrapped) == string(r.WrappedMaterial) {
			return m, nil
		}
	}
	raw, err := s.root.UnwrapRetired(k.ID, k.KeySpec, r.MaterialID, r.WrappedMaterial)
	if err != nil {
		s.cfg.Logger.Error("retired key material rejected", "key", s.keyARN(k.ID), "material", displayMaterialID(k.ID, r.MaterialID), "error", err)
		return nil, err
	}
	km, sk, err := parseMaterial(k.KeySpec, raw)
	if err != nil {
		return nil, err
	}
	m := &material{Material: km, spec: sk, wrapped: append([]byte(nil), r.WrappedMaterial...), binding: b}
	s.materials.Store(ck, m)
	return m, nil
}

// displayMaterialID is the KeyMaterialId shown for a material: its ID, or
// for the original material of a key made before rotation existed (ID "")
// one derived from the key ID, stable and of the same form.
func displayMaterialID(keyID, mid string) string {
	if mid != "" {
		return mid
	}
	h := sha256.Sum256([]byte("enclavekit kms-server original key material\x00" + keyID))
	return hex.EncodeToString(h[:])
}

// rotate gives key id a new current material in one store update, after
// check (run on the record as it is in the store, inside the update)
// passes. The record is verified under the root key first.
func (s *Server) rotate(ctx context.Context, id string, now time.Time, typ string, check func(k *keystore.Key) error) (*keystore.Key, error) {
	return s.updateSealed(ctx, id, func(k *keystore.Key) error {
		raw, _, err := s.openRecord(k)
		if err != nil {
			return err
		}
		if err := check(k); err != nil {
			return err
		}
		if k.KeySpec != specSymmetric {
			return apiErr(CodeUnsupportedOperation, "%s is not a symmetric encryption key; only those rotate.", s.keyARN(k.ID))
		}
		retired, err := s.root.WrapRetired(s.rand, k.ID, k.KeySpec, k.MaterialID, raw)
		if err != nil {
			return err
		}
		fresh, err := s.generateMaterial(k.KeySpec)
		if err != nil {
			return err
		}
		mid, err := keymaterial.NewMaterialID(s.rand)
		if err != nil {
			return err
		}
		k.RetiredMaterials = append(k.RetiredMaterials, keystore.RetiredMaterial{MaterialID: k.MaterialID, WrappedMaterial: retired})
		k.MaterialID = mid
		k.Rotations = append(k.Rotations, keystore.Rotation{MaterialID: mid, Date: now.UTC(), Type: typ})
		if typ == rotationAutomatic {
			k.NextRotationDate = now.UTC().Add(days(k.RotationPeriodInDays))
		}
		return s.seal(k, fresh)
	})
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// rotationLoop sweeps once at once, then every RotationSweepInterval until
// ctx ends.
func (s *Server) rotationLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.RotationSweepInterval)
	defer t.Stop()
	for {
		s.sweepRotations(ctx, s.cfg.Clock())
		if s.cfg.sweepDone != nil {
			s.cfg.sweepDone("rotation")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errNotDue aborts a rotation another replica made first.
var errNotDue = errors.New("kmsserver: rotation not due")

// sweepRotations rotates every enabled key whose automatic rotation is due
// at now. One key's failure is logged and counted, never fatal; it is
// retried at the next sweep. Replicas sharing a database may sweep at the
// same time: the due date is checked again inside the update (SELECT … FOR
// UPDATE in PostgreSQL), so a key rotates once. Nothing rotates while now
// disagrees with the store's clock or the audit log cannot be written
// (sweepclock.go). It returns how many
// keys it rotated.
func (s *Server) sweepRotations(ctx context.Context, now time.Time) int {
	if !s.sweepClockAgrees(ctx, now, "key rotation", s.metrics.rotations) ||
		!s.sweepAuditWritable("key rotation", s.metrics.rotations) {
		return 0
	}
	keys, err := s.store.ListKeys(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Error("key rotation sweep: cannot list keys", "error", err)
			s.metrics.rotations.WithLabelValues("failed").Inc()
		}
		return 0
	}
	due := func(k *keystore.Key) bool {
		return k.RotationEnabled && k.State == keystore.StateEnabled && k.KeySpec == specSymmetric && !now.Before(k.NextRotationDate)
	}
	n := 0
	for _, k := range keys {
		if ctx.Err() != nil {
			return n
		}
		if !due(k) {
			continue
		}
		arn := s.keyARN(k.ID)
		nk, err := s.rotate(ctx, k.ID, now, rotationAutomatic, func(k *keystore.Key) error {
			if !due(k) {
				return errNotDue
			}
			return nil
		})
		switch {
		case errors.Is(err, errNotDue), errors.Is(err, keystore.ErrNotFound):
			continue
		case err != nil:
			s.cfg.Logger.Error("automatic key rotation failed; retrying at the next sweep", "key", arn, "error", err)
			s.metrics.rotations.WithLabelValues("failed").Inc()
			continue
		}
		s.metrics.rotations.WithLabelValues("rotated").Inc()
		s.cfg.Logger.Info("key rotated automatically", "key", arn, "material", nk.MaterialID, "next_rotation", nk.NextRotationDate)
		if err := s.audit.write(&auditEvent{Time: now.UTC().Format(time.RFC3339Nano), RequestID: s.newRequestID(),
			Operation: "RotateKey", Principal: "kms-server", KeyARN: arn, Decision: "allow"}); err != nil {
			s.cfg.Logger.Error("key rotated, but its audit line could not be written", "key", arn, "error", err)
			return n + 1 // the log broke during this sweep: it stops
		}
		n++
	}
	return n
}
