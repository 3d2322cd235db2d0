// SPDX-License-Identifier: Apache-2.0

package es384

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// ScalarSize is the size of r and s, and of a SHA-384 digest: 48 bytes.
const ScalarSize = 48

// SignatureSize is the size of a fixed-length signature r||s, as COSE
// ES384 carries it.
const SignatureSize = 2 * ScalarSize

// ErrKey is returned by [NewPublicKey] for a key that is not a valid
// ECDSA P-384 public key.
var ErrKey = errors.New("es384: not a valid ECDSA P-384 public key")

// PublicKey is a validated ECDSA P-384 public key, ready for [Verify].
type PublicKey struct {
	point []byte           // uncompressed SEC 1 encoding
	std   *ecdsa.PublicKey // a private copy, for the crypto/ecdsa path
	x, y  *big.Int         // affine coordinates, for the fast path
}

// NewPublicKey validates pub with crypto/ecdsa (the curve is P-384, the
// point is on it and is not the point at infinity) and returns a private
// copy of it: changing pub later does not change the result.
func NewPublicKey(pub *ecdsa.PublicKey) (*PublicKey, error) {
	//lint:ignore SA1019 nil coordinates would make pub.Bytes panic
	if pub == nil || pub.Curve != elliptic.P384() || pub.X == nil || pub.Y == nil {
		return nil, ErrKey
	}
	point, err := pub.Bytes() // validates the point
	if err != nil {
		return nil, ErrKey
	}
	return ParseUncompressed(point)
}

// ParseUncompressed validates an uncompressed SEC 1 point (0x04 || X || Y)
// with crypto/ecdsa and returns it as a key.
func ParseUncompressed(point []byte) (*PublicKey, error) {
	std, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), point)
	if err != nil {
		return nil, ErrKey
	}
	point = bytes.Clone(point)
	return &PublicKey{
		point: point,
		std:   std,
		x:     new(big.Int).SetBytes(point[1 : 1+ScalarSize]),
		y:     new(big.Int).SetBytes(point[1+ScalarSize:]),
	}, nil
}

// Equal reports whether k and other are the same key.
func (k *PublicKey) Equal(other *PublicKey) bool { return bytes.Equal(k.point, other.point) }

// ECDSA returns a copy of the key as a crypto/ecdsa key.
func (k *PublicKey) ECDSA() *ecdsa.PublicKey {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), k.point)
	if err != nil {
		panic("es384: a validated key no longer parses") // unreachable
	}
	return pub
}

// Verify reports whether sig, the 96 bytes r||s (each big-endian, 48
// bytes), is a valid signature of digest by k, with crypto/ecdsa's
// rules: 0 < r, s < N, high-S accepted, a digest longer than 48 bytes
// truncated to its first 48. Any other signature length is invalid.
func Verify(k *PublicKey, digest, sig []byte) bool {
	if k == nil || len(sig) != SignatureSize {
		return false
	}
	return verify(k, digest, sig[:ScalarSize], sig[ScalarSize:])
}

// VerifyASN1 reports whether sig, a DER SEQUENCE of two INTEGERs r and s
// (the X.509 and crypto/ecdsa encoding), is a valid signature of digest by
// k. The DER is parsed exactly as crypto/ecdsa.VerifyASN1 parses it:
// minimal, non-negative INTEGERs and no trailing bytes.
func VerifyASN1(k *PublicKey, digest, sig []byte) bool {
	if k == nil {
		return false
	}
	var (
		inner cryptobyte.String
		r, s  []byte
	)
	input := cryptobyte.String(sig)
	if !input.ReadASN1(&inner, asn1.SEQUENCE) || !input.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() {
		return false
	}
	if len(r) > ScalarSize || len(s) > ScalarSize {
		return false
	}
	return verify(k, digest, r, s)
}

// verifyStd is the crypto/ecdsa path, for r and s as big-endian bytes of
// at most 48 bytes: verify on other architectures, and the differential
// tests' second opinion everywhere.
func verifyStd(k *PublicKey, digest, r, s []byte) bool {
	return ecdsa.Verify(k.std, digest, new(big.Int).SetBytes(r), new(big.Int).SetBytes(s))
}
