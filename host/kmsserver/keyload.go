// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Loading a key for a request: resolve, verify the record under the root
// key (cached while unchanged), check state and usage.

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keymaterial"
	"github.com/enclavekit/enclavekit/host/kmsserver/keyspec"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

const (
	specSymmetric = keymaterial.SpecSymmetric
	usageEncrypt  = keymaterial.UsageEncryptDecrypt
	usageMAC      = keymaterial.UsageGenerateVerifyMAC
)

// loadKey resolves ref and loads the key. The key's ARN goes to the audit
// line (the request's first key, for ReEncrypt its source) as soon as ref
// resolves to a well-formed key ID, before the store is asked: a request
// whose key lookup fails (the key does not exist, the store errs or does
// not answer in time, the client hangs up) is still recorded against the
// key it named.
func (s *Server) loadKey(c *call, ref string) (*keystore.Key, error) {
	id, err := s.resolveKeyID(c, ref)
	if err != nil {
		return nil, err
	}
	if !isKeyID(id) {
		return nil, apiErr(CodeNotFound, "Key '%s' does not exist", s.keyARN(id))
	}
	if c.ev.KeyARN == "" {
		c.ev.KeyARN = s.keyARN(id)
	}
	floor := s.marks.get(id) // before the read: see seqMarks.checkFrom
	k, err := s.store.GetKey(c.ctx, id)
	if errors.Is(err, keystore.ErrNotFound) {
		if s.marks.seen(id) {
			// Destroyed (key IDs are never reused): a record of it
			// that comes back is an old one.
			s.marks.bury(id)
		}
		return nil, apiErr(CodeNotFound, "Key '%s' does not exist", s.keyARN(id))
	}
	if err != nil {
		return nil, err
	}
	if k.State == keystore.StatePendingDeletion && !c.now.Before(k.DeletionDate) {
		// The waiting period is over: the key is deleted as far as any
		// caller can tell (its record stays in the store).
		return nil, apiErr(CodeNotFound, "Key '%s' does not exist", s.keyARN(id))
	}
	// Nothing in the record (its policy above all) is trusted before the
	// root key vouches for it.
	m, err := s.material(k)
	if err != nil {
		s.cfg.Logger.Error("key record rejected", "key", s.keyARN(id), "error", err)
		return nil, err
	}
	// Nor before it is known not to be older than one seen (the cache
	// vouches for a record, not for its being the latest).
	if err := s.checkSeqFrom(id, m.seq, floor); err != nil {
		return nil, err
	}
	if lacksMaterial(k, m.Material != nil, c.now) {
		// PendingImport for this request (call.keyState), so that no
		// operation reaches absent or expired material. k itself is left
		// as verified: a later check of the record in the same request
		// (addResourceTags, rebind) binds its stored state again.
		c.markPendingImport(k.ID)
	}
	return k, nil
}

// lacksMaterial reports whether k is an imported key with no material to
// use at now: none imported (or deleted since), or past its ValidTo. Such
// a key is PendingImport whatever its stored state (nothing rewrites the
// record when ValidTo passes; CancelKeyDeletion stores Disabled).
func lacksMaterial(k *keystore.Key, hasMaterial bool, now time.Time) bool {
	return k.Origin == keystore.OriginExternal && k.State != keystore.StatePendingDeletion &&
		(!hasMaterial || !k.ValidTo.IsZero() && !now.Before(k.ValidTo))
}

// markPendingImport records that loadKey found key id without usable
// material (lacksMaterial).
func (c *call) markPendingImport(id string) {
	if c.pendingImport == nil {
		c.pendingImport = map[string]bool{}
	}
	c.pendingImport[id] = true
}

// keyState is k's state for this request: PendingImport for an imported key
// loadKey found without usable material, else the stored state.
func (c *call) keyState(k *keystore.Key) string {
	if c.pendingImport[k.ID] {
		return keystore.StatePendingImport
	}
	return k.State
}

// enabled checks that k's stored state allows cryptographic operations
// (for a record read inside Store.UpdateKey).
func (s *Server) enabled(k *keystore.Key) error {
	return s.stateAllowsUse(k, k.State)
}

// enabledFor checks that k's state for request c (call.keyState) allows
// cryptographic operations.
func (s *Server) enabledFor(c *call, k *keystore.Key) error {
	return s.stateAllowsUse(k, c.keyState(k))
}

func (s *Server) stateAllowsUse(k *keystore.Key, state string) error {
	switch state {
	case keystore.StateEnabled:
		return nil
	case keystore.StateDisabled:
		return apiErr(CodeDisabled, "%s is disabled.", s.keyARN(k.ID))
	case keystore.StatePendingDeletion:
		return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
	default:
		return apiErr(CodeInvalidState, "%s is in state %s.", s.keyARN(k.ID), state)
	}
}

// usable checks that k can be used in request c for a cryptographic
// operation of ENCRYPT_DECRYPT usage with a symmetric key.
func (s *Server) usable(c *call, k *keystore.Key) error {
	if err := s.enabledFor(c, k); err != nil {
		return err
	}
	if k.KeySpec != specSymmetric || k.KeyUsage != usageEncrypt {
		return apiErr(CodeInvalidKeyUsage, "%s key usage is %s which is not valid for %s.", s.keyARN(k.ID), k.KeyUsage, "this operation")
	}
	return nil
}

// useKey loads a key for a cryptographic operation: resolve, authorize,
// check state and usage. Authorization comes before the state check so an
// unauthorised caller learns nothing about the key.
func (s *Server) useKey(c *call, ref, action string, ec map[string]string, doc *attestedRecipient) (*keystore.Key, *material, error) {
	k, err := s.loadKey(c, ref)
	if err != nil {
		return nil, nil, err
	}
	if err := s.authorize(c, k, action, ec, doc); err != nil {
		return nil, nil, err
	}
	if err := s.usable(c, k); err != nil {
		return nil, nil, err
	}
	m, err := s.material(k)
	if err != nil {
		return nil, nil, err
	}
	return k, m, nil
}

// material is a key's unwrapped material, cached per key with the record
// fields it was verified with, so that a record changed in the store is
// verified again before use.
type material struct {
	*keymaterial.Material
	spec    *keyspec.Key // every spec but SYMMETRIC_DEFAULT (package keyspec)
	wrapped []byte
	binding keymaterial.Binding // without the grants digest and the tags (see material)
	grants  []keystore.Grant    // the grants verified with it
	tags    []keystore.Tag      // the tags verified with it
	// tagsBound is false for material wrapped before tags were bound
	// (keymaterial.Root.Unwrap's legacy): its record's tags are not
	// vouched for, and aws:ResourceTag conditions cannot be decided.
	tagsBound bool
	// seq is the record's sequence number as verified (0 for a record
	// sealed before the sequence number was bound, whatever it stores).
	seq uint64
}

// binding is the part of k its wrapped material is bound to. The grants,
// which widen access as the policy does, are bound with the policy (see
// grantsDigest); the tags, which decide aws:ResourceTag conditions, too
// (tagsEncoding).
func binding(k *keystore.Key) keymaterial.Binding {
	b := bindingWithoutGrants(k)
	b.Policy += grantsDigest(k.Grants)
	b.Tags = tagsEncoding(k.Tags)
	return b
}

// tagsEncoding is the canonical form of a key's tags for the binding: ""
// without tags, else their JSON (kept sorted by tag key, mergeTags).
func tagsEncoding(tags []keystore.Tag) string {
	if len(tags) == 0 {
		return ""
	}
	b, err := json.Marshal(tags)
	if err != nil { // strings only: cannot happen
		return "\x00unencodable"
	}
	return string(b)
}

// bindingWithoutGrants is binding without the grants digest and the tags
// (which the material cache does not recompute on a hit: see material).
func bindingWithoutGrants(k *keystore.Key) keymaterial.Binding {
	return keymaterial.Binding{KeyID: k.ID, KeySpec: k.KeySpec, KeyUsage: k.KeyUsage, Policy: k.Policy,
		State: k.State, DeletionDate: k.DeletionDate, MaterialID: k.MaterialID,
		Imported: k.Origin == keystore.OriginExternal, ValidTo: k.ValidTo, Seq: k.Seq}
}

// rebind wraps a change of bound fields (policy, state) for
// Store.UpdateKey: it verifies the record as it is in the store now,
// applies change, and wraps the material again for the new binding.
func (s *Server) rebind(change func(k *keystore.Key) error) func(k *keystore.Key) error {
	return s.rebindRaw(func(k *keystore.Key, _ []byte) error { return change(k) })
}

// rebindRaw is rebind whose change also sees the record's unwrapped
// material (empty for an imported key without material).
func (s *Server) rebindRaw(change func(k *keystore.Key, raw []byte) error) func(k *keystore.Key) error {
	return func(k *keystore.Key) error {
		raw, _, err := s.openRecord(k)
		if err != nil {
			return err
		}
		if err := change(k, raw); err != nil {
			return err
		}
		return s.seal(k, raw)
	}
}

// material returns k's unwrapped material, verifying the record first
// unless the same record was verified before. It does not check the
// record's sequence number (loadKey does, with the mark taken before the
// read).
func (s *Server) material(k *keystore.Key) (*material, error) {
	// The grants are compared with those verified rather than hashed
	// again (grantsDigest costs ~0.3 ms for 100 grants).
	b := bindingWithoutGrants(k)
	if v, ok := s.materials.Load(k.ID); ok {
		// A hit needs every bound field and the wrapped bytes unchanged:
		// the cache vouches only for the exact record it verified.
		m := v.(*material)
		if m.binding == b && grantsEqual(m.grants, k.Grants) && slices.Equal(m.tags, k.Tags) && bytes.Equal(m.wrapped, k.WrappedMaterial) {
			return m, nil
		}
	}
	full := b
	full.Policy += grantsDigest(k.Grants)
	full.Tags = tagsEncoding(k.Tags)
	raw, v, err := s.root.Open(full, k.WrappedMaterial)
	if err != nil {
		return nil, err
	}
	var seq uint64
	if v.Seq {
		seq = k.Seq
	}
	legacy := !v.Tags
	if len(raw) == 0 && b.Imported {
		// Verified; no material to use (see loadKey).
		return &material{binding: b, tags: slices.Clone(k.Tags), tagsBound: !legacy, seq: seq}, nil
	}
	km, sk, err := parseMaterial(k.KeySpec, raw)
	if err != nil {
		return nil, err
	}
	m := &material{Material: km, spec: sk, wrapped: bytes.Clone(k.WrappedMaterial), binding: b,
		tags: slices.Clone(k.Tags), tagsBound: !legacy, seq: seq}
	for _, g := range k.Grants {
		m.grants = append(m.grants, g.Clone())
	}
	s.materials.Store(k.ID, m)
	return m, nil
}

type cachedPolicy struct {
	text string
	pol  *policy.Policy
}

func (s *Server) policyOf(k *keystore.Key) (*policy.Policy, error) {
	if v, ok := s.policies.Load(k.ID); ok && v.(*cachedPolicy).text == k.Policy {
		return v.(*cachedPolicy).pol, nil
	}
	p, err := policy.Parse([]byte(k.Policy))
	if err != nil {
		return nil, err
	}
	s.policies.Store(k.ID, &cachedPolicy{text: k.Policy, pol: p})
	return p, nil
}
