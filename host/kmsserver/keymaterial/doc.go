// SPDX-License-Identifier: Apache-2.0

// Package keymaterial is the key material of kms-server's KMS keys, with
// no HTTP, no storage and no policy: how material is generated, sealed
// under the operator's root key, bound to its key record, and used to
// produce and open ciphertext blobs. It plays the part hashicorp/vault's
// keysutil plays for the transit backend; package kmsserver is the KMS
// protocol around it.
//
// # Root key
//
// [NewRoot] takes the operator's 32-byte root key. [Root.Wrap] seals a
// key's material with AES-256-GCM under it, with a [Binding] as additional
// data: the key ID, key spec, key usage, the SHA-256 of the key policy,
// the key state and the deletion date.
// [Root.Unwrap] fails with [ErrIntegrity] when any of them changed, so whoever
// can write to the key store without holding the root key can neither
// loosen a policy nor move material between keys. [Root.AliasRecordMAC]
// binds an alias record (name, key ID, creation time, sequence number)
// under a key derived from the root key (HKDF), so the same writer cannot
// repoint an alias either, and the server can tell an old alias record
// from the latest; [Root.AliasMAC] is the MAC of alias records before
// sequence numbers, still checked for them.
//
// # Ciphertext blobs
//
// [SealBlob] and [OpenBlob] write and read the blob format (see blob.go):
// magic "ekb", version 1, key ID, 96-bit random nonce, AES-256-GCM with the
// header and the canonical encryption context ([CanonicalContext]) as
// additional data. Random nonces bound one key to 2^32 encryptions (NIST
// SP 800-38D). [BlobKeyID] names the key without decrypting.
//
// # Sizes and key pairs
//
// [KeySize] gives the material size of a KMS key spec, [DataKeySpecSize]
// that of a GenerateDataKey KeySpec, and [GenerateKeyPair] makes the
// PKCS#8/SPKI pairs of GenerateDataKeyPair.
//
// # Versions
//
// A key has one material today. Rotation will give a key several
// versions, as keysutil's Policy.Keys does: each version its own wrapped
// material and Binding (with a version number), the newest used to seal,
// every retained one to open. The blob format's version byte leaves room
// for that: a version-2 header will carry the key version after the key ID,
// and version-1 blobs will keep naming version 1.
package keymaterial
