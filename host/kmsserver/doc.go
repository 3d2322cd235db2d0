// SPDX-License-Identifier: Apache-2.0

// Package kmsserver is a self-hostable key service that speaks AWS KMS's wire
// protocol and releases keys only to attested Nitro Enclaves.
//
// Open a key store (package keystore or keystore/postgres; package
// kmsconfig does it from kms-server.yaml), create a [Server] with
// [NewServer], then [Server.Listen] and [Server.Serve] it until a context
// ends, or mount [Server.Handler] in an HTTP server of your own. The
// official aws-sdk-go-v2 KMS client (with a base endpoint), `aws kms
// --endpoint-url` and other SDKs work unchanged.
//
// # Protocol
//
// KMS JSON 1.1 over HTTP/1.1: POST / with X-Amz-Target
// "TrentService.<Operation>", Content-Type application/x-amz-json-1.1
// (one beginning with application/x-amz-json-1.0 or application/json is
// accepted too; any other is a SerializationException), KMS's member names, blobs in
// standard base64. Errors are {"__type": name, "message": text} with the
// X-Amzn-ErrorType header, HTTP 400 for client errors (412 for
// DryRunOperationException, 413 for an oversized body), 500 for
// KMSInternalException and 503 for DependencyTimeoutException (the key store
// is unavailable: keystore.ErrUnavailable, or did not answer within
// [Config.RequestTimeout], the deadline of every store call of a request;
// Decrypt and GenerateDataKey mark their context with
// keystore.WithCachedReads so a database backend may answer them from its
// cache). Every response carries x-amzn-RequestId.
//
// A request whose client closed its connection before the answer (net/http
// cancels the request's context; a store call then returns
// context.Canceled) is recorded as [CodeClientClosedRequest],
// "ClientClosedRequest" (nginx's 499 "client closed request"), in the audit
// line's errorCode, the log (at INFO, not ERROR) and kms_requests_total's
// code, never as KMSInternalException: any client can hang up at will, so
// it must not raise the rate of the server's own failures. Only a context
// canceled without a cause counts: [Server.Serve] cancels the requests it
// cuts at the end of [Config.ShutdownTimeout] with a cause of its own (they
// stay KMSInternalException, the cause in the log), the request's deadline
// ends it with context.DeadlineExceeded (DependencyTimeoutException), and a
// request that succeeded is recorded as a success whether or not its client
// stayed to read the answer (its work, a created key say, is done).
//
// Keys are named by key ID, key ARN, alias name or alias ARN, except where
// the AWS KMS API Reference says a field takes the key ID or key ARN only
// (the key policy, key state, tag, description, rotation, grant and import
// operations, GetKeyLastUsage, ListAliases' KeyId): there an alias is
// refused with NotFoundException, as KMS refuses it (keyref.go, keyIDOnly;
// docs/kms-compatibility.md lists the fields).
//
// # Operations
//
// One file per operation family, each owning its request and response
// types; the route table is operations() in routes.go, and a test checks
// this list against it:
//   - op_keys.go: CreateKey, DescribeKey, ListKeys
//     (SYMMETRIC_DEFAULT, HMAC, RSA, ECC_NIST, ECC_SECG_P256K1,
//     ECC_NIST_EDWARDS25519, ML_KEM_768/1024 and ML_DSA_44/65/87 key
//     specs; ML_KEM_512 and SM2 answer UnsupportedOperationException with
//     the reason)
//   - op_lifecycle.go: EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion
//   - op_aliases.go: CreateAlias, UpdateAlias, DeleteAlias, ListAliases
//   - op_tags.go: TagResource, UntagResource, ListResourceTags
//   - op_metadata.go: UpdateKeyDescription, ListKeyPolicies
//   - op_grants.go: CreateGrant, ListGrants, ListRetirableGrants,
//     RetireGrant, RevokeGrant
//   - op_rotation.go: EnableKeyRotation, DisableKeyRotation,
//     GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations
//     (symmetric encryption keys; materials and the automatic rotation
//     loop in rotation.go)
//   - op_keypolicy.go: GetKeyPolicy, PutKeyPolicy
//   - op_encrypt.go: Encrypt, Decrypt, ReEncrypt
//     (RSAES_OAEP_SHA_1 and RSAES_OAEP_SHA_256 with RSA keys, ReEncrypt
//     included, in asymmetric.go)
//   - op_datakey.go: GenerateDataKey, GenerateDataKeyWithoutPlaintext,
//     GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext
//     (RSA and ECC_NIST pairs from keymaterial, ECC_SECG_P256K1 and
//     ECC_NIST_EDWARDS25519 pairs from keyspec; SM2 and ML-KEM pairs answer
//     UnsupportedOperationException)
//   - op_random.go: GenerateRandom
//   - op_sign.go: Sign, Verify, GetPublicKey (ML_DSA_SHAKE_256 with RAW
//     and EXTERNAL_MU messages; Verify of EXTERNAL_MU refused)
//   - op_mac.go: GenerateMac, VerifyMac
//   - op_agreement.go: DeriveSharedSecret
//   - op_kem.go: Encapsulate, Decapsulate
//   - op_import.go: GetParametersForImport, ImportKeyMaterial,
//     DeleteImportedKeyMaterial (SYMMETRIC_DEFAULT, HMAC, RSA and ECC
//     keys of Origin EXTERNAL, material checked by keyspec.ParsePrivateKey;
//     wrapping algorithms RSAES_OAEP_SHA_1/256 and
//     RSA_AES_KEY_WRAP_SHA_1/256, the latter's AES Key Wrap with Padding
//     in package keywrap, with AWS's rules of which wraps what (checkWrapping:
//     RSA keys need RSA_AES, which wraps RSA and ECC only; no RSAES_OAEP
//     under RSA_2048 for ECC_NIST_P521; no RSA_AES in cn-* regions);
//     a self-contained import token sealed under the root key,
//     bound to the key and expiring after 24 h; the imported material's ID
//     is a keyed fingerprint, so only the same material reimports; Origin
//     and ValidTo are bound to the wrapped material)
//   - op_usage.go: GetKeyLastUsage (the tracking itself in usage.go; see
//     Key usage below)
//
// # Layout
//
// Beside the operations: server.go (the request path), serve.go (Listen
// and Serve), protocol.go (the JSON wire format), auth.go (SigV4),
// keyref.go (key and alias names), condkeys.go (the request's transport,
// time and alias condition keys), keyload.go (loading and verifying a key
// record), authz.go (the key policy), recipient.go (the Recipient
// parameter), asymmetric.go (keys of the specs of package keyspec: their
// material, usage checks, condition keys, RSA encryption), rotation.go
// (key materials, rotating, the automatic rotation loop), pagination.go
// (Limit and Marker of the list operations of one key), audit.go and
// metrics.go. Key material, with no HTTP, is package keymaterial (wrapping,
// blobs, symmetric and HMAC keys) and package keyspec (the asymmetric, HMAC
// and ML-KEM specs and their operations); AES Key Wrap with Padding for
// imports package keywrap; key policies package policy;
// storage package keystore; the configuration file package kmsconfig.
//
// # Request path
//
// For every request, in order: body limit ([Config.MaxBodyBytes]); SigV4
// authentication (service "kms", [Config.Region]) against
// [Config.AccessKeys], recomputed with the aws-sdk-go-v2 signer over the
// headers the client signed and the SHA-256 of the body received, X-Amz-Date
// within [Config.MaxClockSkew]; JSON decoding; then per operation: input
// validation, the Recipient check (below), key resolution, authorization
// (below), key state and usage, the work. An
// audit line is written for every request, whatever its outcome.
//
// DryRun answers DryRunOperationException ("The request would have
// succeeded") only where the same request without it would succeed, and
// otherwise the real call's exception: it takes the real path and stops
// before the answer, so Decrypt checks KeyId against the ciphertext's key
// (IncorrectKeyException; only for a caller authorized for the
// ciphertext's key, so that the answer tells no one else what the KeyId
// names) and opens the ciphertext, Decapsulate and RSA
// Decrypt decrypt, Verify and VerifyMac verify (KMSInvalidSignatureException,
// KMSInvalidMacException), and CreateGrant checks that the key can take the
// grant (pending deletion, the grant limit). Nothing is written and no key
// use is noted. Only what builds the answer is skipped: the data key or key
// pair of the GenerateDataKey family (so a DryRun never waits for, or is
// throttled by, an RSA key generation) and the CiphertextForRecipient
// envelope.
//
// The work of CreateKey, GenerateDataKeyPair(WithoutPlaintext) and
// GetParametersForImport includes an RSA key generation for RSA specs
// (1 to 2 s of CPU for RSA_4096): at most
// [Config.MaxConcurrentKeyGenerations] run at once, and a request beyond
// them is answered ThrottlingException (HTTP 400) at once, after its
// authorization, so that a principal allowed to call them cannot take every
// core. Other specs cost microseconds and are not bounded.
//
// # Authorization
//
// Every principal has an identity policy ([AccessKey.Policy], IAM grammar
// without Principal) beside each key's key policy, and package policy
// evaluates both with Principal = the access key's principal ARN, Action
// "kms:<Operation>", and condition keys kms:EncryptionContext:<k>,
// kms:RecipientAttestation:*, kms:KeySpec, kms:KeyUsage and the operation's
// algorithm keys (kms:EncryptionAlgorithm, kms:SigningAlgorithm,
// kms:MessageType, kms:MacAlgorithm, kms:KeyAgreementAlgorithm),
// kms:RequestAlias (the alias the request named the key by, keyref.go),
// kms:ResourceAliases (the key's aliases, listed only when a deciding
// policy reads it), aws:ResourceTag/<key> (the key's tags, gathered only
// when a deciding policy reads one), aws:RequestTag/<key> and aws:TagKeys
// (the tags of CreateKey and TagResource, the tag keys of UntagResource), aws:SourceIp (the connection's remote address, never a
// forwarding header), aws:SecureTransport (TLS or not), aws:CurrentTime and
// aws:EpochTime (the request time), filled in condkeys.go, as AWS
// documents it: an explicit Deny in
// either wins; a key policy Allow that names the caller (or "*") grants by
// itself; one that names only the caller's account (the account root, as
// the default key policy does) delegates to the identity policy, which
// must allow too; a principal of another account needs both, and only for
// the operations AWS allows cross-account (the cryptographic operations,
// DescribeKey, GetPublicKey, GetKeyRotationStatus, CreateGrant, ListGrants,
// RetireGrant, RevokeGrant): every other operation on a key (its state,
// deletion, key policy, tags, description, rotation, imports, aliases) is
// refused to another account whatever the key policy says
// (keyOfOwnAccount). Account-level
// operations (CreateKey, ListKeys, ListAliases, and CreateAlias and
// DeleteAlias on the alias's side) are allowed only by an identity policy,
// to principals of [Config.AccountID]; GenerateRandom by an identity policy
// alone. So the credentials an enclave's parent holds can be limited to
// GenerateDataKey and Decrypt with an attestation document (kms-server init
// writes such a parent-role): they cannot create a key and squat the alias
// an enclave image names.
//
// Grants (op_grants.go) allow beside the key policy, as in AWS: when the
// policies do not allow a request, a grant of the key naming the caller as
// grantee, with the operation, and whose encryption context constraint the
// request meets, allows it (an empty constraint map is no constraint, as
// the record stores it, and CreateGrant refuses one). An explicit Deny in the key policy or the
// identity policy still wins, so a grant cannot lift a Deny on attestation
// conditions. CreateGrant presents kms:GrantOperations,
// kms:GranteePrincipal, kms:RetiringPrincipal, kms:GrantIsForAWSResource
// (always false) and kms:GrantConstraintType to the policies. Grants live
// in the key record, bound with the policy to the wrapped material.
//
// # Recipient
//
// Decrypt, GenerateDataKey, GenerateDataKeyPair, GenerateRandom and
// DeriveSharedSecret accept Recipient {KeyEncryptionAlgorithm: RSAES_OAEP_SHA_256,
// AttestationDocument}. The document is verified by the shared
// attestation.Verifier against [Config.AttestationRoots] (the AWS root by
// default) at the request time with [Config.MaxDocumentAge]; its public_key
// must be an RSA SubjectPublicKeyInfo of 2048 to 4096 bits. An invalid
// document is a ValidationException. The document's PCRs become the policy
// condition keys kms:RecipientAttestation:ImageSha384 (PCR0) and
// kms:RecipientAttestation:PCR<n> (lower-case hex); a failed condition is an
// AccessDeniedException whose message names the condition, the expected
// and the presented value.
//
// An EC2 instance's NitroTPM document is accepted too, where AWS accepts
// it (the same five operations): a document whose payload carries
// nitrotpm_pcrs and no pcrs goes to attestation.Verifier.VerifyNitroTPM
// (same roots, maximum age and cache), any other to the enclave verifier.
// The choice is made once from the document's shape, and an error of the
// chosen verifier is final: nothing is retried with the other, and each
// verifier refuses the other kind's PCRs, so no document is accepted under
// the other kind's rules. A NitroTPM document's PCRs become
// kms:RecipientAttestation:NitroTPMPCR0 to NitroTPMPCR23 and nothing else:
// an enclave condition (ImageSha384, PCR<n>) fails against a NitroTPM
// document and a NitroTPMPCR<n> condition against an enclave document, with
// a denial naming the key and the kind of document presented. The audit
// log records the module ID and the NitroTPM PCRs
// (attestationDocumentNitroTPMPCR<n>) as CloudTrail does. The response then carries
// CiphertextForRecipient (recipient.Seal, CMS EnvelopedData as KMS emits)
// and no plaintext.
//
// # Ciphertext blobs
//
// Package keymaterial (blob.go): magic "ekb", version 2, key ID, key
// material ID, 96-bit random nonce, AES-256-GCM with the header and the
// canonical (sorted) encryption context as additional data (version 1,
// without the material ID, from before rotation, still opens). Random
// nonces bound one material to 2^32 encryptions (NIST SP 800-38D); rotate
// keys well before.
//
// # Rotation
//
// A rotation (RotateKeyOnDemand, or automatic every RotationPeriodInDays
// by a loop of [Server.Serve], rotation.go) gives a symmetric key a new
// current material and keeps the old one, sealed for its key and material
// ID, in the same store update: a crash leaves the old record or the new
// one. New blobs name the current material; Decrypt opens a blob with the
// material it names (cached like the current one, at the same cost);
// ReEncrypt moves a blob to the current material. Replicas sharing
// PostgreSQL may sweep together: the due date is checked again inside the
// update, so a key rotates once.
//
// # Storage
//
// Keys live behind the keystore.Store of [Config.Store]: a directory
// (keystore.OpenDir), or PostgreSQL (package keystore/postgres) for several
// replicas sharing one database: nothing is cached between requests by
// default, so a change made through one replica holds on every replica at
// its next request. The caller opens and closes the store; the server does
// no I/O before [Server.Listen]. Key material is sealed with AES-256-GCM under
// [Config.RootKey] before it reaches the store, so no backend sees it in
// the clear. The additional data binds the material to the key ID, key
// spec, key usage, the SHA-256 of the key policy, the key state, the
// deletion date and the SHA-256 of the key's tags (package keymaterial):
// whoever can write to the store but lacks the root key cannot loosen a
// policy, retag a key past an aws:ResourceTag condition, swap material
// between keys or bring a disabled or deleted key back by editing its
// record (the key then fails with KMSInternalException; replaying an
// older record whole is another matter: see Rollback below). A write that would make a record too
// large for the store (keystore.ErrTooLarge) is answered
// LimitExceededException. Records written before the tags were bound
// still open, but cannot vouch for their tags: a policy that reads
// aws:ResourceTag denies them until TagResource, UntagResource or
// PutKeyPolicy binds the tags (condkeys.go). Every request verifies the record (cached while
// every bound field and the wrapped bytes are unchanged) before it trusts
// its policy. Records written before the state was bound still open; their
// state is bound at their next change. Alias records carry an HMAC-SHA256
// of the alias name, key ID, creation time and sequence number under a
// key derived from the root key (HKDF), checked at every lookup by alias,
// so such a writer cannot point an alias at another key either. The rotation settings (RotationEnabled,
// RotationPeriodInDays, NextRotationDate) are not sealed: such a writer
// can switch a key's automatic rotation off, or make it rotate at the next
// sweep (the new material is the server's own, sealed as any). [Server.Serve] destroys a key when its
// deletion date has passed (every [Config.DeletionSweepInterval]): its
// record, with the sealed material, and its aliases leave the store; a key
// whose record fails its check (or is older than one the replica has
// seen, or does not seal its state: written before the state was bound)
// is left alone, logged and counted. The
// record is judged as it is when it goes, inside keystore.Store.DeleteKey's
// transaction (PostgreSQL's row lock, the directory's lock), not as the
// sweep listed it: a CancelKeyDeletion that commits after the listing keeps
// the key, and one that answered success is never undone. Each
// sweep also drops from memory (the unwrapped material, the parsed policy,
// the written usage) every key the store no longer lists, such as one
// another replica destroyed. Deletion and rotation dates are judged by
// [Config.Clock]; with a store that has a clock the replicas share
// (keystore.SharedClock: PostgreSQL's), the deletion and rotation sweeps
// act only while that clock is within [Config.MaxClockSkew] of the
// store's, and otherwise log, count result "clock_skew" and do nothing
// (sweepclock.go): one replica whose clock runs ahead cannot destroy keys
// before their deletion date or rotate them early for all.
//
// # Rollback: an old record replayed
//
// The seal vouches that a record was written by a server holding the root
// key, not by itself that it is the latest one. Whoever can write to the
// store can delete records (denial of service), and can put back an old,
// validly sealed copy of a key record or alias record; one the server
// does not catch (below) is taken as current. That is not only denial of
// service. A replayed key record brings back every field as it was: a key
// policy since replaced (one that named an enclave image PutKeyPolicy
// moved away from releases data keys to that image again), grants since
// revoked or retired, Enabled over a DisableKey, a deletion since
// cancelled or a key not yet scheduled for deletion, older tags (and so
// aws:ResourceTag conditions); a record of a key the deletion sweep
// destroyed, put back, makes the key usable again with its material. A
// replayed alias record points the alias at the key it named before.
// Copies to replay are not only kept by an attacker: a restored backup
// (pg_dump, a base backup with its WAL archive, a copy of the key
// directory) and the failover of PostgreSQL to an asynchronous standby
// that had not received the latest commits replay every record changed
// since, and a destroyed key lives on in every backup taken before its
// destruction. Run PostgreSQL with synchronous replication
// (synchronous_standby_names, synchronous_commit=on) so that a failover
// loses no acknowledged write, keep backups as secret and as short-lived
// as the keys' deletion demands, and after a restore repeat every
// security change made since the backup (PutKeyPolicy, RevokeGrant,
// RetireGrant, DisableKey, ScheduleKeyDeletion, UpdateAlias).
//
// What each replica detects (rollback.go): every sealed write of a key
// record carries a sequence number one above the record it replaces
// (keystore.Key.Seq, bound under the root key: keymaterial.Binding.Seq).
// Each replica keeps in memory, per key, the highest sequence number it
// has verified or written, and a tombstone for a key it destroyed or saw
// vanish (NotFound after having verified it: key IDs are never reused); a
// record older than that, or any record of a tombstoned key, is refused
// with KMSInternalException (so it cannot be laundered into a new record
// by a change either), logged at ERROR as "rollback detected" with the
// key and both sequence numbers, and counted in
// kms_key_rollbacks_detected_total. Memory: one map entry per key
// verified since start (its ID and a 64-bit counter), destroyed keys
// included. Records
// sealed before sequence numbers open as sequence 0 and get one at their
// next sealed write. Not detected: a replay while every replica restarts
// (or of a key no replica has verified since it started), since the marks
// live in memory only (persisting them outside the store would close
// that); deletions. After a deliberate restore, restart every replica.
//
// Alias records are checked the same way (aliasrollback.go). Their MAC
// (keymaterial's Root.AliasRecordMAC) binds the alias name, key ID, the
// alias's creation time and the record's sequence number since: 1 at
// CreateAlias, one above the record it replaces at every UpdateAlias.
// Alias names are reused, so a record is placed by (creation time,
// sequence number): an alias created later is a later alias. UpdateAlias
// is conditional in the store (keystore.Store.UpdateAlias runs the
// server's check and seal on the record as stored, under PostgreSQL's row
// lock or the directory's lock): the record it replaces must pass its MAC
// and the marks and still name the key the caller was authorized on
// (else the update starts again, at most 3 times, then
// ThrottlingException), so two replicas racing never write on top of the
// same record. Each replica keeps per alias name the latest (creation
// time, sequence number) it has verified or written, and marks that alias
// deleted when it deletes it or a lookup finds it gone after having
// verified it; CreateAlias stamps the new alias later than any alias of
// that name the replica has seen, by the store's clock when the store has
// one the replicas share (keystore.SharedClock: PostgreSQL's), else by
// [Config.Clock]. A record older than the mark (an alias moved by
// UpdateAlias, put back), or of an alias marked deleted or created before
// it (a record from before DeleteAlias, put back while the alias is gone
// or after it was created again), is refused: requests naming the alias
// fail with KMSInternalException (UpdateAlias too, so an old record is not
// laundered into a new one), logged at ERROR as "rollback detected" with
// the alias ARN and both records' creation times and sequence numbers,
// and counted in kms_alias_rollbacks_detected_total; such a record does
// not count either in kms:ResourceAliases for the key it names. Keys named
// by ID are not affected. DeleteAlias still deletes a refused record (to
// recover: delete the alias and create it again). Memory: one map entry
// per alias name verified or written since start (the name, a time and a
// 64-bit counter), deleted aliases included. Alias records written before
// sequence numbers (MAC over name and key ID only) are still taken, as the
// oldest record of their name, and sealed with sequence 1 at their next
// UpdateAlias. Not detected, as for keys: a replay while every replica
// restarts, or of an alias no running replica has verified since it
// started (the marks live in memory only); an alias record deleted from
// the store (NotFound: denial of service). And a store clock that steps
// back (a failover to a standby whose clock is behind) can make an alias
// created afterwards look older than one of the same name deleted before
// it: replicas that saw the old one refuse the new one until they restart
// (a false alarm, never a silent use of an old record).
//
// # Key usage
//
// GetKeyLastUsage reports a key's last successful cryptographic operation
// (the operations of KMS's KeyLastUsageTrackingOperation: Encrypt,
// Decrypt, ReEncrypt for both its keys, the GenerateDataKey family,
// Sign, Verify, GenerateMac, VerifyMac, DeriveSharedSecret, Encapsulate,
// Decapsulate): operation, time and request ID (KmsRequestId, the audit
// line's requestId). CloudTrailEventId is left absent: there is no
// CloudTrail, and the audit line has no ID of its own beyond requestId. A
// request counts once it has succeeded; a denied, failed or DryRun request
// does not. The use is noted in memory (usage.go), never written on the
// request path; [Server.Serve] writes the keys used since its last round
// to the store every [Config.KeyUsageFlushInterval] (one write per key
// used, none for keys not used) and once more when it stops. So, as KMS
// documents eventual consistency for it, the answer may lag: a crash loses
// at most the last interval's usage, and with several replicas sharing
// PostgreSQL a replica answers from the store and its own memory, and
// sees another replica's use after that replica's next flush. Writes keep
// the later of the stored and the noted use, whichever replica flushes
// last. TrackingStartDate is the key's creation, or for a key created
// before tracking existed, the start of the server that first persisted
// its usage (until then, the current server's start). The usage is not
// bound to the key material: a store writer can forge it (it decides no
// access). Memory holds one entry per key this server used, dropped once
// its use is written and the key has left the store (the deletion sweep,
// whichever replica destroyed the key).
//
// # TLS
//
// [Config.TLSConfig] serves the KMS listener over TLS (1.2 at least); its
// GetCertificate may reload the certificate (package kmsconfig does on
// SIGHUP) without dropping connections. Plain HTTP is refused on any
// listen address but loopback or a unix socket unless
// [Config.InsecureHTTPUnsafe]: the parent instance relays an enclave's
// requests and, over plain HTTP, could answer them itself.
// aws:SecureTransport is true only over TLS the server itself serves, and
// aws:SourceIp is the address of the connection it accepted: behind a TLS
// terminator every request is plain HTTP from the terminator's address.
//
// # Audit
//
// One JSON line per request: time, requestId, operation, principal,
// accessKeyId, sourceIp, keyArn (the request's first key, for ReEncrypt
// its source, once its name resolved to a key ID: present too when the
// key does not exist or its lookup failed, timed out or was abandoned by
// the client), decision (allow, deny, error), errorCode
// (KMS's exception name, or ClientClosedRequest for a request its client
// abandoned), errorMessage, policyReason, and for recipient requests
// additionalEventData.recipient {attestationDocumentModuleId,
// attestationDocumentEnclaveImageDigest} as CloudTrail. Key material,
// plaintext and ciphertext are never logged. What a request that has not
// authenticated sends is anyone's, so its line stays small whatever it
// sends: operation is "unknown" unless the X-Amz-Target names a KMS
// operation, accessKeyId is the claimed ID only when it is configured or
// has an access key ID's shape (16 to 128 of A-Z and 0-9), else
// "(malformed)", and errorMessage quotes at most 64 bytes of any header
// value. An authenticated caller's unknown operation is recorded as
// named, cut to 64 bytes.
//
// The audit log fails closed: a request's line is written to
// [Config.AuditLog] before its answer is sent, and a request whose line
// could not be written is answered with KMSInternalException instead of
// its result, counted in kms_audit_write_failures_total; [Server.Healthy]
// reports [ErrAuditLogUnwritable] until a line is written again: while it
// does, it (and each sweep) writes a line of its own, operation
// AuditLogWritable, principal kms-server, at most one at a time and once a
// second by [Config.Clock], so that the log is found writable again with
// no request (an unhealthy node's load balancer sends none). A line
// after a write that stored only part of one starts with a newline. Lines
// are not synced to disk (no fsync per request): a host crash can lose
// those still in the page cache, never a result whose line was not
// written first.
package kmsserver
