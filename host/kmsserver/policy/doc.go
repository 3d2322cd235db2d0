// SPDX-License-Identifier: Apache-2.0

// Package policy parses and evaluates AWS KMS key policies and IAM identity
// policies: the subset of the AWS JSON policy grammar that a self-hosted KMS
// needs to release keys only to attested Nitro Enclaves. One engine serves
// both, with the same condition semantics.
//
// [Parse] turns a policy document into a [Policy]; [Policy.Evaluate] answers a
// [Request] (principal, action, key, condition keys) with a [Decision] whose
// Reason says why, in the words users of KMS ask for: which statement, which
// condition, what was expected and what was presented.
//
//	p, err := policy.Parse(doc)
//	...
//	ctx := policy.AddAttestation(nil, verifiedDoc.PCRs)
//	ctx = policy.AddEncryptionContext(ctx, encryptionContext)
//	d := p.Evaluate(policy.Request{Principal: arn, Action: "kms:Decrypt", Resource: keyARN, Context: ctx})
//	if !d.Allowed { /* AccessDeniedException carrying d.Reason */ }
//
// A request put to several policies (the key policy and the caller's
// identity policy) is readied once with [Prepare] and decided by each with
// [Policy.EvaluatePrepared], with the same decisions as Evaluate.
//
// [DefaultKeyPolicy] returns the policy KMS gives keys created without one.
//
// [ParseIdentity] parses an identity policy (the policy of one principal:
// no Principal element). Package kmsserver evaluates both as AWS documents
// it: an explicit Deny in either wins; a key policy Allow that names the
// caller (or "*") grants by itself, while one that names the caller only
// through its account ([Decision.ViaAccount]: the account root ARN or
// account ID) delegates to the identity policy, which must allow too.
//
// # Grammar
//
// Version ("2012-10-17" or "2008-10-17"), Id and Statement (an object or an
// array). Each statement: Sid, Effect, Principal ("*" or {"AWS": …,
// "Service": …}; an account root ARN or a bare 12-digit account ID matches
// every principal of that account; a role ARN also matches the role's STS
// assumed-role sessions), Action or NotAction (wildcards * and ?, matched
// case-insensitively), Resource ("*" or ARN patterns) and Condition.
//
// Condition operators: StringEquals, StringNotEquals, StringEqualsIgnoreCase,
// StringNotEqualsIgnoreCase, StringLike, StringNotLike, Bool and Null;
// NumericEquals, NumericNotEquals, NumericLessThan(Equals) and
// NumericGreaterThan(Equals) (decimal numbers: "10", "-0.5"); DateEquals,
// DateNotEquals, DateLessThan(Equals) and DateGreaterThan(Equals) (ISO 8601
// with a zone, a bare date, or epoch seconds); IpAddress and NotIpAddress
// (CIDR blocks or single addresses, IPv4 and IPv6); ArnEquals, ArnNotEquals,
// ArnLike and ArnNotLike (the six colon-separated parts matched one by one,
// case-sensitively, with * and ?; ArnEquals is ArnLike, as in IAM); all with
// the ForAnyValue:/ForAllValues: prefixes and the IfExists suffix. Values are
// a string (numbers and booleans are compared as their text) or an array,
// any of which may match; keys and operators are ANDed. A policy value that
// is not of its operator's type (a number, date, CIDR block or ARN) fails
// [Parse] with [ErrMalformed]; a request value that is not fails closed: the
// condition does not hold in an Allow statement and holds in a Deny.
//
// Condition keys: kms:RecipientAttestation:ImageSha384 (PCR0) and
// kms:RecipientAttestation:PCR0…PCR31 of a Nitro Enclave's document
// ([AddAttestation]), kms:RecipientAttestation:NitroTPMPCR0…NitroTPMPCR23 of
// an EC2 instance's NitroTPM document ([AddNitroTPMAttestation]), all
// presented as lower-case hex (write them with StringEqualsIgnoreCase, as
// AWS recommends);
// kms:EncryptionContext:<key>; kms:EncryptionContextKeys (multi-valued);
// kms:CallerAccount; kms:ViaService; aws:PrincipalArn (the caller's ARN; for
// an assumed-role session, whose role's ARN the session ARN does not give,
// unknown unless the context sets it: a condition on it then holds in a Deny
// and fails in an Allow); aws:PrincipalAccount;
// kms:KeySpec and kms:KeyUsage (of the key used; for CreateKey, as
// requested); kms:SigningAlgorithm and
// kms:MessageType (Sign, Verify); kms:EncryptionAlgorithm (Encrypt, Decrypt,
// ReEncrypt, the GenerateDataKey family); kms:MacAlgorithm (GenerateMac,
// VerifyMac); kms:KeyAgreementAlgorithm (DeriveSharedSecret);
// kms:RequestAlias and kms:ResourceAliases (multi-valued); aws:SourceIp (the
// connection's address, never a forwarding header), aws:SecureTransport,
// aws:CurrentTime and aws:EpochTime ([AddTransport] fills these four);
// kms:GrantOperations (multi-valued), kms:GranteePrincipal,
// kms:RetiringPrincipal, kms:GrantIsForAWSResource and
// kms:GrantConstraintType (CreateGrant); aws:ResourceTag/<tag-key> (a tag
// of the key used, [AddResourceTags]), aws:RequestTag/<tag-key> (a tag the
// request sets: CreateKey, TagResource) and aws:TagKeys (multi-valued: the
// tag keys of CreateKey, TagResource and UntagResource; [AddRequestTags],
// [AddTagKeys]). The tag key part is case-insensitive, as IAM documents it;
// tag values are compared as the operator says. A missing tag makes
// StringEquals false and StringEqualsIfExists true; ForAllValues holds and
// ForAnyValue fails when the request has no tag keys.
// [Policy.UsesResourceTags] tells a caller whether gathering the key's
// tags is needed at all; [AddAttestationFor] and [AddNitroTPMAttestationFor]
// add only the document's keys that the policies about to decide read
// (hex-encoding every PCR of every request costs more than evaluating),
// and [AddTransportFor] only the transport and time keys they read.
// Condition key names are case-insensitive, including the <key> part of
// kms:EncryptionContext:<key>, as the AWS KMS Developer Guide documents ("the
// condition key, which consists of the kms:EncryptionContext: prefix and the
// context-key replacement, is not case sensitive"); the case sensitivity of
// the value is the operator's. To require a case-sensitive encryption context
// key, add kms:EncryptionContextKeys with StringEquals, as in AWS. Two
// encryption context keys that differ only in case present one condition
// key with both values: an Allow condition must hold for each, with
// ForAnyValue too (on a single-valued key it is the plain operator), and a
// Deny condition applies when one does.
//
// # Security considerations
//
// Unsupported grammar is rejected, never ignored. An evaluator that skipped a
// condition it did not understand, a NotPrincipal, a NotResource or a policy
// variable would grant more than the author wrote (a skipped Deny condition
// makes the Deny never apply; a skipped Allow condition makes the Allow
// unconditional). So [Parse] fails with [ErrUnsupported] on any of them, and
// with [ErrMalformed] on unknown or duplicate members (JSON decoders
// disagree about duplicates: the classic parser differential), invalid
// principals, empty value lists and invalid UTF-8.
//
// Unknown condition keys are rejected too: a key the server never presents
// would silently disable every Deny conditioned on it.
//
// ForAllValues is accepted only with the multi-valued kms:EncryptionContextKeys
// and kms:ResourceAliases.
// With a single-valued key it holds when the key is absent, so an Allow would
// admit requests without an attestation document or encryption context. KMS
// refuses it for kms:EncryptionContext:<key> (OverlyPermissiveCondition); this
// package refuses it for every single-valued key.
//
// Negated operators (StringNotEquals, StringNotEqualsIgnoreCase,
// StringNotLike, NumericNotEquals, DateNotEquals, NotIpAddress, ArnNotEquals,
// ArnNotLike) hold when the key is absent, as in AWS. That is what makes
// a "Deny unless ImageSha384 is X" statement also deny requests with no
// attestation document; in an Allow it admits such requests, so prefer the
// positive operators in Allow statements.
//
// Attestation condition keys must be filled only from a document that passed
// attestation.Verify (or attestation.VerifyNitroTPM for the NitroTPM keys);
// a debug-mode document has all-zero PCRs, which no realistic PCR condition
// expects.
//
// The two kinds of documents never share keys. A NitroTPM document presents
// only NitroTPMPCR<n>, an enclave document only ImageSha384 and PCR<n>: a
// parent instance whose NitroTPM PCR0 happens to equal (or is made to equal)
// a pinned enclave image still fails an ImageSha384 or PCR<n> condition, and
// the reason says that the document is of the other kind.
//
// Documents are bounded ([MaxPolicySize] = 32 KiB as in KMS, [MaxStatements],
// [MaxDepth]). Wildcard matching is iterative, O(len(pattern)·len(value)),
// and one evaluation has a fixed work budget: a policy whose StringLike
// patterns are crafted to be slow against long presented values denies the
// request with a reason saying so, rather than burning the server's CPU or
// skipping a Deny. Evaluation never panics on a policy that parsed (fuzzed).
package policy
