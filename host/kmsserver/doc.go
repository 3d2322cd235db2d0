// SPDX-License-Identifier: Apache-2.0

// Package kmsserver is a self-hostable key service that speaks AWS KMS's wire
// protocol and releases keys only to attested Nitro Enclaves.
//
// Create a [Server] with [NewServer] and serve [Server.Handler]; the
// official aws-sdk-go-v2 KMS client (with a base endpoint), `aws kms
// --endpoint-url` and other SDKs work unchanged.
//
// # Protocol
//
// KMS JSON 1.1: POST / with X-Amz-Target "TrentService.<Operation>",
// Content-Type application/x-amz-json-1.1, KMS's member names, blobs in
// standard base64. Errors are {"__type": name, "message": text} with the
// X-Amzn-ErrorType header, HTTP 400 for client errors (412 for
// DryRunOperationException, 413 for an oversized body), 500 for
// KMSInternalException and 503 for DependencyTimeoutException (the key store
// is unavailable: keystore.ErrUnavailable; Decrypt and GenerateDataKey mark
// their context with keystore.WithCachedReads so a database backend may
// answer them from its cache). Every response carries x-amzn-RequestId.
//
// Operations: CreateKey (SYMMETRIC_DEFAULT and HMAC key specs; asymmetric
// KMS keys answer UnsupportedOperationException), DescribeKey, ListKeys,
// EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion,
// CreateAlias, DeleteAlias, ListAliases, GetKeyPolicy, PutKeyPolicy,
// Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
// GenerateDataKeyWithoutPlaintext, GenerateDataKeyPair,
// GenerateDataKeyPairWithoutPlaintext and GenerateRandom. Keys are named by
// key ID, key ARN, alias name or alias ARN.
//
// # Request path
//
// For every request, in order: body limit ([Config.MaxBodyBytes]); SigV4
// authentication (service "kms", [Config.Region]) against
// [Config.AccessKeys], recomputed with the aws-sdk-go-v2 signer over the
// headers the client signed and the SHA-256 of the body received, X-Amz-Date
// within [Config.MaxClockSkew]; JSON decoding; then per operation: input
// validation, the Recipient check (below), key resolution, the key policy
// (package policy) with Principal = the access key's principal ARN, Action
// "kms:<Operation>", and condition keys kms:EncryptionContext:<k> and
// kms:RecipientAttestation:*, key state and usage, DryRun, the work. An
// audit line is written for every request, whatever its outcome.
//
// # Recipient
//
// Decrypt, GenerateDataKey, GenerateDataKeyPair and GenerateRandom accept
// Recipient {KeyEncryptionAlgorithm: RSAES_OAEP_SHA_256,
// AttestationDocument}. The document is verified by the shared
// attestation.Verifier against [Config.AttestationRoots] (the AWS root by
// default) at the request time with [Config.MaxDocumentAge]; its public_key
// must be an RSA SubjectPublicKeyInfo of 2048 to 4096 bits. An invalid
// document is a ValidationException. The document's PCRs become the policy
// condition keys kms:RecipientAttestation:ImageSha384 (PCR0) and
// kms:RecipientAttestation:PCR<n> (lower-case hex); a failed condition is an
// AccessDeniedException whose message names the condition, the expected
// and the presented value. The response then carries
// CiphertextForRecipient (recipient.Seal, CMS EnvelopedData as KMS emits)
// and no plaintext.
//
// # Ciphertext blobs
//
// Package keymaterial (blob.go): magic "ekb", version 1, key ID, 96-bit random nonce,
// AES-256-GCM with the header and the canonical (sorted) encryption context
// as additional data. Random nonces bound one key to 2^32 encryptions
// (NIST SP 800-38D); rotate keys well before.
//
// # Storage
//
// Keys live behind keystore.Store; the embedded default is a directory
// (keystore.OpenDir). [Config.Postgres] selects PostgreSQL instead
// (package keystore/postgres) for several replicas sharing one database:
// nothing is cached between requests by default, so a change made through
// one replica holds on every replica at its next request. Key material is sealed with AES-256-GCM under
// [Config.RootKey] before it reaches the store, so no backend sees it in
// the clear. The additional data binds the material to the key ID, key
// spec, key usage and the SHA-256 of the key policy: whoever can write to
// the store but lacks the root key cannot loosen a policy or swap material
// between keys (the key then fails with KMSInternalException). Every
// request verifies the record (cached while it is unchanged) before it
// trusts its policy. Alias records carry an HMAC-SHA256 of the alias name
// and key ID under a key derived from the root key (HKDF), checked at every
// lookup by alias, so such a writer cannot point an alias at another key
// either. The key state is not bound, and a writer can still delete records
// (denial of service, not disclosure). CreateKey, CreateAlias and
// DeleteAlias are refused to principals of other accounts, as in KMS, where
// they cannot be called cross-account.
//
// # Audit
//
// One JSON line per request: time, requestId, operation, principal,
// accessKeyId, sourceIp, keyArn, decision (allow, deny, error), errorCode,
// errorMessage, policyReason, and for recipient requests
// additionalEventData.recipient {attestationDocumentModuleId,
// attestationDocumentEnclaveImageDigest} as CloudTrail. Key material,
// plaintext and ciphertext are never logged.
package kmsserver
