// SPDX-License-Identifier: Apache-2.0

// Package verifycli is nitro-verify: it reads one attestation document
// (raw CBOR, base64 or hex), verifies it with attestation.Verify under the
// policy given by flags, and writes a human report or a JSON one.
//
// cmd/nitro-verify only calls [Main]; everything else lives here so that it
// can be unit-tested without a process.
//
// # Exit codes
//
//	0  verified
//	1  rejected, whatever the reason (malformed input included)
//	2  usage or I/O error (bad flags, unreadable file or root)
//
// # Input
//
// [Decode] detects the encoding: input that is not printable text is raw
// CBOR; text (surrounding and embedded ASCII whitespace removed) that is
// only hex digits, of even length, is hex; otherwise standard or URL-safe
// base64, padded or not. At most [MaxInput] bytes are read.
package verifycli
