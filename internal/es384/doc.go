// SPDX-License-Identifier: Apache-2.0

// Package es384 verifies ECDSA P-384 signatures over public data: the COSE
// signatures of attestation documents and the signatures of the
// certificates that carry their keys.
//
// On amd64 and arm64 it uses the assembly P-384 arithmetic of
// github.com/cloudflare/circl (ecc/p384's CombinedMult, u1·G + u2·Q in one
// pass), about twice as fast as crypto/ecdsa here; elsewhere, and with the
// purego build tag, it calls crypto/ecdsa. Either way [Verify] and
// [VerifyASN1] accept exactly what crypto/ecdsa's Verify and VerifyASN1
// accept for the same P-384 key (the differential tests in this package
// check it on edge cases and under fuzzing).
//
// # Security considerations
//
// The fast path is variable time. That is acceptable only because every
// input of a verification is public: the key, the digest and the
// signature. Never use this package with secret data; signing and
// anything that touches a private key stay on crypto/ecdsa.
//
// circl's point additions treat the exceptional cases (doubling, adding a
// point to its negation, the point at infinity) explicitly, and the final
// point at infinity is rejected here. Reaching an exceptional case on
// purpose inside the double-scalar multiplication needs the discrete
// logarithm of the public key, that is, its private key, with which a
// valid signature can be made anyway; so such a case cannot turn a forgery
// into an accepted signature.
//
// Keys are validated once, by crypto/ecdsa, when a [PublicKey] is made:
// a key that is not on P-384, is the point at infinity or has coordinates
// out of range is refused there.
package es384
