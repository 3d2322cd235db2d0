// SPDX-License-Identifier: Apache-2.0

package keymaterial

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"io"
	"sort"
)

// Ciphertext blob format, version 1 (all of it is bound as additional data
// except the GCM output):
//
//	offset  size  field
//	0       3     magic "ekb"
//	3       1     version 0x01
//	4       1     key ID length n (36 for a UUID)
//	5       n     key ID (ASCII)
//	5+n     12    nonce (random)
//	17+n    rest  AES-256-GCM ciphertext || 16-byte tag
//
// The additional data is header (bytes 0 to 17+n) || canonical(encryption
// context), where canonical is: uvarint(count), then for every pair in
// byte-wise key order uvarint(len(k)) k uvarint(len(v)) v. Any change of
// key, nonce, version or context therefore fails authentication.
//
// Nonces are 96 random bits from the configured random source for every
// encryption. With random nonces NIST SP 800-38D bounds one key to 2^32
// encryptions (collision probability below 2^-32); operators must rotate to
// a new key well before that many Encrypt/GenerateDataKey calls on one key.
const (
	blobMagic     = "ekb"
	blobVersion1  = 0x01
	blobNonceSize = 12
	blobTagSize   = 16
	maxKeyIDLen   = 64
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
// binding the encryption context ec, with a fresh random nonce from rand.
func SealBlob(aead cipher.AEAD, rand io.Reader, keyID string, plaintext []byte, ec map[string]string) ([]byte, error) {
	if aead == nil {
		return nil, ErrNotEncryptionKey
	}
	if len(keyID) == 0 || len(keyID) > maxKeyIDLen {
		return nil, errors.New("keymaterial: bad key ID length")
	}
	hdrLen := 5 + len(keyID) + blobNonceSize
	out := make([]byte, hdrLen, hdrLen+len(plaintext)+blobTagSize)
	copy(out, blobMagic)
	out[3] = blobVersion1
	out[4] = byte(len(keyID))
	copy(out[5:], keyID)
	nonce := out[5+len(keyID) : hdrLen]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, err
	}
	aad := CanonicalContext(append([]byte(nil), out[:hdrLen]...), ec)
	return aead.Seal(out, nonce, plaintext, aad), nil
}

// BlobKeyID returns the key ID named in a blob without decrypting it, or
// [ErrMalformedBlob].
func BlobKeyID(blob []byte) (string, error) {
	if len(blob) < 5 || string(blob[:3]) != blobMagic || blob[3] != blobVersion1 {
		return "", ErrMalformedBlob
	}
	n := int(blob[4])
	if n == 0 || n > maxKeyIDLen || len(blob) < 5+n+blobNonceSize+blobTagSize {
		return "", ErrMalformedBlob
	}
	return string(blob[5 : 5+n]), nil
}

// OpenBlob authenticates and decrypts a blob produced by [SealBlob] with
// the same material and encryption context; anything else is
// [ErrMalformedBlob].
func OpenBlob(aead cipher.AEAD, blob []byte, ec map[string]string) ([]byte, error) {
	if aead == nil {
		return nil, ErrNotEncryptionKey
	}
	id, err := BlobKeyID(blob)
	if err != nil {
		return nil, err
	}
	hdrLen := 5 + len(id) + blobNonceSize
	aad := CanonicalContext(append([]byte(nil), blob[:hdrLen]...), ec)
	pt, err := aead.Open(nil, blob[5+len(id):hdrLen], blob[hdrLen:], aad)
	if err != nil {
		return nil, ErrMalformedBlob
	}
	return pt, nil
}
