// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"strconv"
)

var encryptionEnum = newEnum("[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]")

// oaepFor checks alg against the key: the key must be an RSA key
// (InvalidKeyUsageException), alg a known encryption algorithm
// (ValidationException) that goes with RSA (InvalidKeyUsageException).
func (k *Key) oaepFor(op Operation, alg EncryptionAlgorithm) error {
	if k.rsa == nil {
		return &KeyUsageError{Spec: k.spec, Usage: k.info.usages[0], Operation: op}
	}
	if err := checkEnum("encryptionAlgorithm", string(alg), encryptionEnum); err != nil {
		return err
	}
	if !slices.Contains(k.info.enc, alg) {
		return &KeyUsageError{Spec: k.spec, Algorithm: string(alg)}
	}
	return nil
}

// MaxPlaintext returns the longest plaintext Encrypt takes with alg under
// an RSA key of spec: k - 2·hLen - 2 bytes (RFC 8017, 7.1.1), which is 214,
// 342 and 470 bytes with RSAES_OAEP_SHA_1 and 190, 318 and 446 bytes with
// RSAES_OAEP_SHA_256 for RSA_2048, RSA_3072 and RSA_4096, as AWS documents.
// It returns 0 for any other pair.
func MaxPlaintext(spec Spec, alg EncryptionAlgorithm) int {
	info := specs[spec]
	if info == nil || info.rsaBits == 0 || !slices.Contains(info.enc, alg) {
		return 0
	}
	return info.rsaBits/8 - 2*hashOf(string(alg)).Size() - 2
}

// Encrypt encrypts plaintext with RSAES-OAEP (alg's hash for both the label
// hash and MGF1, empty label), as AWS KMS Encrypt with an RSA key. The
// plaintext must be 1 to [MaxPlaintext] bytes (ValidationException).
func (k *Key) Encrypt(alg EncryptionAlgorithm, plaintext []byte) ([]byte, error) {
	if err := k.oaepFor(OpEncrypt, alg); err != nil {
		return nil, err
	}
	if max := MaxPlaintext(k.spec, alg); len(plaintext) == 0 || len(plaintext) > max {
		return nil, &ValidationError{Field: "plaintext", Reason: "Member must have length between 1 and " + strconv.Itoa(max) + " for " + string(alg) + " with " + string(k.spec)}
	}
	h := hashOf(string(alg))
	return rsa.EncryptOAEP(h.New(), rand.Reader, &k.rsa.PublicKey, plaintext, nil)
}

// Decrypt decrypts an RSAES-OAEP ciphertext, as AWS KMS Decrypt with an RSA
// key. The ciphertext must be 1 to 6144 bytes (ValidationException); one
// that does not decrypt, whatever the reason, is an
// [*InvalidCiphertextError] that says nothing more.
func (k *Key) Decrypt(alg EncryptionAlgorithm, ciphertext []byte) ([]byte, error) {
	if err := k.oaepFor(OpDecrypt, alg); err != nil {
		return nil, err
	}
	if len(ciphertext) == 0 || len(ciphertext) > MaxCiphertext {
		return nil, &ValidationError{Field: "ciphertextBlob", Reason: "Member must have length between 1 and 6144"}
	}
	h := hashOf(string(alg))
	pt, err := rsa.DecryptOAEP(h.New(), nil, k.rsa, ciphertext, nil)
	if err != nil {
		return nil, &InvalidCiphertextError{Algorithm: string(alg)}
	}
	return pt, nil
}
