// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"strconv"
)

// Accepted RSA modulus sizes, inclusive.
const (
	MinKeyBits     = 2048
	MaxKeyBits     = 4096
	DefaultKeyBits = 2048
)

// GenerateKey returns a new RSA key of bits bits (0 means
// [DefaultKeyBits]; 2048, 3072 and 4096 are accepted) with exponent 65537,
// precomputed. A nil rand means crypto/rand.Reader.
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
	return x509.MarshalPKIXPublicKey(pub)
}

// SubjectKeyID returns SHA-256 of spkiDER, the recipient identifier KMS
// puts into the envelope for the key with that SubjectPublicKeyInfo.
func SubjectKeyID(spkiDER []byte) []byte {
	h := sha256.Sum256(spkiDER)
	return h[:]
}

// parsePublicKey parses a DER SubjectPublicKeyInfo holding an acceptable
// RSA key.
func parsePublicKey(der []byte) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, &KeyError{Reason: "not a DER SubjectPublicKeyInfo: " + err.Error()}
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, &KeyError{Reason: "not an RSA key (" + typeName(k) + "); KMS recipients are RSA 2048 to 4096 bits"}
	}
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

func typeName(k any) string {
	return fmt.Sprintf("%T", k)
}

// checkKey accepts RSA keys of 2048 to 4096 bits with an odd exponent of at
// least 65537 and an odd modulus.
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
	if pub.E < 65537 || pub.E&1 == 0 {
		return &KeyError{Bits: bits, Reason: "RSA exponent " + strconv.Itoa(pub.E) + ": want an odd exponent of at least 65537"}
	}
	return nil
}
