// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// maxKMSPlaintext is the largest plaintext KMS encrypts (and so decrypts).
const maxKMSPlaintext = 4096

// dataKeySize is the data key length a GenerateDataKey request asks for:
// NumberOfBytes, or 16 or 32 for KeySpec AES_128 or AES_256. A request with
// neither, both, or another spec is one KMS refuses; -1 then makes every
// answer a mismatch.
func dataKeySize(spec types.DataKeySpec, n *int32) int {
	switch {
	case n != nil && spec == "":
		return int(*n)
	case n == nil && spec == types.DataKeySpecAes128:
		return 16
	case n == nil && spec == types.DataKeySpecAes256:
		return 32
	}
	return -1
}

// Curve OIDs of the key pair specs the standard library does not parse.
var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidSM2         = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
)

// keyPairMatches reports whether priv, a DER PKCS #8 private key, is a key
// of spec (a KMS KeyPairSpec) and, for RSA, the NIST curves and Ed25519,
// the private half of pub (a DER SubjectPublicKeyInfo). ECC_SECG_P256K1 and SM2 keys,
// which crypto/x509 does not parse, are checked for their structure, curve
// and scalar length only.
func keyPairMatches(spec string, priv, pub []byte) bool {
	switch spec {
	case "ECC_SECG_P256K1":
		return ecPKCS8(priv, oidSecp256k1, 32)
	case "SM2":
		return ecPKCS8(priv, oidSM2, 32)
	}
	k, err := x509.ParsePKCS8PrivateKey(priv)
	if err != nil {
		return false
	}
	p, err := x509.ParsePKIXPublicKey(pub)
	if err != nil {
		return false
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		bits := map[string]int{"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}[spec]
		return bits != 0 && k.N.BitLen() == bits && k.PublicKey.Equal(p)
	case ed25519.PrivateKey:
		return spec == "ECC_NIST_EDWARDS25519" && k.Public().(ed25519.PublicKey).Equal(p)
	case *ecdsa.PrivateKey:
		curve := map[string]elliptic.Curve{"ECC_NIST_P256": elliptic.P256(), "ECC_NIST_P384": elliptic.P384(),
			"ECC_NIST_P521": elliptic.P521()}[spec]
		return curve != nil && k.Curve == curve && k.PublicKey.Equal(p)
	}
	return false
}

// ecPKCS8 reports whether der is a PKCS #8 PrivateKeyInfo holding an EC
// private key (RFC 5915) on the named curve with a scalar of size bytes.
func ecPKCS8(der []byte, curve asn1.ObjectIdentifier, size int) bool {
	s := cryptobyte.String(der)
	var info, algo, inner cryptobyte.String
	var version int
	var alg, named asn1.ObjectIdentifier
	if !s.ReadASN1(&info, cbasn1.SEQUENCE) || !s.Empty() ||
		!info.ReadASN1Integer(&version) || version != 0 ||
		!info.ReadASN1(&algo, cbasn1.SEQUENCE) ||
		!algo.ReadASN1ObjectIdentifier(&alg) || !alg.Equal(oidECPublicKey) ||
		!algo.ReadASN1ObjectIdentifier(&named) || !named.Equal(curve) || !algo.Empty() ||
		!info.ReadASN1(&inner, cbasn1.OCTET_STRING) {
		return false
	}
	var ec, scalar cryptobyte.String
	var ecVersion int
	return inner.ReadASN1(&ec, cbasn1.SEQUENCE) && inner.Empty() &&
		ec.ReadASN1Integer(&ecVersion) && ecVersion == 1 &&
		ec.ReadASN1(&scalar, cbasn1.OCTET_STRING) && len(scalar) == size
}
