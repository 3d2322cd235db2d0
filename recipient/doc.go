// SPDX-License-Identifier: Apache-2.0

// Package recipient implements the CMS EnvelopedData (RFC 5652) that AWS KMS
// returns as CiphertextForRecipient, on both sides: [Seal] for a key service
// that answers like KMS, [Open] for the enclave that holds the private key.
//
// The enclave makes an ephemeral key pair with [GenerateKey], puts
// [PublicKeyDER] into its attestation request (the document's public_key),
// and sends the document to KMS with KeyEncryptionAlgorithm
// RSAES_OAEP_SHA_256. KMS (or a service using [Seal]) encrypts the secret to
// that key; the enclave opens the returned blob with [Open].
//
// # Format
//
// [Seal] writes KMS's layout byte for byte, because the AWS Nitro Enclaves
// SDK's parser accepts nothing else: BER with the ContentInfo, its [0],
// EnvelopedData and EncryptedContentInfo in indefinite-length form;
// RecipientInfos with exactly one KeyTransRecipientInfo version 2 whose rid
// is the subjectKeyIdentifier SHA-256(SubjectPublicKeyInfo DER)
// ([SubjectKeyID]); RSAES-OAEP with explicit SHA-256 and MGF1-SHA-256
// parameters (NULL hash parameters, empty label); AES-256-CBC with PKCS #7
// padding and the IV as parameter; the ciphertext in a constructed [0]
// holding one OCTET STRING. A test compares every non-random byte with a
// real KMS response, and `openssl cms -decrypt` opens the output.
//
// [Open] is tolerant of every form seen from KMS and OpenSSL (definite or
// indefinite lengths, primitive or segmented content, hash parameters
// absent or NULL, an explicit empty label) and strict about everything else;
// its documentation lists each check. It reads BER with a bounded reader
// (internal/ber): at most [MaxEnvelopeSize] bytes, 16 levels of nesting, and
// no allocation beyond one buffer the size of the ciphertext.
//
// KeyTransRecipientInfo version 0 (rid = issuerAndSerialNumber) is rejected:
// an ephemeral enclave key has no certificate, KMS always uses version 2,
// and accepting a second way to name the recipient would only widen what
// Open parses.
//
// # Limits
//
// RSA keys of 2048 to 4096 bits with an odd exponent of 65537 to 2^31-1
// (KMS itself requires RSA-2048 in the document). [Seal] takes up to
// [MaxPlaintextSize] (4096) bytes of plaintext, which covers every KMS
// recipient payload and keeps the envelope under the 6144 bytes KMS allows
// for CiphertextForRecipient even with RSA-4096. [Open] reads envelopes of
// up to [MaxEnvelopeSize] (64 KiB).
//
// # Errors
//
// Every failure matches one class with errors.Is: [ErrUnsupportedKey]
// ([KeyError]), [ErrMalformed] ([FormatError]; narrower: [ErrTruncated] and
// [ErrUnsupported]), [ErrRecipientMismatch] ([RecipientMismatchError],
// which names both key identifiers), [ErrDecrypt] (RSA-OAEP failed),
// [ErrBadPadding] (the content did not decrypt to valid padding) and, for
// Seal, [ErrTooLarge]. Open never panics on any input (fuzzed).
//
// # Security considerations
//
// The envelope gives confidentiality, not authenticity. Anyone holding the
// public key can make a valid envelope, and the public key travels in the
// attestation document through the parent instance. That Open succeeds
// proves nothing about who sealed the envelope: the origin must come from
// the channel, i.e. TLS from inside the enclave to KMS (or to the key
// service), so that the parent only ever relays ciphertext it cannot
// change unnoticed.
//
// The content is AES-256-CBC without a MAC, so it is malleable: changing the
// IV flips the same bits in the first plaintext block, and changing a
// ciphertext block garbles that block and flips bits in the next, all
// without any error as long as the padding stays valid (a test shows it).
// Use what Open returns as a key for an AEAD such as AES-GCM, where a
// tampered key fails loudly, never as data whose integrity matters.
//
// Padding oracle. If a relaying party can change the envelope and observe
// whether Open succeeded — from an error message, from timing, or simply
// from whether the enclave goes on — it can keep the genuine encryptedKey
// and submit modified IVs and ciphertext blocks, learning whether the
// padding came out valid: the classic CBC padding oracle, which recovers
// the plaintext in a few thousand queries. What this package does about it:
//
//   - the padding is checked over the whole last block in constant time
//     (crypto/subtle), so timing does not reveal where it failed;
//   - [ErrBadPadding] is one fixed value: its text says only that content
//     decryption failed, never the position, the padding byte or a length;
//   - the decrypted buffer is zeroed when the padding is bad, and the
//     content-encryption key is zeroed whenever Open returns;
//   - [ErrDecrypt] and [ErrBadPadding] being distinct adds no oracle:
//     crypto/rsa decodes OAEP in constant time with a single error (no
//     Manger oracle), and a modified encryptedKey fails OAEP with
//     overwhelming probability, so the distinction only tells an attacker
//     which part of the envelope they changed, which they already know;
//   - the recipient identifier is checked before any private-key operation,
//     and a mismatch says so, naming both identifiers (public values).
//
// What no unauthenticated format can do is hide whether decryption
// succeeded. Callers must therefore (1) open only envelopes received over
// an authenticated channel; (2) never open envelopes on request of the
// relaying party or retry on failure with the same key; (3) report Open
// failures outward as one generic error; and (4) do nothing afterwards that
// depends on the outcome. Discarding the key pair after a failed Open is
// such a thing: a relaying party sees the new public key in the next
// attestation document, and since it can obtain a genuine envelope for any
// new key (KMS Decrypt with that document as Recipient), the discarded key
// bounds nothing. The enclave/agent package rotates on schedule only.
//
// Key hygiene: the content-encryption key lives in a buffer that is zeroed
// on return, but the expanded AES key schedule inside crypto/aes cannot be
// zeroed from Go, and the RSA private key belongs to the caller.
package recipient
