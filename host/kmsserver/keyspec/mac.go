// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"crypto/hmac"
	"slices"
)

var macEnum = newEnum("[HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384, HMAC_SHA_512]")

// macFor checks the key, alg and message as AWS does: an HMAC key
// (InvalidKeyUsageException), a known MAC algorithm (ValidationException)
// that is the spec's own (InvalidKeyUsageException: HMAC_SHA_256 only with
// HMAC_256), a message of 1 to 4096 bytes (ValidationException).
func (k *Key) macFor(op Operation, alg MacAlgorithm, msg []byte) error {
	if k.hmac == nil {
		return &KeyUsageError{Spec: k.spec, Usage: k.info.usages[0], Operation: op}
	}
	if err := checkEnum("macAlgorithm", string(alg), macEnum); err != nil {
		return err
	}
	if !slices.Contains(k.info.mac, alg) {
		return &KeyUsageError{Spec: k.spec, Algorithm: string(alg)}
	}
	if len(msg) == 0 || len(msg) > MaxMessage {
		return &ValidationError{Field: "message", Reason: "Member must have length between 1 and 4096"}
	}
	return nil
}

func (k *Key) mac(alg MacAlgorithm, msg []byte) []byte {
	m := hmac.New(hashOf(string(alg)).New, k.hmac)
	m.Write(msg)
	return m.Sum(nil)
}

// GenerateMac returns HMAC(key, msg) with alg's hash (RFC 2104), as AWS KMS
// GenerateMac. Errors: see macFor.
func (k *Key) GenerateMac(alg MacAlgorithm, msg []byte) ([]byte, error) {
	if err := k.macFor(OpGenerateMac, alg, msg); err != nil {
		return nil, err
	}
	return k.mac(alg, msg), nil
}

// VerifyMac checks mac over msg in constant time, as AWS KMS VerifyMac: nil
// when it matches, an [*InvalidMacError] (KMSInvalidMacException) when it
// does not. mac must be 1 to 6144 bytes (ValidationException).
func (k *Key) VerifyMac(alg MacAlgorithm, msg, mac []byte) error {
	if err := k.macFor(OpVerifyMac, alg, msg); err != nil {
		return err
	}
	if len(mac) == 0 || len(mac) > MaxSignature {
		return &ValidationError{Field: "mac", Reason: "Member must have length between 1 and 6144"}
	}
	if !hmac.Equal(k.mac(alg, msg), mac) {
		return &InvalidMacError{Algorithm: alg}
	}
	return nil
}
