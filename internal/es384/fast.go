// SPDX-License-Identifier: Apache-2.0

//go:build (amd64 || arm64) && !purego

package es384

import (
	"crypto/elliptic"
	"math/big"

	"github.com/cloudflare/circl/ecc/p384"
)

// Fast reports whether this build verifies with circl's assembly (true)
// or with crypto/ecdsa.
const Fast = true

var (
	curve = p384.P384()
	order = elliptic.P384().Params().N
)

// verify is FIPS 186-5 §6.4.2 with circl's double-scalar multiplication,
// for r and s as big-endian bytes of at most 48 bytes.
func verify(k *PublicKey, digest, rb, sb []byte) bool {
	var r, s, e, w, u1, u2 big.Int
	r.SetBytes(rb)
	s.SetBytes(sb)
	if r.Sign() == 0 || s.Sign() == 0 || r.Cmp(order) >= 0 || s.Cmp(order) >= 0 {
		return false
	}
	if len(digest) > ScalarSize {
		digest = digest[:ScalarSize] // the leftmost 384 bits; N has 384
	}
	e.SetBytes(digest)
	if w.ModInverse(&s, order) == nil {
		return false // unreachable: N is prime and 0 < s < N
	}
	u1.Mul(&e, &w)
	u1.Mod(&u1, order)
	u2.Mul(&r, &w)
	u2.Mod(&u2, order)
	x, y := curve.CombinedMult(k.x, k.y, u1.Bytes(), u2.Bytes())
	if x.Sign() == 0 && y.Sign() == 0 {
		return false // the point at infinity
	}
	x.Mod(x, order)
	return x.Cmp(&r) == 0
}
