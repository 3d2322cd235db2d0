// SPDX-License-Identifier: Apache-2.0

// Package emulator is a software Nitro Security Module for development and
// tests: a real implementation of the NSM request set behind the
// [enclave.NSM] interface, whose attestation documents prove nothing.
//
// # What it emulates
//
//   - A bank of 32 PCRs of 48 bytes. Extension is SHA-384(PCR || data)
//     ([enclave.ExtendPCRValue]), as the device does it. PCR0-PCR15 are locked
//     at start, as on a real enclave (the aws-nitro-enclaves-nsm-api's own
//     device test checks exactly that); PCR16-PCR31 start at zero and
//     unlocked. A locked PCR refuses extension and a second lock with
//     ReadOnlyIndex; LockPCRs(n) locks [0, n) and refuses n > 32 with
//     InvalidIndex.
//   - PCR0, PCR1 and PCR2 hold the image measurements given in [Config]
//     (for example the Measurements of `nitro-cli describe-eif`), or all
//     zero in debug mode, as a debug-mode enclave reports them. PCR4 holds
//     the parent instance value (configurable; by default derived from the
//     emulated instance ID, or from the root when a state directory is
//     used, so that it is stable there). PCR3 and PCR8 are zero unless
//     given.
//   - With a state directory ([Config.StateDir]), one PCR bank shared by
//     every process using it, under a file lock, as the processes of one
//     enclave share the device: a PCR extended and locked by one command
//     shows in the next command's documents. Starting with other boot
//     measurements resets the bank (an emulated reboot).
//   - Attestation documents in AWS's exact shape (field order, encodings,
//     null for absent fields, indefinite-length payload map), carrying the
//     locked PCRs, signed through a CA chain shaped like AWS's (root,
//     regional, zonal, instance, a 3-hour leaf) from
//     internal/nitroca. The leaf is replaced when it has less than
//     [LeafRotationMargin] left, and the intermediates when they expire; the
//     root stays, and can be kept across restarts in a state directory.
//   - Random bytes from crypto/rand (or [Config.Rand]), 256 per GetRandom as
//     the device returns.
//   - The device's size limits (4 KiB requests, 12 KiB responses, 1024-byte
//     attestation fields).
//
// # Security
//
// The emulator's root is a key on this machine: anyone holding it can sign
// any document. A verifier must never trust it unless told to explicitly
// (nitro-verify --root, attestation.Options.Roots). [New] logs a warning
// saying so.
package emulator
