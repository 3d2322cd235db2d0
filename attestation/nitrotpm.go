// SPDX-License-Identifier: Apache-2.0

package attestation

// NitroTPMDocument is a decoded NitroTPM attestation document: an EC2
// instance's attestation, made by its NitroTPM, not by a Nitro Enclave. It
// has the envelope, the signer and the AWS root of an enclave's
// [Document], but its PCRs are the instance's TPM PCRs (the payload key
// nitrotpm_pcrs), which say nothing about any enclave. It is a type of its
// own so that one can never be taken for the other: [Verify] refuses
// NitroTPM documents ([ErrNotEnclave]) and [VerifyNitroTPM] refuses enclave
// documents ([ErrNotNitroTPM]).
//
// A NitroTPMDocument returned by [VerifyNitroTPM] or
// [Verifier.VerifyNitroTPM] passed every check; one returned by
// [ParseNitroTPM] passed only strict decoding and is not trustworthy.
// Certificates returned by a [Verifier] may be shared with other documents
// verified with the same chain: treat them as read-only.
//
// It has the fields of [Document], with the same meaning, except that
// ModuleID is the issuing NitroTPM's identifier (AWS's form is
// "i-<instance>-tpm<16 digits>"), PCRs maps each NitroTPM PCR index (0-31;
// AWS sends 0-23) to its value (48 bytes, as Digest SHA384 says), the payload's
// nitrotpm_pcrs, and Raw is a copy of the exact COSE_Sign1 bytes given to
// ParseNitroTPM or VerifyNitroTPM. It is a defined type, not an alias: it
// has none of Document's methods (no [Document.Debug]: a NitroTPM has no
// debug mode), and a *NitroTPMDocument is never a *Document nor the other
// way round without an explicit conversion, which this package makes only
// after step 1 has checked the document's kind.
type NitroTPMDocument Document

// ParseNitroTPM decodes a NitroTPM attestation document strictly, as
// [Parse] decodes an enclave's, and returns it without any cryptographic
// check: use [VerifyNitroTPM] to trust it. The payload must carry
// nitrotpm_pcrs where an enclave document carries pcrs; an enclave
// document (with pcrs) is rejected with [ErrNotNitroTPM].
func ParseNitroTPM(data []byte) (*NitroTPMDocument, error) {
	d, err := parseKind(data, kindNitroTPM)
	return (*NitroTPMDocument)(d), err
}

// VerifyNitroTPM parses and verifies a NitroTPM attestation document and
// returns it only when every check passed; otherwise it returns nil and an
// error whose [ErrorCode] names the first failed check. It makes the checks
// of [Verify], in the same order and with the same errors, except that:
//
//   - step 1 decodes a NitroTPM payload (nitrotpm_pcrs instead of pcrs)
//     and rejects an enclave document with [ErrNotEnclave]'s counterpart,
//     [ErrNotNitroTPM] (code "not_nitrotpm");
//   - step 7 checks Options.PCRs against the NitroTPM PCRs;
//   - step 9 does not apply: a NitroTPM document has no debug mode, and
//     Options.AllowDebugUnsafe changes nothing.
//
// The chain (step 4) leads to the same AWS Nitro root as an enclave's,
// through the instance's CAs: a document passing here proves that a
// NitroTPM of some EC2 instance on Nitro made it. Pin the PCRs that
// identify what the instance booted (Options.PCRs), and use a nonce or
// Options.MaxAge for freshness, exactly as for enclaves.
func VerifyNitroTPM(data []byte, opts Options) (*NitroTPMDocument, error) {
	d, err := verifyKind(nil, data, &opts, kindNitroTPM)
	return (*NitroTPMDocument)(d), err
}
