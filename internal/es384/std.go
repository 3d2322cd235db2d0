// SPDX-License-Identifier: Apache-2.0

//go:build !(amd64 || arm64) || purego

package es384

// Fast reports whether this build verifies with circl's assembly (true)
// or with crypto/ecdsa.
const Fast = false

func verify(k *PublicKey, digest, r, s []byte) bool { return verifyStd(k, digest, r, s) }
