// SPDX-License-Identifier: Apache-2.0

// Package attestation parses and verifies AWS Nitro Enclaves attestation
// documents: COSE_Sign1 messages signed by the Nitro Security Module with
// ES384, whose certificate chain leads to the AWS Nitro Enclaves root.
//
// # Verifying a document
//
// [Verify] is the one entry point for a single document: it returns a
// [Document] only when every check passed, and nil with an error otherwise
// — never a half-verified document beside an error. Its doc comment lists
// every check in order. [Options] carries the policy; its zero value is the
// safe default (the embedded root [AWSNitroRootG1], the current time, debug
// mode rejected).
//
// A service that verifies many documents uses a [Verifier]: the same
// checks, plus bounded caches of what it has already verified. A document
// from a leaf seen before costs a single ECDSA verification; one from a new
// leaf under CA certificates seen before (a fleet of enclaves sharing
// their zonal and instance CAs) costs two; concurrent documents with the
// same new chain share one verification of it.
//
// ECDSA P-384 verification runs on github.com/cloudflare/circl's assembly
// on amd64 and arm64 (about a third of crypto/ecdsa's instructions here)
// and on crypto/ecdsa elsewhere; both accept exactly the same signatures.
// See docs/PERFORMANCE.md for the measurements.
//
// [Parse] decodes strictly without verifying anything, for tools that show
// a document; its result must not be trusted.
//
// # NitroTPM documents
//
// EC2 instances attest through their NitroTPM with documents of the same
// envelope, signer and root, whose PCRs (nitrotpm_pcrs) are the instance's
// TPM PCRs. They have entry points of their own, [VerifyNitroTPM],
// [Verifier.VerifyNitroTPM] and [ParseNitroTPM], returning a
// [NitroTPMDocument]: the same checks, caches and errors, PCR policies over
// nitrotpm_pcrs, no debug mode. Neither kind passes for the other: the
// enclave entry points refuse NitroTPM documents ([ErrNotEnclave], code
// "not_enclave") and the NitroTPM ones refuse enclave documents
// ([ErrNotNitroTPM], code "not_nitrotpm").
//
// # Errors
//
// Every rejection matches exactly one sentinel (such as [ErrMalformed],
// [ErrCertificateExpired] or [ErrPCRMismatch]) with [errors.Is], is one of
// the typed errors ([MalformedError], [ValidityError], [PCRMismatchError],
// ...) with exported fields, and has a stable code given by [ErrorCode]
// ("malformed", "certificate_expired", "pcr_mismatch", ...). Messages name
// the setting that would fix the failure where there is one.
//
// # Security considerations
//
// Debug mode. An enclave started in debug mode reports PCR0, PCR1 and PCR2
// as all zero, and its memory and console are readable from the parent
// instance: it proves nothing about the code it runs. [Verify] rejects such
// documents with [ErrDebugMode] unless Options.AllowDebugUnsafe is set; never
// set it in production.
//
// PCRs. Verification proves only that some enclave on some Nitro host made
// the document: pin what it runs with Options.PCRs, at least PCR0 (the
// image). PCR4 is derived from the parent instance's ID and differs for
// each instance, so pin it only for a single known parent; PCR8 (the image
// signing certificate) exists only for signed images. PCRs not listed are
// not checked.
//
// Freshness. A document stays verifiable as long as its leaf certificate,
// three hours; anyone who obtained one can replay it within that time. Use
// a nonce (Options.Nonce) chosen by the verifier for each request, or a
// short Options.MaxAge, or both. Freshness (MaxAge, MaxFutureSkew) is
// separate from certificate validity and always measured against the
// current time.
//
// Time. The verification time is an input: Options.CurrentTime, or the
// clock read once when it is zero. Options.AtDocumentTime checks the
// certificates at the document's own timestamp, which is how an archived
// document is verified after its leaf expired; that timestamp is chosen by
// the signing NSM, so bound it with MaxAge against the current time.
//
// Replay identifiers. ECDSA signatures are malleable: (r, s) and (r, n-s)
// both verify, and AWS emits high-S signatures (8 of 22 real documents), so
// this package accepts both. Never use a hash of the document bytes as a
// replay or deduplication identifier — the same document has four valid
// encodings (either signature, with or without tag 18; every CBOR length
// must be in its shortest form, so no more); use the nonce, or the payload
// fields.
//
// Roots. Only the roots given (or the embedded AWS root) are trusted, and
// cabundle[0] must be byte for byte one of them. Give an emulator's root
// only to test code: every document it signs verifies.
//
// Variable-time arithmetic. The fast ECDSA path is not constant time.
// Verification handles only public data (keys, digests and signatures from
// the document), so nothing secret can leak through its timing; signing
// ([Signer]) uses crypto/ecdsa only.
//
// Strict decoding. Duplicate, unknown and case-variant keys, wrong types,
// tags other than an optional outer tag 18, indefinite-length strings,
// trailing bytes and oversized fields are all rejected, and every size is
// bounded before allocation (see the Max* constants), so that a document
// means exactly one thing to every verifier.
package attestation
