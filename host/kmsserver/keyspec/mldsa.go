// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"crypto/sha3"
	"errors"
	"fmt"

	"filippo.io/mldsa"
	"filippo.io/mldsa/mldsacrypto"
	mldsax509 "filippo.io/mldsa/x509"
)

// ML-DSA (FIPS 204) keys: filippo.io/mldsa (the standard library's
// crypto/internal/fips140/mldsa, packaged for Go 1.26) signs and verifies,
// and its x509 package writes the key formats of RFC 9881: PKCS #8 with the
// 32-byte seed ([0] IMPLICIT OCTET STRING) and SubjectPublicKeyInfo with
// id-ml-dsa-44/65/87 (2.16.840.1.101.3.4.3.17/18/19), no parameters, as
// AWS's GetPublicKey returns.

// MuSize is the length of an EXTERNAL_MU message: the 64-byte message
// representative μ of FIPS 204 section 6.2 (algorithm 7, line 6),
// SHAKE256(SHAKE256(pk, 64) || 0x00 || 0x00 || message, 64) for the empty
// context AWS signs with.
const MuSize = 64

// ML_DSA_SHAKE_256 is ML-DSA (pure, the empty context, hedged signing) of
// a RAW message, or of the μ of an EXTERNAL_MU message: the two give
// signatures that verify for the same message.
const ML_DSA_SHAKE_256 SigningAlgorithm = "ML_DSA_SHAKE_256"

var mldsaParams = map[Spec]mldsa.Parameters{
	MLDSA44: mldsa.MLDSA44(),
	MLDSA65: mldsa.MLDSA65(),
	MLDSA87: mldsa.MLDSA87(),
}

// ErrExternalMuVerify is the reason Verify refuses EXTERNAL_MU: no Go ML-DSA
// library (filippo.io/mldsa, cloudflare/circl, Go 1.27's crypto/mldsa)
// exports verification of an external μ.
var ErrExternalMuVerify = errors.New("keyspec: Verify with MessageType EXTERNAL_MU is not implemented: no Go ML-DSA library exports verification of an external μ; verify the RAW message, or verify locally with the public key")

// isMLDSA reports whether spec is one of the ML-DSA specs.
func isMLDSA(spec Spec) bool {
	_, ok := mldsaParams[spec]
	return ok
}

func generateMLDSA(spec Spec, info *specInfo) (*Key, error) {
	sk, err := mldsa.GenerateKey(mldsaParams[spec])
	if err != nil {
		return nil, err
	}
	return fromMLDSA(spec, info, sk)
}

func parseMLDSA(spec Spec, info *specInfo, der []byte) (*Key, error) {
	priv, err := mldsax509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keyspec: %s material: %w", spec, err)
	}
	sk, ok := priv.(*mldsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("keyspec: %s material is a %T", spec, priv)
	}
	if sk.PublicKey().Parameters() != mldsaParams[spec] {
		return nil, fmt.Errorf("keyspec: %s material is an %s key", spec, sk.PublicKey().Parameters())
	}
	return fromMLDSA(spec, info, sk)
}

func fromMLDSA(spec Spec, info *specInfo, sk *mldsa.PrivateKey) (*Key, error) {
	der, err := mldsax509.MarshalPKCS8PrivateKey(sk)
	if err != nil {
		return nil, err
	}
	pub := sk.PublicKey()
	spki, err := mldsax509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return &Key{spec: spec, info: info, mldsa: sk, mldsaPub: pub, der: der, spki: spki}, nil
}

// checkMLDSAMessage checks mt and msg for ML_DSA_SHAKE_256: RAW (or empty)
// with 1 to 4096 bytes, or EXTERNAL_MU with exactly 64; DIGEST is refused
// (AWS's ML-DSA is not HashML-DSA).
func checkMLDSAMessage(mt MessageType, msg []byte) error {
	switch mt {
	case RAW, "":
		return nil
	case EXTERNAL_MU:
		if len(msg) != MuSize {
			return &ValidationError{Field: "message", Reason: "an EXTERNAL_MU message must be exactly 64 bytes"}
		}
		return nil
	case DIGEST:
		return &ValidationError{Field: "messageType", Value: string(mt), Reason: "ML_DSA_SHAKE_256 takes MessageType RAW or EXTERNAL_MU"}
	default:
		return &ValidationError{Field: "messageType", Value: string(mt), Reason: "Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]"}
	}
}

func (k *Key) signMLDSA(mt MessageType, msg []byte) ([]byte, error) {
	if mt == EXTERNAL_MU {
		return k.mldsa.Sign(nil, msg, mldsacrypto.MLDSAMu)
	}
	return k.mldsa.Sign(nil, msg, nil)
}

func (k *Key) verifyMLDSA(mt MessageType, msg, sig []byte) error {
	if mt == EXTERNAL_MU {
		return &UnsupportedError{Spec: k.spec, Operation: OpVerify, Algorithm: string(EXTERNAL_MU), Reason: ErrExternalMuVerify.Error()}
	}
	if mldsa.Verify(k.mldsaPub, msg, sig, nil) != nil {
		return &InvalidSignatureError{Algorithm: ML_DSA_SHAKE_256, MessageType: RAW}
	}
	return nil
}

// MLDSAMu returns the EXTERNAL_MU message for msg under the ML-DSA public
// key pub (the raw FIPS 204 encoding, not DER): μ for the empty context,
// as AWS's documentation computes it with OpenSSL.
func MLDSAMu(pub, msg []byte) []byte {
	tr := sha3.SumSHAKE256(pub, 64)
	h := sha3.NewSHAKE256()
	h.Write(tr)
	h.Write([]byte{0, 0})
	h.Write(msg)
	mu := make([]byte, MuSize)
	h.Read(mu)
	return mu
}
