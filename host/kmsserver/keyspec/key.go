// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"sync"

	"filippo.io/mldsa"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Key is the private material of one KMS key of an asymmetric or HMAC spec,
// ready to use. A Key is safe for concurrent use; it never changes after
// [Generate] or [ParsePrivateKey] returns it.
type Key struct {
	spec Spec
	info *specInfo

	rsa      *rsa.PrivateKey
	ec       *ecdsa.PrivateKey // NIST curves
	k1       *secp256k1.PrivateKey
	k1pub    *secp256k1.PublicKey
	ed       ed25519.PrivateKey
	hmac     []byte
	kem768   *mlkem.DecapsulationKey768
	kem1024  *mlkem.DecapsulationKey1024
	mldsa    *mldsa.PrivateKey
	mldsaPub *mldsa.PublicKey // kept: PrivateKey.PublicKey copies the expanded key each call
	der      []byte           // what Marshal returns
	spki     []byte           // nil for HMAC keys
	ecdhOnce func() (*ecdh.PrivateKey, error)
}

// curves maps the NIST specs to their curves.
var curves = map[Spec]elliptic.Curve{
	ECCNISTP256: elliptic.P256(),
	ECCNISTP384: elliptic.P384(),
	ECCNISTP521: elliptic.P521(),
}

// Generate makes new key material of spec with the system's secure random
// source (crypto/rand): an RSA key of the spec's size, an ECC key on the
// spec's curve, an HMAC key as long as the hash output (28, 32, 48 or 64
// bytes, as AWS generates), or an ML-KEM seed. An unknown spec is a
// [*ValidationError], SYMMETRIC_DEFAULT and the specs AWS has but this
// package refuses an [*UnsupportedError].
func Generate(spec Spec) (*Key, error) {
	info, err := lookup(spec)
	if err != nil {
		return nil, err
	}
	switch {
	case spec == SymmetricDefault:
		return nil, &UnsupportedError{Spec: spec, Reason: "SYMMETRIC_DEFAULT material is an AES-256 key handled by the key service itself"}
	case info.rsaBits > 0:
		k, err := rsa.GenerateKey(rand.Reader, info.rsaBits)
		if err != nil {
			return nil, err
		}
		return fromRSA(spec, info, k)
	case curves[spec] != nil:
		k, err := ecdsa.GenerateKey(curves[spec], rand.Reader)
		if err != nil {
			return nil, err
		}
		return fromECDSA(spec, info, k)
	case spec == ECCSECGP256K1:
		k, err := secp256k1.GeneratePrivateKeyFromRand(rand.Reader)
		if err != nil {
			return nil, err
		}
		return fromSecp256k1(k), nil
	case spec == ECCNISTEdwards25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return fromEd25519(k)
	case info.hmacSize > 0:
		b := make([]byte, info.hmacSize)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		return &Key{spec: spec, info: info, hmac: b, der: b}, nil
	case spec == MLKEM768:
		k, err := mlkem.GenerateKey768()
		if err != nil {
			return nil, err
		}
		return fromMLKEM(spec, info, k.Bytes())
	case spec == MLKEM1024:
		k, err := mlkem.GenerateKey1024()
		if err != nil {
			return nil, err
		}
		return fromMLKEM(spec, info, k.Bytes())
	case isMLDSA(spec):
		return generateMLDSA(spec, info)
	}
	return nil, fmt.Errorf("keyspec: no generator for %s", spec)
}

// HMAC key lengths accepted by [ParsePrivateKey]: AWS generates keys as long
// as the hash output and imports keys from that length up to the hash's
// block size.
var hmacImportMax = map[Spec]int{HMAC224: 64, HMAC256: 64, HMAC384: 128, HMAC512: 128}

// ParsePrivateKey parses key material of spec as [Key.Marshal] writes it:
// PKCS #8 DER for RSA, ECC and ML-KEM keys (crypto/x509 for RSA and the NIST
// curves, so OpenSSL's `genpkey` output parses too), the raw key for HMAC
// keys. The material must be of spec: an RSA_3072 key is not an RSA_2048
// key, and a P-256 key is not a secp256k1 key. An ECC key's embedded
// public key, when there is one, must be its own ([ErrKeyPairMismatch]);
// RSA keys are checked whole by crypto/rsa (modulus, exponents, CRT
// values). Errors other than those of [lookup] are plain errors: material
// that does not parse is a broken store or a bad import, not a caller's
// request.
func ParsePrivateKey(spec Spec, der []byte) (*Key, error) {
	info, err := lookup(spec)
	if err != nil {
		return nil, err
	}
	switch {
	case info.rsaBits > 0 || curves[spec] != nil || spec == ECCNISTEdwards25519:
		if isSecp256k1PKCS8(der) {
			return nil, fmt.Errorf("keyspec: %s material is a secp256k1 key", spec)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("keyspec: %s material: %w", spec, err)
		}
		switch k := priv.(type) {
		case *rsa.PrivateKey:
			if info.rsaBits != k.N.BitLen() {
				return nil, fmt.Errorf("keyspec: %s material is a %d-bit RSA key", spec, k.N.BitLen())
			}
			return fromRSA(spec, info, k)
		case ed25519.PrivateKey:
			if spec != ECCNISTEdwards25519 {
				return nil, fmt.Errorf("keyspec: %s material is an Ed25519 key", spec)
			}
			return fromEd25519(k)
		case *ecdsa.PrivateKey:
			if curves[spec] != k.Curve {
				return nil, fmt.Errorf("keyspec: %s material is a key on %s", spec, k.Curve.Params().Name)
			}
			if err := checkECPublicKey(der, k); err != nil {
				return nil, fmt.Errorf("keyspec: %s material: %w", spec, err)
			}
			return fromECDSA(spec, info, k)
		default:
			return nil, fmt.Errorf("keyspec: %s material is a %T", spec, priv)
		}
	case spec == ECCSECGP256K1:
		k, err := parseSecp256k1(der)
		if err != nil {
			return nil, fmt.Errorf("keyspec: %s material: %w", spec, err)
		}
		return fromSecp256k1(k), nil
	case info.hmacSize > 0:
		if len(der) < info.hmacSize || len(der) > hmacImportMax[spec] {
			return nil, fmt.Errorf("keyspec: %s material must be %d to %d bytes, not %d", spec, info.hmacSize, hmacImportMax[spec], len(der))
		}
		b := append([]byte(nil), der...)
		return &Key{spec: spec, info: info, hmac: b, der: b}, nil
	case spec == MLKEM768:
		seed, err := parseMLKEMSeed(der, oidMLKEM768)
		if err != nil {
			return nil, fmt.Errorf("keyspec: %s material: %w", spec, err)
		}
		return fromMLKEM(spec, info, seed)
	case spec == MLKEM1024:
		seed, err := parseMLKEMSeed(der, oidMLKEM1024)
		if err != nil {
			return nil, fmt.Errorf("keyspec: %s material: %w", spec, err)
		}
		return fromMLKEM(spec, info, seed)
	case isMLDSA(spec):
		return parseMLDSA(spec, info, der)
	}
	return nil, &UnsupportedError{Spec: spec, Reason: "SYMMETRIC_DEFAULT material is an AES-256 key handled by the key service itself"}
}

// checkECPublicKey checks the public key that der, the PKCS #8 k was
// parsed from, carries (if any): it must be k's, uncompressed or
// compressed; anything else (another key, no point of the curve) is
// [ErrKeyPairMismatch].
func checkECPublicKey(der []byte, k *ecdsa.PrivateKey) error {
	pub, present, err := ecPKCS8PublicKey(der)
	if err != nil {
		return err
	}
	if !present {
		return nil
	}
	want, err := k.PublicKey.Bytes()
	if err != nil {
		return err
	}
	if !bytes.Equal(pub, want) && !bytes.Equal(pub, elliptic.MarshalCompressed(k.Curve, k.X, k.Y)) {
		return ErrKeyPairMismatch
	}
	return nil
}

func fromRSA(spec Spec, info *specInfo, k *rsa.PrivateKey) (*Key, error) {
	k.Precompute()
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("keyspec: %s material: %w", spec, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Key{spec: spec, info: info, rsa: k, der: der, spki: spki}, nil
}

func fromECDSA(spec Spec, info *specInfo, k *ecdsa.PrivateKey) (*Key, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Key{spec: spec, info: info, ec: k, der: der, spki: spki, ecdhOnce: sync.OnceValues(k.ECDH)}, nil
}

func fromEd25519(k ed25519.PrivateKey) (*Key, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, err
	}
	return &Key{spec: ECCNISTEdwards25519, info: specs[ECCNISTEdwards25519], ed: k, der: der, spki: spki}, nil
}

func fromSecp256k1(k *secp256k1.PrivateKey) *Key {
	pub := k.PubKey()
	return &Key{spec: ECCSECGP256K1, info: specs[ECCSECGP256K1], k1: k, k1pub: pub,
		der:  marshalSecp256k1(k),
		spki: marshalSPKI(oidECPublicKey, oidSecp256k1, pub.SerializeUncompressed())}
}

func fromMLKEM(spec Spec, info *specInfo, seed []byte) (*Key, error) {
	k := &Key{spec: spec, info: info}
	switch spec {
	case MLKEM768:
		dk, err := mlkem.NewDecapsulationKey768(seed)
		if err != nil {
			return nil, err
		}
		k.kem768 = dk
		k.der = marshalMLKEMSeed(oidMLKEM768, seed)
		k.spki = marshalSPKI(oidMLKEM768, nil, dk.EncapsulationKey().Bytes())
	case MLKEM1024:
		dk, err := mlkem.NewDecapsulationKey1024(seed)
		if err != nil {
			return nil, err
		}
		k.kem1024 = dk
		k.der = marshalMLKEMSeed(oidMLKEM1024, seed)
		k.spki = marshalSPKI(oidMLKEM1024, nil, dk.EncapsulationKey().Bytes())
	}
	return k, nil
}

// Spec returns the key's spec.
func (k *Key) Spec() Spec { return k.spec }

// Marshal returns the key material for storage (wrap it before it leaves
// the process): PKCS #8 DER for RSA, ECC and ML-KEM keys, the raw key for
// HMAC keys. [ParsePrivateKey] reads it back. The caller must not modify
// the returned slice.
func (k *Key) Marshal() []byte { return k.der }

// PublicKey returns the DER SubjectPublicKeyInfo (RFC 5280) that
// GetPublicKey returns: rsaEncryption for RSA keys, id-ecPublicKey with the
// named curve (secp256r1, secp384r1, secp521r1 or secp256k1, OID
// 1.3.132.0.10) and an uncompressed point for ECC keys, id-alg-ml-kem-768 or
// -1024 with the encapsulation key for ML-KEM keys. HMAC keys have none:
// an [*UnsupportedError] (UnsupportedOperationException). The caller must
// not modify the returned slice.
func (k *Key) PublicKey() ([]byte, error) {
	if k.spki == nil {
		return nil, &UnsupportedError{Spec: k.spec, Operation: OpGetPublicKey, Reason: "GetPublicKey is not valid for " + string(k.spec) + " keys, which have no public key"}
	}
	return k.spki, nil
}
