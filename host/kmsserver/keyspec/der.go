// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"bytes"
	"encoding/asn1"
	"errors"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// DER codecs for the two key types crypto/x509 does not encode: secp256k1
// (id-ecPublicKey with the named curve secp256k1, RFC 5480 and RFC 5915
// inside PKCS #8, RFC 5208) and ML-KEM (the seed form of the IETF LAMPS
// ML-KEM key format). Everything here is framing; the keys themselves are
// checked by the libraries that use them.

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidMLKEM768    = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}
	oidMLKEM1024   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}
)

var errDER = errors.New("keyspec: malformed DER")

// marshalSPKI returns SubjectPublicKeyInfo with algorithm alg, optional
// parameter OID param, and the key bytes.
func marshalSPKI(alg, param asn1.ObjectIdentifier, key []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(alg)
			if param != nil {
				b.AddASN1ObjectIdentifier(param)
			}
		})
		b.AddASN1BitString(key)
	})
	return b.BytesOrPanic()
}

// parseSPKI parses SubjectPublicKeyInfo with algorithm alg and parameter
// param (nil for none) and returns the key bytes; anything else, trailing
// data included, is errDER.
func parseSPKI(der []byte, alg, param asn1.ObjectIdentifier) ([]byte, error) {
	s := cryptobyte.String(der)
	var spki, algID cryptobyte.String
	var gotAlg, gotParam asn1.ObjectIdentifier
	var key asn1.BitString
	if !s.ReadASN1(&spki, cbasn1.SEQUENCE) || !s.Empty() ||
		!spki.ReadASN1(&algID, cbasn1.SEQUENCE) ||
		!algID.ReadASN1ObjectIdentifier(&gotAlg) || !gotAlg.Equal(alg) {
		return nil, errDER
	}
	if param != nil && (!algID.ReadASN1ObjectIdentifier(&gotParam) || !gotParam.Equal(param)) {
		return nil, errDER
	}
	if !algID.Empty() || !spki.ReadASN1BitString(&key) || !spki.Empty() || key.BitLength%8 != 0 {
		return nil, errDER
	}
	return key.Bytes, nil
}

// marshalPKCS8 returns PrivateKeyInfo (version 0) with algorithm alg,
// optional parameter param, and the privateKey octets.
func marshalPKCS8(alg, param asn1.ObjectIdentifier, priv []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(alg)
			if param != nil {
				b.AddASN1ObjectIdentifier(param)
			}
		})
		b.AddASN1OctetString(priv)
	})
	return b.BytesOrPanic()
}

// parsePKCS8 parses PrivateKeyInfo with algorithm alg and parameter param
// (nil for none), version 0 or 1 without attributes or public key, and
// returns the privateKey octets.
func parsePKCS8(der []byte, alg, param asn1.ObjectIdentifier) ([]byte, error) {
	s := cryptobyte.String(der)
	var pki, algID, priv cryptobyte.String
	var version int64
	var gotAlg, gotParam asn1.ObjectIdentifier
	if !s.ReadASN1(&pki, cbasn1.SEQUENCE) || !s.Empty() ||
		!pki.ReadASN1Integer(&version) || version != 0 ||
		!pki.ReadASN1(&algID, cbasn1.SEQUENCE) ||
		!algID.ReadASN1ObjectIdentifier(&gotAlg) || !gotAlg.Equal(alg) {
		return nil, errDER
	}
	if param != nil && (!algID.ReadASN1ObjectIdentifier(&gotParam) || !gotParam.Equal(param)) {
		return nil, errDER
	}
	if !algID.Empty() || !pki.ReadASN1(&priv, cbasn1.OCTET_STRING) || !pki.Empty() {
		return nil, errDER
	}
	return priv, nil
}

// isSecp256k1PKCS8 reports whether der is PKCS #8 for secp256k1, so that
// [ParsePrivateKey] can tell a wrong-curve key from a malformed one.
func isSecp256k1PKCS8(der []byte) bool {
	_, err := parsePKCS8(der, oidECPublicKey, oidSecp256k1)
	return err == nil
}

// marshalSecp256k1 returns the PKCS #8 encoding of k: an RFC 5915
// ECPrivateKey (version 1, 32-byte scalar, public key; the curve is in the
// PKCS #8 algorithm parameters), as OpenSSL writes it.
func marshalSecp256k1(k *secp256k1.PrivateKey) []byte {
	scalar := k.Key.Bytes()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1OctetString(scalar[:])
		b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1BitString(k.PubKey().SerializeUncompressed())
		})
	})
	return marshalPKCS8(oidECPublicKey, oidSecp256k1, b.BytesOrPanic())
}

// parseSecp256k1 parses what marshalSecp256k1 writes, and OpenSSL's form
// with the optional [0] parameters. The scalar must be 32 bytes in [1, N-1];
// an embedded public key must be the scalar's.
func parseSecp256k1(der []byte) (*secp256k1.PrivateKey, error) {
	inner, err := parsePKCS8(der, oidECPublicKey, oidSecp256k1)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(inner)
	var ecpk, scalar cryptobyte.String
	var version int64
	if !s.ReadASN1(&ecpk, cbasn1.SEQUENCE) || !s.Empty() ||
		!ecpk.ReadASN1Integer(&version) || version != 1 ||
		!ecpk.ReadASN1(&scalar, cbasn1.OCTET_STRING) || len(scalar) != 32 {
		return nil, errDER
	}
	var params, pubField cryptobyte.String
	var hasParams, hasPub bool
	tag0 := cbasn1.Tag(0).Constructed().ContextSpecific()
	tag1 := cbasn1.Tag(1).Constructed().ContextSpecific()
	if !ecpk.ReadOptionalASN1(&params, &hasParams, tag0) || !ecpk.ReadOptionalASN1(&pubField, &hasPub, tag1) || !ecpk.Empty() {
		return nil, errDER
	}
	if hasParams {
		var oid asn1.ObjectIdentifier
		if !params.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidSecp256k1) || !params.Empty() {
			return nil, errDER
		}
	}
	var n secp256k1.ModNScalar
	if overflow := n.SetByteSlice(scalar); overflow || n.IsZero() {
		return nil, errors.New("keyspec: secp256k1 private scalar out of range")
	}
	k := secp256k1.NewPrivateKey(&n)
	if hasPub {
		var pub asn1.BitString
		if !pubField.ReadASN1BitString(&pub) || !pubField.Empty() || pub.BitLength%8 != 0 {
			return nil, errDER
		}
		if !bytes.Equal(pub.Bytes, k.PubKey().SerializeUncompressed()) && !bytes.Equal(pub.Bytes, k.PubKey().SerializeCompressed()) {
			return nil, ErrKeyPairMismatch
		}
	}
	return k, nil
}

// ecPKCS8PublicKey returns the public key that PKCS #8 material of a NIST
// curve carries in its RFC 5915 ECPrivateKey (the optional [1] publicKey),
// and whether it carries one. crypto/x509, which has parsed der already,
// ignores that field; this reads it so that [ParsePrivateKey] can check it.
func ecPKCS8PublicKey(der []byte) (pub []byte, present bool, err error) {
	s := cryptobyte.String(der)
	var pki, inner, ecpk, field cryptobyte.String
	if !s.ReadASN1(&pki, cbasn1.SEQUENCE) || !pki.SkipASN1(cbasn1.INTEGER) || !pki.SkipASN1(cbasn1.SEQUENCE) ||
		!pki.ReadASN1(&inner, cbasn1.OCTET_STRING) ||
		!inner.ReadASN1(&ecpk, cbasn1.SEQUENCE) || !ecpk.SkipASN1(cbasn1.INTEGER) || !ecpk.SkipASN1(cbasn1.OCTET_STRING) ||
		!ecpk.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!ecpk.ReadOptionalASN1(&field, &present, cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return nil, false, errDER
	}
	if !present {
		return nil, false, nil
	}
	var bits asn1.BitString
	if !field.ReadASN1BitString(&bits) || !field.Empty() || bits.BitLength%8 != 0 {
		return nil, false, errDER
	}
	return bits.Bytes, true, nil
}

// marshalMLKEMSeed returns the PKCS #8 encoding of an ML-KEM seed: the
// privateKey octets hold ML-KEM-PrivateKey's seed choice, [0] IMPLICIT OCTET
// STRING (SIZE (64)).
func marshalMLKEMSeed(oid asn1.ObjectIdentifier, seed []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(seed) })
	return marshalPKCS8(oid, nil, b.BytesOrPanic())
}

// parseMLKEMSeed parses what marshalMLKEMSeed writes and returns the seed.
func parseMLKEMSeed(der []byte, oid asn1.ObjectIdentifier) ([]byte, error) {
	inner, err := parsePKCS8(der, oid, nil)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(inner)
	var seed cryptobyte.String
	if !s.ReadASN1(&seed, cbasn1.Tag(0).ContextSpecific()) || !s.Empty() || len(seed) != 64 {
		return nil, errDER
	}
	return seed, nil
}
