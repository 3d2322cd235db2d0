// SPDX-License-Identifier: Apache-2.0

package keymaterial

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
)

// KMS key specs and usages kms-server generates material for.
const (
	SpecSymmetric          = "SYMMETRIC_DEFAULT"
	UsageEncryptDecrypt    = "ENCRYPT_DECRYPT"
	UsageGenerateVerifyMAC = "GENERATE_VERIFY_MAC"
)

var hmacSizes = map[string]int{"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64}

// KeySize returns the size in bytes of a KMS key's material for spec: 32
// for SYMMETRIC_DEFAULT (AES-256), 28, 32, 48 or 64 for HMAC_224 to
// HMAC_512. ok is false for any other spec.
func KeySize(spec string) (n int, ok bool) {
	if spec == SpecSymmetric {
		return 32, true
	}
	n, ok = hmacSizes[spec]
	return n, ok
}

// IsHMAC reports whether spec is one of the HMAC key specs.
func IsHMAC(spec string) bool { return hmacSizes[spec] != 0 }

// Generate returns fresh material for spec from rand.
func Generate(spec string, rand io.Reader) ([]byte, error) {
	n, ok := KeySize(spec)
	if !ok {
		return nil, &UnsupportedSpecError{Spec: spec}
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(rand, raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// UnsupportedSpecError reports a key spec or key pair spec this package
// does not generate.
type UnsupportedSpecError struct {
	Spec string
}

func (e *UnsupportedSpecError) Error() string {
	return fmt.Sprintf("keymaterial: unsupported key spec %q", e.Spec)
}

// Material is a key's unwrapped material, ready for use.
type Material struct {
	// Raw is the material itself.
	Raw []byte
	// AEAD is AES-256-GCM under Raw for SYMMETRIC_DEFAULT keys; nil for
	// others, for which [SealBlob] and [OpenBlob] fail with
	// [ErrNotEncryptionKey].
	AEAD cipher.AEAD
}

// NewMaterial prepares raw material of a key of the given spec.
func NewMaterial(spec string, raw []byte) (*Material, error) {
	n, ok := KeySize(spec)
	if !ok {
		return nil, &UnsupportedSpecError{Spec: spec}
	}
	if len(raw) != n {
		return nil, ErrIntegrity // a record whose spec and material disagree
	}
	m := &Material{Raw: raw}
	if spec == SpecSymmetric {
		blk, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		if m.AEAD, err = cipher.NewGCM(blk); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Data-key sizes of GenerateDataKey's NumberOfBytes.
const (
	MinDataKeyBytes = 1
	MaxDataKeyBytes = 1024
)

// DataKeySpecSize returns the size in bytes of a GenerateDataKey KeySpec:
// 32 for AES_256, 16 for AES_128; ok is false for any other.
func DataKeySpecSize(spec string) (n int, ok bool) {
	switch spec {
	case "AES_256":
		return 32, true
	case "AES_128":
		return 16, true
	}
	return 0, false
}

// keyPairSpecs are the GenerateDataKeyPair specs GenerateKeyPair makes.
var keyPairSpecs = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"}

// KeyPairSpecs returns the GenerateDataKeyPair specs [GenerateKeyPair]
// makes, in KMS's order.
func KeyPairSpecs() []string { return slices.Clone(keyPairSpecs) }

// IsKeyPairSpec reports whether [GenerateKeyPair] makes spec.
func IsKeyPairSpec(spec string) bool { return slices.Contains(keyPairSpecs, spec) }

// GenerateKeyPair returns a fresh key pair for spec as PKCS#8 private and
// SubjectPublicKeyInfo public DER; an unknown spec is an
// [*UnsupportedSpecError].
func GenerateKeyPair(spec string, rand io.Reader) (priv, pub []byte, err error) {
	var key crypto.Signer
	switch spec {
	case "RSA_2048":
		key, err = rsa.GenerateKey(rand, 2048)
	case "RSA_3072":
		key, err = rsa.GenerateKey(rand, 3072)
	case "RSA_4096":
		key, err = rsa.GenerateKey(rand, 4096)
	case "ECC_NIST_P256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand)
	case "ECC_NIST_P384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand)
	case "ECC_NIST_P521":
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand)
	default:
		return nil, nil, &UnsupportedSpecError{Spec: spec}
	}
	if err != nil {
		return nil, nil, err
	}
	if priv, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
		return nil, nil, err
	}
	if pub, err = x509.MarshalPKIXPublicKey(key.Public()); err != nil {
		return nil, nil, err
	}
	return priv, pub, nil
}
