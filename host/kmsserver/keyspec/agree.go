// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/x509"
)

var agreementEnum = newEnum("[ECDH]")

// ParsePeerPublicKey parses the PublicKey member of DeriveSharedSecret for a
// key of spec: DER SubjectPublicKeyInfo (RFC 5280) of an ECC key on spec's
// curve, with an uncompressed point on the curve and nothing after it. Any
// other input (PEM, a bare point, another curve, secp256k1, RSA, a point
// off the curve or at infinity, more than 8192 bytes) is a
// [*ValidationError] for the member "publicKey".
func ParsePeerPublicKey(spec Spec, der []byte) (*ecdh.PublicKey, error) {
	curve := curves[spec]
	if curve == nil {
		return nil, &ValidationError{Field: "keySpec", Value: string(spec), Reason: "key agreement needs an ECC_NIST_P256, ECC_NIST_P384 or ECC_NIST_P521 key"}
	}
	if len(der) == 0 || len(der) > MaxPublicKey {
		return nil, &ValidationError{Field: "publicKey", Reason: "Member must have length between 1 and 8192"}
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, &ValidationError{Field: "publicKey", Reason: "the public key must be a DER-encoded X.509 SubjectPublicKeyInfo of a key on the curve of " + string(spec) + ": " + err.Error()}
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, &ValidationError{Field: "publicKey", Reason: "the public key is not an elliptic curve key; " + string(spec) + " needs a key on the same curve"}
	}
	if ec.Curve != curve {
		return nil, &ValidationError{Field: "publicKey", Reason: "the public key is on " + ec.Curve.Params().Name + ", not on the curve of " + string(spec)}
	}
	p, err := ec.ECDH()
	if err != nil {
		return nil, &ValidationError{Field: "publicKey", Reason: "the public key is not a valid point: " + err.Error()}
	}
	return p, nil
}

// DeriveSharedSecret returns the ECDH shared secret of the key and the peer's
// public key (see [ParsePeerPublicKey]): the x-coordinate of the shared point,
// as long as the curve's field (32, 48 or 66 bytes), as AWS KMS
// DeriveSharedSecret and `openssl pkeyutl -derive` return it. The key must
// be an ECC_NIST key (InvalidKeyUsageException) and alg ECDH
// (ValidationException).
func (k *Key) DeriveSharedSecret(alg KeyAgreementAlgorithm, peer []byte) ([]byte, error) {
	if len(k.info.agree) == 0 {
		return nil, &KeyUsageError{Spec: k.spec, Usage: k.info.usages[0], Operation: OpDeriveSharedSecret}
	}
	if err := checkEnum("keyAgreementAlgorithm", string(alg), agreementEnum); err != nil {
		return nil, err
	}
	pub, err := ParsePeerPublicKey(k.spec, peer)
	if err != nil {
		return nil, err
	}
	priv, err := k.ecdhOnce()
	if err != nil {
		return nil, err
	}
	return priv.ECDH(pub)
}
