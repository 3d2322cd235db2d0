// SPDX-License-Identifier: Apache-2.0

// Package keyspec is the key material of AWS KMS's asymmetric, HMAC and
// ML-KEM key specs and the operations on it, with no HTTP and no store:
// plain functions over a [Key], AWS's names for every spec, usage and
// algorithm, and errors that map one to one to AWS's exceptions.
//
//	k, err := keyspec.Generate(keyspec.ECCNISTP256)
//	stored := k.Marshal() // PKCS #8; wrap before it leaves the process
//	k, err = keyspec.ParsePrivateKey(keyspec.ECCNISTP256, stored)
//	sig, err := k.Sign(keyspec.ECDSA_SHA_256, keyspec.RAW, msg)
//	spki, err := k.PublicKey() // what GetPublicKey returns
//
// # Specs and algorithms
//
// The pairings are AWS's ("Key spec reference" in the AWS KMS Developer
// Guide); [CheckKeyUsage] validates a CreateKey KeySpec/KeyUsage pair and
// [CheckOperation] an operation against a key's usage.
//
//	spec                        usages                          algorithms
//	RSA_2048, RSA_3072,         SIGN_VERIFY                     RSASSA_PSS_SHA_256/384/512, RSASSA_PKCS1_V1_5_SHA_256/384/512
//	RSA_4096                    ENCRYPT_DECRYPT                 RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256
//	ECC_NIST_P256               SIGN_VERIFY, KEY_AGREEMENT      ECDSA_SHA_256, ECDH
//	ECC_NIST_P384               SIGN_VERIFY, KEY_AGREEMENT      ECDSA_SHA_384, ECDH
//	ECC_NIST_P521               SIGN_VERIFY, KEY_AGREEMENT      ECDSA_SHA_512, ECDH
//	ECC_SECG_P256K1             SIGN_VERIFY                     ECDSA_SHA_256
//	ECC_NIST_EDWARDS25519       SIGN_VERIFY                     ED25519_SHA_512 (RAW), ED25519_PH_SHA_512 (DIGEST)
//	HMAC_224 … HMAC_512         GENERATE_VERIFY_MAC             HMAC_SHA_224 … HMAC_SHA_512 (the spec's own only)
//	ML_KEM_768, ML_KEM_1024     ENCAPSULATE_DECAPSULATE         ML_KEM
//	ML_DSA_44, ML_DSA_65,       SIGN_VERIFY                     ML_DSA_SHAKE_256 (RAW, EXTERNAL_MU)
//	ML_DSA_87
//
// ML-DSA (FIPS 204, filippo.io/mldsa) signs a RAW message (1 to 4096
// bytes) with the empty context, hedged, or a 64-byte EXTERNAL_MU message,
// the μ of FIPS 204 section 6.2 ([MLDSAMu]); both give signatures that
// verify for the message. Verify takes RAW only: an EXTERNAL_MU Verify is
// an [*UnsupportedError] (no Go ML-DSA library exports verification of an
// external μ).
//
// AWS also has ML_KEM_512 (Go's crypto/mlkem has no ML-KEM-512) and SM2
// (China Regions only); they
// are refused with an [*UnsupportedError] whose Reason says why
// ([Unsupported]).
//
// # Formats
//
//   - Private material ([Key.Marshal], [ParsePrivateKey]): PKCS #8 DER
//     (crypto/x509 for RSA and the NIST curves; RFC 5915 ECPrivateKey with
//     the secp256k1 OID for ECC_SECG_P256K1; the 64-byte seed for ML-KEM;
//     the 32-byte seed for ML-DSA, RFC 9881's seed-only form),
//     the raw key for HMAC (generated as long as the hash output; imports
//     may be up to the hash's block size).
//   - Public keys ([Key.PublicKey]): DER SubjectPublicKeyInfo, as
//     GetPublicKey returns it; secp256k1 with OID 1.3.132.0.10; ML-DSA
//     with id-ml-dsa-44/65/87 (2.16.840.1.101.3.4.3.17/18/19), no
//     parameters (RFC 9881).
//   - Signatures: PKCS #1 v1.5 or PSS (salt length = hash length, MGF1 with
//     the same hash) for RSA; DER Ecdsa-Sig-Value for ECDSA; 64 bytes
//     (RFC 8032) for Ed25519. ED25519_SHA_512 is pure Ed25519 of a RAW
//     message; ED25519_PH_SHA_512 takes a 64-byte DIGEST and, as AWS
//     documents, hashes it again: Ed25519ph of M = the digest.
//   - RAW messages are hashed with the algorithm's hash; DIGEST messages
//     must be exactly as long as that hash. Messages are 1 to 4096 bytes.
//   - RSA encryption: RSAES-OAEP with one hash for the label and MGF1, no
//     label; plaintext limits per [MaxPlaintext].
//   - ECDH: the x-coordinate of the shared point, field-sized; the peer key
//     is DER SubjectPublicKeyInfo on the same curve ([ParsePeerPublicKey]).
//
// # Errors
//
// Every failure a caller can cause is one of [*ValidationError],
// [*KeyUsageError], [*UnsupportedError], [*InvalidSignatureError],
// [*InvalidMacError] or [*InvalidCiphertextError], matching the sentinel of
// its class with errors.Is; [Exception] gives the AWS exception name that a
// KMS-compatible server answers. Checks run in AWS's order: the key's
// capability, the algorithm's name, its pairing with the spec, then the
// message. Material that does not parse is a plain error (a broken store or
// a bad import, an internal error to a server).
//
// # Security considerations
//
//   - Randomness comes from crypto/rand (Go 1.26 ignores any other source
//     for key generation and signing); secp256k1 signatures are RFC 6979
//     deterministic.
//   - VerifyMac compares in constant time (crypto/hmac.Equal). RSA
//     decryption failures are one error with no detail, as an OAEP
//     decryption oracle must be.
//   - ECDH peer keys are validated (on the curve, not infinity, same curve)
//     before use, so an invalid-curve point cannot leak the private key.
//   - No cryptography is written here: crypto/rsa, crypto/ecdsa,
//     crypto/ecdh, crypto/ed25519, crypto/hmac, crypto/mlkem and
//     github.com/decred/dcrd/dcrec/secp256k1/v4 do the work; this package
//     only frames DER where crypto/x509 has no codec (secp256k1, ML-KEM).
package keyspec
