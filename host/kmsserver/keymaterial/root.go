// SPDX-License-Identifier: Apache-2.0

package keymaterial

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// RootKeySize is the size of the operator's root key in bytes.
const RootKeySize = 32

const (
	// wrapLabel starts the additional data of every wrapped material; v2
	// binds the key state too.
	wrapLabel = "enclavekit/kms key material v2\x00"
	// wrapLabelV3 is the label of a key's current material when it has a
	// material ID (keys made since rotation exists): v2 and the ID.
	wrapLabelV3 = "enclavekit/kms key material v3\x00"
	// retiredLabel starts the additional data of a material a rotation
	// retired: it is bound to its key, spec and material ID only (it is
	// used only once the key's current record has been verified).
	retiredLabel = "enclavekit/kms retired key material v1\x00"
	// seqLabel starts the additional data of every material wrapped since
	// records carry a sequence number: the label, the sequence number (8
	// bytes), then the AAD of before (v2 or v3, with tags).
	seqLabel = "enclavekit/kms key material v4 sequenced\x00"
	// wrapLabelV1 is the label of records written before the key state was
	// bound; Unwrap still opens them (see Root.Unwrap).
	wrapLabelV1 = "enclavekit/kms key material v1\x00"
	// aliasMACLabel separates the alias MAC key from every other use of
	// the root key.
	aliasMACLabel = "enclavekit kms-server alias record MAC v1"
	// aliasRecordLabel derives the key of the sequenced alias record MAC
	// (Root.AliasRecordMAC), apart from the v1 MAC's key, so that no MAC
	// of one kind is valid as the other.
	aliasRecordLabel = "enclavekit kms-server alias record MAC v2 sequenced"
)

// ErrIntegrity reports a key record whose wrapped material does not open
// under the root key with the record's binding: the record was modified in
// the store, or it was written under another root key.
var ErrIntegrity = errors.New("keymaterial: key record fails its integrity check (modified in the store, or a different root key)")

// RootKeySizeError reports a root key of the wrong length.
type RootKeySizeError struct {
	Got int // length in bytes
}

func (e *RootKeySizeError) Error() string {
	return fmt.Sprintf("keymaterial: root key must be %d bytes, got %d", RootKeySize, e.Got)
}

// Root seals key material under the operator's root key. It is safe for
// concurrent use.
type Root struct {
	aead     cipher.AEAD
	aliasKey []byte // HMAC key for alias records, derived from the root key
	// aliasRecordKey is the HMAC key of sequenced alias records, derived
	// from the root key.
	aliasRecordKey []byte
}

// NewRoot returns the sealer for a 32-byte root key; a key of another
// length is a [*RootKeySizeError].
func NewRoot(key []byte) (*Root, error) {
	if len(key) != RootKeySize {
		return nil, &RootKeySizeError{Got: len(key)}
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	ak, err := hkdf.Key(sha256.New, key, nil, aliasMACLabel, 32)
	if err != nil {
		return nil, err
	}
	rk, err := hkdf.Key(sha256.New, key, nil, aliasRecordLabel, 32)
	if err != nil {
		return nil, err
	}
	return &Root{aead: aead, aliasKey: ak, aliasRecordKey: rk}, nil
}

// Binding is what a key's wrapped material is bound to: the fields of the
// key record that decide who may use the key and how. Changing any of them
// requires the root key (re-wrapping).
type Binding struct {
	KeyID    string
	KeySpec  string
	KeyUsage string
	// Policy is the key policy document; its SHA-256 is bound.
	Policy string
	// State is the key state (Enabled, Disabled, PendingDeletion) and
	// DeletionDate the end of a pending deletion (zero otherwise): a
	// record cannot be brought back into use by editing them. The seal
	// alone says nothing of a record's age: an older record, sealed when
	// the key was enabled (or had another policy), replayed whole opens as
	// well; Seq is what lets the kms-server tell.
	State        string
	DeletionDate time.Time
	// MaterialID names the material (64 hex digits), "" for the original
	// material of a key made before rotation existed.
	MaterialID string
	// Imported is true for a key of Origin EXTERNAL, whose material comes
	// from ImportKeyMaterial, and ValidTo the expiry of that material
	// (zero when it does not expire): both are bound, so a store writer
	// can neither extend the expiry nor turn a key into an imported one.
	Imported bool
	ValidTo  time.Time
	// Tags is the key's tags in the caller's canonical encoding (the
	// kms-server's: their JSON, sorted by tag key); its SHA-256 is bound
	// by every Wrap, empty included, since tags decide access through
	// aws:ResourceTag conditions. Material wrapped before tags were bound
	// opens with legacy true (see Unwrap).
	Tags string
	// Seq is the record's sequence number: the kms-server gives every
	// sealed write of a key's record the previous record's Seq plus one,
	// so that it can tell an older record, replayed, from the latest one
	// it has seen. Bound by every Wrap; material wrapped before it was
	// opens with Vouched.Seq false (see Open).
	Seq uint64
}

// AAD returns the additional data for b: the label, then key ID, key spec,
// key usage and state each followed by a NUL byte, the deletion date as
// 8 bytes of Unix nanoseconds (0 when zero), then the SHA-256 of the
// policy; with a material ID (label v3) the ID and a NUL byte follow. None
// of the names may contain NUL (key IDs are UUIDs, material IDs hex, the
// others KMS's enum values), so the encoding is injective.
//
// An imported key's AAD ends with importMarker and the expiry as 8 bytes of
// Unix seconds (0 when the material does not expire); no other AAD has
// that suffix (v2 ends with a hash, v3 with hex digits and a NUL).
//
// Every AAD then ends with tagsMarker and the SHA-256 of Tags (32 bytes).
// An AAD from before tags were bound (aadWithoutTags) cannot equal one
// with them unless SHA-256 collides with the marker in its last 45 bytes.
//
// Every AAD wrapped now starts with seqLabel and Seq as 8 bytes, the AAD of
// before (aadWithoutSeq) following: no other label starts with seqLabel,
// so the encoding stays injective and apart from the older ones.
func (b Binding) AAD() []byte {
	old := b.aadWithoutSeq()
	aad := make([]byte, 0, len(seqLabel)+8+len(old))
	aad = append(aad, seqLabel...)
	aad = binary.BigEndian.AppendUint64(aad, b.Seq)
	return append(aad, old...)
}

// aadWithoutSeq is the AAD of material wrapped before records carried a
// sequence number (tags bound).
func (b Binding) aadWithoutSeq() []byte {
	h := sha256.Sum256([]byte(b.Tags))
	aad := append(b.aadWithoutTags(), tagsMarker...)
	return append(aad, h[:]...)
}

// aadWithoutTags is the AAD of material wrapped before tags were bound.
func (b Binding) aadWithoutTags() []byte {
	var aad []byte
	if b.MaterialID != "" {
		// v3: the v2 fields, then the material ID and a NUL.
		aad = b.aad(wrapLabelV3, true)
		aad = append(aad, b.MaterialID...)
		aad = append(aad, 0)
	} else {
		aad = b.aad(wrapLabel, true)
	}
	if b.Imported {
		var v int64
		if !b.ValidTo.IsZero() {
			v = b.ValidTo.Unix()
		}
		aad = append(aad, importMarker...)
		aad = binary.BigEndian.AppendUint64(aad, uint64(v))
	}
	return aad
}

// importMarker precedes the expiry in an imported key's AAD.
const importMarker = "\x00imported key material\x00"

func (b Binding) aad(label string, withState bool) []byte {
	h := sha256.Sum256([]byte(b.Policy))
	aad := make([]byte, 0, len(label)+len(b.KeyID)+len(b.KeySpec)+len(b.KeyUsage)+len(b.State)+4+8+len(h))
	aad = append(aad, label...)
	fields := []string{b.KeyID, b.KeySpec, b.KeyUsage}
	if withState {
		fields = append(fields, b.State)
	}
	for _, f := range fields {
		aad = append(aad, f...)
		aad = append(aad, 0)
	}
	if withState {
		var d int64
		if !b.DeletionDate.IsZero() {
			d = b.DeletionDate.UnixNano()
		}
		aad = binary.BigEndian.AppendUint64(aad, uint64(d))
	}
	return append(aad, h[:]...)
}

// Wrap seals raw under the root key for b, with a random nonce from rand:
// nonce || AES-256-GCM(raw, AAD = b.AAD()).
func (r *Root) Wrap(rand io.Reader, b Binding, raw []byte) ([]byte, error) {
	nonce := make([]byte, r.aead.NonceSize())
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, err
	}
	return r.aead.Seal(nonce, nonce, raw, b.AAD()), nil
}

// tagsMarker precedes the SHA-256 of the tags at the end of every AAD
// since tags are bound.
const tagsMarker = "\x00key tags\x00"

// Unwrap opens material sealed by [Root.Wrap] for b, and so verifies the
// binding; any mismatch is [ErrIntegrity]. Material wrapped before the
// tags were bound (every field but Tags), or before the state was bound
// (label v1: key ID, spec, usage and policy only), still opens, with
// legacy true: its tags (and state) are not vouched for until it is
// wrapped again (at its next change of state, policy or tags). Material
// wrapped before the sequence number was bound opens too, legacy false
// when its tags are bound: [Root.Open] tells it apart.
func (r *Root) Unwrap(b Binding, wrapped []byte) (raw []byte, legacy bool, err error) {
	raw, v, err := r.Open(b, wrapped)
	return raw, !v.Tags, err
}

// Vouched says which fields of a [Binding] the seal of an opened record
// covers, beyond key ID, spec, usage and policy (which every label binds).
type Vouched struct {
	// State is true when the state and deletion date are bound (every
	// label but v1), and with them the material ID and import fields.
	State bool
	// Tags is true when the tags are bound too.
	Tags bool
	// Seq is true when the sequence number is bound too (every record
	// wrapped by this version): a record without it is older than any
	// record with it, whatever its stored Seq says.
	Seq bool
}

// Open is [Root.Unwrap] that says which fields the seal vouches for: a
// record wrapped before its state was bound (label v1) opens with
// State false, and its state (pending deletion above all) may be a store
// writer's; one wrapped before the sequence number was bound, with Seq
// false (b.Seq is then not checked: such a record counts as sequence 0).
func (r *Root) Open(b Binding, wrapped []byte) (raw []byte, v Vouched, err error) {
	ns := r.aead.NonceSize()
	if len(wrapped) < ns {
		return nil, Vouched{}, ErrIntegrity
	}
	if raw, err := r.aead.Open(nil, wrapped[:ns], wrapped[ns:], b.AAD()); err == nil {
		return raw, Vouched{State: true, Tags: true, Seq: true}, nil
	}
	if raw, err := r.aead.Open(nil, wrapped[:ns], wrapped[ns:], b.aadWithoutSeq()); err == nil {
		return raw, Vouched{State: true, Tags: true}, nil
	}
	if raw, err := r.aead.Open(nil, wrapped[:ns], wrapped[ns:], b.aadWithoutTags()); err == nil {
		return raw, Vouched{State: true}, nil
	}
	if b.MaterialID != "" {
		return nil, Vouched{}, ErrIntegrity
	}
	if raw, err := r.aead.Open(nil, wrapped[:ns], wrapped[ns:], b.aad(wrapLabelV1, false)); err == nil {
		return raw, Vouched{}, nil
	}
	return nil, Vouched{}, ErrIntegrity
}

// retiredAAD is the additional data of a retired material: the label,
// then key ID, key spec and material ID, each followed by a NUL byte.
func retiredAAD(keyID, keySpec, materialID string) []byte {
	aad := make([]byte, 0, len(retiredLabel)+len(keyID)+len(keySpec)+len(materialID)+3)
	aad = append(aad, retiredLabel...)
	for _, f := range []string{keyID, keySpec, materialID} {
		aad = append(aad, f...)
		aad = append(aad, 0)
	}
	return aad
}

// WrapRetired seals raw, a material a rotation retired (materialID "" for
// the original material of a key made before rotation existed), under the
// root key for its key and spec: nonce || AES-256-GCM(raw).
func (r *Root) WrapRetired(rand io.Reader, keyID, keySpec, materialID string, raw []byte) ([]byte, error) {
	nonce := make([]byte, r.aead.NonceSize())
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, err
	}
	return r.aead.Seal(nonce, nonce, raw, retiredAAD(keyID, keySpec, materialID)), nil
}

// UnwrapRetired opens a material sealed by [Root.WrapRetired]; any
// mismatch (another key, spec or material ID) is [ErrIntegrity].
func (r *Root) UnwrapRetired(keyID, keySpec, materialID string, wrapped []byte) ([]byte, error) {
	ns := r.aead.NonceSize()
	if len(wrapped) < ns {
		return nil, ErrIntegrity
	}
	raw, err := r.aead.Open(nil, wrapped[:ns], wrapped[ns:], retiredAAD(keyID, keySpec, materialID))
	if err != nil {
		return nil, ErrIntegrity
	}
	return raw, nil
}

// NewMaterialID returns a fresh key material ID from rand: 32 random bytes
// as 64 lower-case hex digits, the form of AWS's KeyMaterialId.
func NewMaterialID(rand io.Reader) (string, error) {
	var b [MaterialIDSize]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// AliasMAC binds an alias name to its key ID: HMAC-SHA256 under a key
// derived from the root key over uint32(len(name)) || name || keyID.
// Whoever can write to the key store without the root key cannot point an
// existing alias at another key (one whose policy they control).
func (r *Root) AliasMAC(name, keyID string) []byte {
	m := hmac.New(sha256.New, r.aliasKey)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(name)))
	m.Write(n[:])
	m.Write([]byte(name))
	m.Write([]byte(keyID))
	return m.Sum(nil)
}

// AliasValid reports whether mac is the one [Root.AliasMAC] gives for name
// and keyID (constant time).
func (r *Root) AliasValid(name, keyID string, mac []byte) bool {
	return hmac.Equal(mac, r.AliasMAC(name, keyID))
}

// AliasRecordMAC binds a whole alias record: its name, the key ID it
// names, when the alias was created and the record's sequence number
// since (one more at every change): HMAC-SHA256, under a key derived from
// the root key apart from [Root.AliasMAC]'s, over uint32(len(name)) ||
// name || uint32(len(keyID)) || keyID || int64(created's Unix seconds) ||
// uint32(created's nanoseconds) || uint64(seq). Beside what
// [Root.AliasMAC] prevents, the creation time and sequence number let the
// server tell an old record put back in the store from the latest.
func (r *Root) AliasRecordMAC(name, keyID string, created time.Time, seq uint64) []byte {
	m := hmac.New(sha256.New, r.aliasRecordKey)
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], uint32(len(name)))
	m.Write(b[:4])
	m.Write([]byte(name))
	binary.BigEndian.PutUint32(b[:4], uint32(len(keyID)))
	m.Write(b[:4])
	m.Write([]byte(keyID))
	binary.BigEndian.PutUint64(b[:], uint64(created.Unix()))
	m.Write(b[:])
	binary.BigEndian.PutUint32(b[:4], uint32(created.Nanosecond()))
	m.Write(b[:4])
	binary.BigEndian.PutUint64(b[:], seq)
	m.Write(b[:])
	return m.Sum(nil)
}

// AliasRecordValid reports whether mac is the one [Root.AliasRecordMAC]
// gives for the fields (constant time).
func (r *Root) AliasRecordValid(name, keyID string, created time.Time, seq uint64, mac []byte) bool {
	return hmac.Equal(mac, r.AliasRecordMAC(name, keyID, created, seq))
}
