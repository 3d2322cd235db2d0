// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"strconv"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Accepted RSA modulus sizes, inclusive.
const (
	MinKeyBits     = 2048
	MaxKeyBits     = 4096
	DefaultKeyBits = 2048
)

// GenerateKey returns a new RSA key of bits bits (0 means
// [DefaultKeyBits]; 2048, 3072 and 4096 are accepted) with exponent 65537,
// precomputed. A nil random means crypto/rand.Reader.
func GenerateKey(random io.Reader, bits int) (*rsa.PrivateKey, error) {
	if bits == 0 {
		bits = DefaultKeyBits
	}
	if bits != 2048 && bits != 3072 && bits != 4096 {
		return nil, &KeyError{Bits: bits, Reason: "cannot generate a " + strconv.Itoa(bits) +
			"-bit key: use 2048, 3072 or 4096"}
	}
	if random == nil {
		random = rand.Reader
	}
	k, err := rsa.GenerateKey(random, bits)
	if err != nil {
		return nil, err
	}
	k.Precompute()
	return k, nil
}

// PublicKeyDER returns the DER SubjectPublicKeyInfo of pub, the form an
// attestation request carries in public_key and from which [SubjectKeyID]
// is computed. The key must be one [Seal] accepts.
func PublicKeyDER(pub *rsa.PublicKey) ([]byte, error) {
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	return marshalSPKI(pub), nil
}

// marshalSPKI encodes pub as a DER SubjectPublicKeyInfo, byte for byte as
// x509.MarshalPKIXPublicKey does (a test checks), with one allocation:
// Open computes it for every envelope.
func marshalSPKI(pub *rsa.PublicKey) []byte {
	nLen := pub.N.BitLen()/8 + 1 // a positive INTEGER: room for a leading zero bit
	eLen := 1
	for e := pub.E; e >= 0x80; e >>= 8 {
		eLen++
	}
	rsaKey := tlvLen(nLen) + 2 + eLen
	bitString := 1 + tlvLen(rsaKey)
	spki := len(spkiRSAAlg) + tlvLen(bitString)
	out := make([]byte, 0, tlvLen(spki))
	out = appendLen(append(out, 0x30), spki)
	out = append(out, spkiRSAAlg...)
	out = appendLen(append(out, 0x03), bitString)
	out = append(out, 0x00, 0x30)
	out = appendLen(out, rsaKey)
	out = appendLen(append(out, 0x02), nLen)
	start := len(out)
	out = out[:start+nLen]
	pub.N.FillBytes(out[start:])
	out = append(out, 0x02, byte(eLen))
	for i := eLen - 1; i >= 0; i-- {
		out = append(out, byte(pub.E>>(8*i)))
	}
	return out
}

// spkiRSAAlg is the AlgorithmIdentifier rsaEncryption with NULL parameters.
var spkiRSAAlg = []byte{0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00}

// SubjectKeyID returns SHA-256 of spkiDER, the recipient identifier KMS
// puts into the envelope for the key with that SubjectPublicKeyInfo.
func SubjectKeyID(spkiDER []byte) []byte {
	h := sha256.Sum256(spkiDER)
	return h[:]
}

// ParsePublicKey parses a DER SubjectPublicKeyInfo and applies exactly the
// checks [Seal] applies to its key: RSA of 2048 to 4096 bits, odd modulus,
// odd exponent of 65537 to 2^31-1. A service can call it while validating a
// request, so that a key Seal would refuse is reported as the caller's
// error before any work is done. Errors match [ErrUnsupportedKey]; no key
// is returned beside an error.
func ParsePublicKey(spkiDER []byte) (*rsa.PublicKey, error) {
	return parsePublicKey(spkiDER)
}

// oidRSAEncryption is rsaEncryption, 1.2.840.113549.1.1.1.
var oidRSAEncryption = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}

// parsePublicKey parses a DER SubjectPublicKeyInfo holding an acceptable
// RSA key. RSA keys take a direct, strict DER path (the same checks as
// crypto/x509: rsaEncryption with NULL parameters, a BIT STRING without
// unused bits holding a positive modulus and exponent, nothing trailing);
// anything else goes through x509.ParsePKIXPublicKey for a precise error.
func parsePublicKey(der []byte) (*rsa.PublicKey, error) {
	if pub, ok := parseRSASPKI(der); ok {
		return checked(pub)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, &KeyError{Reason: "not a DER SubjectPublicKeyInfo: " + err.Error()}
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, &KeyError{Reason: "not an RSA key (" + typeName(k) + "); KMS recipients are RSA 2048 to 4096 bits"}
	}
	// x509 accepted an RSA key the direct path did not: be as strict as x509.
	return checked(pub)
}

// checked returns pub if checkKey accepts it, and no key beside an error.
func checked(pub *rsa.PublicKey) (*rsa.PublicKey, error) {
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// parseRSASPKI is the direct path of parsePublicKey.
func parseRSASPKI(der []byte) (*rsa.PublicKey, bool) {
	var spki, alg, oid, bits, rsaKey cryptobyte.String
	var unused uint8
	in := cryptobyte.String(der)
	if !in.ReadASN1(&spki, asn1.SEQUENCE) || !in.Empty() ||
		!spki.ReadASN1(&alg, asn1.SEQUENCE) ||
		!alg.ReadASN1(&oid, asn1.OBJECT_IDENTIFIER) || !bytes.Equal(oid, oidRSAEncryption) ||
		!alg.ReadASN1(&cryptobyte.String{}, asn1.NULL) || !alg.Empty() ||
		!spki.ReadASN1(&bits, asn1.BIT_STRING) || !spki.Empty() ||
		!bits.ReadUint8(&unused) || unused != 0 {
		return nil, false
	}
	n, e := new(big.Int), int64(0)
	if !bits.ReadASN1(&rsaKey, asn1.SEQUENCE) || !bits.Empty() ||
		!rsaKey.ReadASN1Integer(n) || !rsaKey.ReadASN1Integer(&e) || !rsaKey.Empty() ||
		n.Sign() <= 0 || e <= 0 || e > 1<<31-1 {
		return nil, false
	}
	return &rsa.PublicKey{N: n, E: int(e)}, true
}

func typeName(k any) string {
	return fmt.Sprintf("%T", k)
}

// maxExponent is the largest RSA public exponent crypto/rsa encrypts to.
const maxExponent = 1<<31 - 1

// checkKey accepts RSA keys of 2048 to 4096 bits with an odd modulus and an
// odd exponent of 65537 to 2^31-1 (crypto/x509 reads exponents up to
// 2^63-1, but crypto/rsa encrypts to none above 2^31-1).
func checkKey(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return &KeyError{Reason: "no key"}
	}
	bits := pub.N.BitLen()
	if bits < MinKeyBits || bits > MaxKeyBits {
		return &KeyError{Bits: bits, Reason: "RSA-" + strconv.Itoa(bits) + " key: want " +
			strconv.Itoa(MinKeyBits) + " to " + strconv.Itoa(MaxKeyBits) + " bits"}
	}
	if pub.N.Bit(0) == 0 {
		return &KeyError{Bits: bits, Reason: "even RSA modulus"}
	}
	if pub.E < 65537 || pub.E > maxExponent || pub.E&1 == 0 {
		return &KeyError{Bits: bits, Reason: "RSA exponent " + strconv.Itoa(pub.E) + ": want an odd exponent of 65537 to 2^31-1"}
	}
	return nil
}
