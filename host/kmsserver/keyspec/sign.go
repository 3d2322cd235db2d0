// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"slices"
	"strconv"
	"strings"

	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

var signingEnum = newEnum("[RSASSA_PSS_SHA_256, RSASSA_PSS_SHA_384, RSASSA_PSS_SHA_512, RSASSA_PKCS1_V1_5_SHA_256, RSASSA_PKCS1_V1_5_SHA_384, RSASSA_PKCS1_V1_5_SHA_512, ECDSA_SHA_256, ECDSA_SHA_384, ECDSA_SHA_512, SM2DSA, ML_DSA_SHAKE_256, ED25519_SHA_512, ED25519_PH_SHA_512]")

// pssOptions: the salt is as long as the hash, as AWS KMS documents for
// every RSASSA_PSS algorithm.
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

// digestFor checks alg against the key and the message against the message
// type, and returns the hash and the digest to sign or verify. The checks,
// in AWS's order: the key must be a signing key; alg must be a known signing
// algorithm (ValidationException) that goes with the spec
// (InvalidKeyUsageException); mt must be RAW, DIGEST or empty
// (ValidationException; EXTERNAL_MU is for ML-DSA keys only, which take
// RAW or EXTERNAL_MU); the message must be 1 to 4096 bytes, a DIGEST
// exactly as long as alg's hash and an EXTERNAL_MU exactly 64 bytes
// (ValidationException).
func (k *Key) digestFor(op Operation, alg SigningAlgorithm, mt MessageType, msg []byte) (crypto.Hash, []byte, error) {
	if len(k.info.signing) == 0 {
		return 0, nil, &KeyUsageError{Spec: k.spec, Usage: k.info.usages[0], Operation: op}
	}
	if err := checkEnum("signingAlgorithm", string(alg), signingEnum); err != nil {
		return 0, nil, err
	}
	if !slices.Contains(k.info.signing, alg) {
		return 0, nil, &KeyUsageError{Spec: k.spec, Algorithm: string(alg)}
	}
	h := hashOf(string(alg))
	if len(msg) == 0 || len(msg) > MaxMessage {
		return 0, nil, &ValidationError{Field: "message", Reason: "Member must have length between 1 and 4096"}
	}
	switch alg {
	case ML_DSA_SHAKE_256: // ML-DSA hashes the message itself (or takes μ)
		if err := checkMLDSAMessage(mt, msg); err != nil {
			return 0, nil, err
		}
		return 0, msg, nil
	case ED25519_SHA_512: // pure Ed25519 signs the message itself
		if mt != RAW && mt != "" {
			return 0, nil, &ValidationError{Field: "messageType", Value: string(mt), Reason: "ED25519_SHA_512 requires MessageType RAW"}
		}
		return 0, msg, nil
	case ED25519_PH_SHA_512: // Ed25519ph of the digest: its prehash hashes it again
		if mt != DIGEST {
			return 0, nil, &ValidationError{Field: "messageType", Value: string(mt), Reason: "ED25519_PH_SHA_512 requires MessageType DIGEST"}
		}
		if len(msg) != sha512.Size {
			return 0, nil, &ValidationError{Field: "message", Reason: "Digest is invalid length for algorithm ED25519_PH_SHA_512: a DIGEST message must be exactly 64 bytes"}
		}
		d := sha512.Sum512(msg)
		return crypto.SHA512, d[:], nil
	}
	switch mt {
	case RAW, "":
		hh := h.New()
		hh.Write(msg)
		return h, hh.Sum(nil), nil
	case DIGEST:
		if len(msg) != h.Size() {
			return 0, nil, &ValidationError{Field: "message",
				Reason: "Digest is invalid length for algorithm " + string(alg) + ": a DIGEST message must be exactly " + strconv.Itoa(h.Size()) + " bytes"}
		}
		return h, msg, nil
	case EXTERNAL_MU:
		return 0, nil, &ValidationError{Field: "messageType", Value: string(mt), Reason: "EXTERNAL_MU is valid only for ML_DSA keys"}
	default:
		return 0, nil, &ValidationError{Field: "messageType", Value: string(mt), Reason: "Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]"}
	}
}

// Sign signs msg with alg, as AWS KMS Sign: mt RAW (or empty) hashes msg
// with alg's hash first, DIGEST takes msg as that hash. RSASSA-PSS uses a
// salt as long as the hash; ECDSA signatures are DER-encoded
// Ecdsa-Sig-Value (RFC 3279), as AWS returns them (secp256k1 signatures are
// RFC 6979 deterministic and low-S). ED25519_SHA_512 is pure Ed25519 of a
// RAW message; ED25519_PH_SHA_512 is Ed25519ph of a 64-byte DIGEST message,
// which it hashes again (AWS's definition). Errors: see digestFor.
func (k *Key) Sign(alg SigningAlgorithm, mt MessageType, msg []byte) ([]byte, error) {
	h, digest, err := k.digestFor(OpSign, alg, mt, msg)
	if err != nil {
		return nil, err
	}
	switch {
	case k.rsa != nil:
		if strings.HasPrefix(string(alg), "RSASSA_PSS_") {
			return rsa.SignPSS(rand.Reader, k.rsa, h, digest, pssOptions)
		}
		return rsa.SignPKCS1v15(nil, k.rsa, h, digest)
	case k.ec != nil:
		return ecdsa.SignASN1(rand.Reader, k.ec, digest)
	case k.ed != nil:
		return k.ed.Sign(nil, digest, &ed25519.Options{Hash: h})
	case k.mldsa != nil:
		return k.signMLDSA(mt, digest)
	default: // secp256k1
		return secpecdsa.Sign(k.k1, digest).Serialize(), nil
	}
}

// Verify checks sig over msg with alg, as AWS KMS Verify: nil when it
// verifies, an [*InvalidSignatureError] (KMSInvalidSignatureException) when
// it does not, whatever the reason (a malformed signature included). sig
// must be 1 to 6144 bytes (ValidationException); the other checks are
// Sign's. RSASSA-PSS signatures must have a salt as long as the hash; ECDSA
// signatures must be strict DER, and high-S secp256k1 signatures verify (AWS
// does not normalise s either).
func (k *Key) Verify(alg SigningAlgorithm, mt MessageType, msg, sig []byte) error {
	h, digest, err := k.digestFor(OpVerify, alg, mt, msg)
	if err != nil {
		return err
	}
	if len(sig) == 0 || len(sig) > MaxSignature {
		return &ValidationError{Field: "signature", Reason: "Member must have length between 1 and 6144"}
	}
	if mt == "" {
		mt = RAW
	}
	bad := &InvalidSignatureError{Algorithm: alg, MessageType: mt}
	switch {
	case k.mldsa != nil:
		return k.verifyMLDSA(mt, digest, sig)
	case k.rsa != nil:
		var err error
		if strings.HasPrefix(string(alg), "RSASSA_PSS_") {
			err = rsa.VerifyPSS(&k.rsa.PublicKey, h, digest, sig, pssOptions)
		} else {
			err = rsa.VerifyPKCS1v15(&k.rsa.PublicKey, h, digest, sig)
		}
		if err != nil {
			return bad
		}
	case k.ec != nil:
		if !ecdsa.VerifyASN1(&k.ec.PublicKey, digest, sig) {
			return bad
		}
	case k.ed != nil:
		if ed25519.VerifyWithOptions(k.ed.Public().(ed25519.PublicKey), digest, sig, &ed25519.Options{Hash: h}) != nil {
			return bad
		}
	default: // secp256k1
		s, err := secpecdsa.ParseDERSignature(sig)
		if err != nil || !s.Verify(digest, k.k1pub) {
			return bad
		}
	}
	return nil
}
