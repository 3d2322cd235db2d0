// SPDX-License-Identifier: Apache-2.0

// Package demo holds what `make demo` and the end-to-end test need besides
// the four binaries: a key administrator's client for kms-server, and a tap
// that shows what the parent instance sees of the enclave's KMS traffic.
//
// # Key administration
//
// [KeyPolicy] writes a key policy that lets an administrator manage the key
// and lets the enclave's role call kms:GenerateDataKey and kms:Decrypt only
// with an attestation document whose image digest
// (kms:RecipientAttestation:ImageSha384, which is PCR0) is the given one.
// [CreatePinnedKey] creates such a key and an alias for it through the KMS
// API, as `aws kms create-key --policy` and `aws kms create-alias` would.
//
// # Tap
//
// [Tap] is an HTTP relay that forwards KMS requests unchanged and writes one
// line per exchange with every blob replaced by its size. It stands where the
// parent instance stands (between host-proxy and the key service), so its
// log is exactly what the parent learns: the operation, the key, the sizes,
// and CiphertextForRecipient instead of Plaintext.
//
// This package is for the demo and tests; it is not part of the toolkit's
// API.
package demo
