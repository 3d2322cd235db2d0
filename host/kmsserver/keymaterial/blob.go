// SPDX-License-Identifier: Apache-2.0

package keymaterial

import (
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"sort"
)

// Ciphertext blob format, version 2 (all of it is bound as additional data
// except the GCM output): it names the key material version (a key's
// material changes at every rotation) beside the key:
//
//	offset  size  field
//	0       3     magic "ekb"
//	3       1     version 0x02
//	4       1     key ID length n (36 for a UUID)
//	5       n     key ID (ASCII)
//	5+n     32    key material ID (32 bytes; as text, 64 hex digits)
//	37+n    12    nonce (random)
//	49+n    rest  AES-256-GCM ciphertext || 16-byte tag
//
// Version 1, written before key rotation existed, names no material: it is
// always under the key's original material (material ID ""):
//
//	offset  size  field
//	0       3     magic "ekb"
//	3       1     version 0x01
//	4       1     key ID length n (36 for a UUID)
//	5       n     key ID (ASCII)
//	5+n     12    nonce (random)
//	17+n    rest  AES-256-GCM ciphertext || 16-byte tag
//
// The additional data is the header (up to the ciphertext) || canonical(encryption
// context), where canonical is: uvarint(count), then for every pair in
// byte-wise key order uvarint(len(k)) k uvarint(len(v)) v. Any change of
// key, material, nonce, version or context therefore fails authentication.
//
// Nonces are 96 random bits from the configured random source for every
// encryption. With random nonces NIST SP 800-38D bounds one key material to
// 2^32 encryptions (collision probability below 2^-32); operators must
// rotate the key (automatic rotation, RotateKeyOnDemand) well before that
// many Encrypt/GenerateDataKey calls under one material.
const (
	blobMagic    = "ekb"
	blobVersion1 = 0x01
	blobVersion2 = 0x02
	// MaterialIDSize is the size in bytes of a key material ID (its text
	// form is twice as many lower-case hex digits).
	MaterialIDSize = 32
	blobNonceSize  = 12
	blobTagSize    = 16
	maxKeyIDLen    = 64
)

// ErrMalformedBlob reports a ciphertext blob that is not of this format, or
// that fails authentication (wrong key, changed bytes, other encryption
// context).
var ErrMalformedBlob = errors.New("keymaterial: malformed ciphertext blob")

// ErrNotEncryptionKey reports blob sealing or opening with material that
// has no AES-GCM cipher (an HMAC key).
var ErrNotEncryptionKey = errors.New("keymaterial: key material is not an encryption key")

// CanonicalContext appends the canonical encoding of an encryption context
// to dst: uvarint(count), then for every pair in byte-wise key order
// uvarint(len(k)) k uvarint(len(v)) v. The encoding is injective and
// independent of map order.
func CanonicalContext(dst []byte, ec map[string]string) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		v := ec[k]
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// SealBlob encrypts plaintext under aead (the key's material) for keyID,
// binding the encryption context ec, with a fresh random nonce from rand,
// in a version 1 blob (one that names no key material).
func SealBlob(aead cipher.AEAD, rand io.Reader, keyID string, plaintext []byte, ec map[string]string) ([]byte, error) {
	return SealBlobMaterial(aead, rand, keyID, "", plaintext, ec)
}

// SealBlobMaterial is [SealBlob] for the key material materialID (64
// lower-case hex digits): a version 2 blob naming it. An empty materialID
// writes a version 1 blob.
func SealBlobMaterial(aead cipher.AEAD, rand io.Reader, keyID, materialID string, plaintext []byte, ec map[string]string) ([]byte, error) {
	if aead == nil {
		return nil, ErrNotEncryptionKey
	}
	if len(keyID) == 0 || len(keyID) > maxKeyIDLen {
		return nil, errors.New("keymaterial: bad key ID length")
	}
	var mid []byte
	if materialID != "" {
		var err error
		if mid, err = hex.DecodeString(materialID); err != nil || len(mid) != MaterialIDSize || hex.EncodeToString(mid) != materialID {
			return nil, errors.New("keymaterial: bad key material ID")
		}
	}
	hdrLen := 5 + len(keyID) + len(mid) + blobNonceSize
	out := make([]byte, hdrLen, hdrLen+len(plaintext)+blobTagSize)
	copy(out, blobMagic)
	out[3] = blobVersion1
	if mid != nil {
		out[3] = blobVersion2
	}
	out[4] = byte(len(keyID))
	copy(out[5:], keyID)
	copy(out[5+len(keyID):], mid)
	nonce := out[hdrLen-blobNonceSize : hdrLen]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, err
	}
	aad := CanonicalContext(append([]byte(nil), out[:hdrLen]...), ec)
	return aead.Seal(out, nonce, plaintext, aad), nil
}

// BlobKeyID returns the key ID named in a blob without decrypting it, or
// [ErrMalformedBlob].
func BlobKeyID(blob []byte) (string, error) {
	id, _, _, err := parseBlob(blob)
	return id, err
}

// BlobMaterialID returns the key material ID named in a blob (64 lower-case
// hex digits), "" for a version 1 blob, or [ErrMalformedBlob].
func BlobMaterialID(blob []byte) (string, error) {
	_, mid, _, err := parseBlob(blob)
	return mid, err
}

// parseBlob returns the key ID, material ID and header length of a blob.
func parseBlob(blob []byte) (keyID, materialID string, hdrLen int, err error) {
	if len(blob) < 5 || string(blob[:3]) != blobMagic || (blob[3] != blobVersion1 && blob[3] != blobVersion2) {
		return "", "", 0, ErrMalformedBlob
	}
	n := int(blob[4])
	midLen := 0
	if blob[3] == blobVersion2 {
		midLen = MaterialIDSize
	}
	hdrLen = 5 + n + midLen + blobNonceSize
	if n == 0 || n > maxKeyIDLen || len(blob) < hdrLen+blobTagSize {
		return "", "", 0, ErrMalformedBlob
	}
	if midLen > 0 {
		materialID = hex.EncodeToString(blob[5+n : 5+n+midLen])
	}
	return string(blob[5 : 5+n]), materialID, hdrLen, nil
}

// OpenBlob authenticates and decrypts a blob produced by [SealBlob] with
// the same material and encryption context; anything else is
// [ErrMalformedBlob].
func OpenBlob(aead cipher.AEAD, blob []byte, ec map[string]string) ([]byte, error) {
	if aead == nil {
		return nil, ErrNotEncryptionKey
	}
	_, _, hdrLen, err := parseBlob(blob)
	if err != nil {
		return nil, err
	}
	aad := CanonicalContext(append([]byte(nil), blob[:hdrLen]...), ec)
	pt, err := aead.Open(nil, blob[hdrLen-blobNonceSize:hdrLen], blob[hdrLen:], aad)
	if err != nil {
		return nil, ErrMalformedBlob
	}
	return pt, nil
}
