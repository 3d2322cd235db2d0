// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors, one per rejection class. Every error returned by [Parse],
// [Verify], [ParseNitroTPM], [VerifyNitroTPM] and the [Verifier] methods
// matches exactly one of them with [errors.Is], and [ErrorCode] gives its
// stable code.
var (
	// ErrMalformed: the input is not a well-formed, strictly encoded
	// attestation document (code "malformed").
	ErrMalformed = errors.New("attestation: malformed document")
	// ErrUnsupportedAlgorithm: the document is not signed with ES384 by an
	// ECDSA P-384 leaf key (code "unsupported_algorithm").
	ErrUnsupportedAlgorithm = errors.New("attestation: unsupported algorithm")
	// ErrBadSignature: the COSE_Sign1 signature does not verify with the
	// leaf certificate's key (code "bad_signature").
	ErrBadSignature = errors.New("attestation: bad signature")
	// ErrUntrustedChain: the certificates do not chain to a trusted root
	// (code "untrusted_chain").
	ErrUntrustedChain = errors.New("attestation: untrusted certificate chain")
	// ErrCertificateExpired: a certificate had expired at the verification
	// time (code "certificate_expired").
	ErrCertificateExpired = errors.New("attestation: certificate expired")
	// ErrCertificateNotYetValid: a certificate was not yet valid at the
	// verification time (code "certificate_not_yet_valid").
	ErrCertificateNotYetValid = errors.New("attestation: certificate not yet valid")
	// ErrPCRMismatch: one or more PCRs differ from the expected values
	// (code "pcr_mismatch"); see [PCRMismatchError].
	ErrPCRMismatch = errors.New("attestation: PCR mismatch")
	// ErrNonceMismatch: the nonce differs from the expected one (code
	// "nonce_mismatch").
	ErrNonceMismatch = errors.New("attestation: nonce mismatch")
	// ErrUserDataMismatch: user_data differs from the expected value (code
	// "user_data_mismatch").
	ErrUserDataMismatch = errors.New("attestation: user data mismatch")
	// ErrPublicKeyMismatch: public_key differs from the expected value
	// (code "public_key_mismatch").
	ErrPublicKeyMismatch = errors.New("attestation: public key mismatch")
	// ErrTooOld: the document is older than Options.MaxAge (code "too_old").
	ErrTooOld = errors.New("attestation: document too old")
	// ErrFromFuture: the document's timestamp is later than the
	// verification time plus the allowed skew (code "from_future").
	ErrFromFuture = errors.New("attestation: document from the future")
	// ErrDebugMode: the enclave runs in debug mode (PCR0, PCR1 and PCR2 all
	// zero) and Options.AllowDebugUnsafe is not set (code "debug_mode").
	ErrDebugMode = errors.New("attestation: debug-mode enclave")
	// ErrNotEnclave: the document is a valid-looking Nitro document that is
	// not an enclave's, such as a NitroTPM document (code "not_enclave").
	ErrNotEnclave = errors.New("attestation: not an enclave attestation document")
	// ErrNotNitroTPM: the document given to [VerifyNitroTPM] or
	// [ParseNitroTPM] is not a NitroTPM document, such as an enclave's
	// (code "not_nitrotpm").
	ErrNotNitroTPM = errors.New("attestation: not a NitroTPM attestation document")
	// ErrInvalidOptions: the [Options] given are contradictory or out of
	// range; nothing was verified (code "invalid_options").
	ErrInvalidOptions = errors.New("attestation: invalid options")
)

// Stable error codes returned by [ErrorCode] and each typed error's Code.
const (
	CodeMalformed              = "malformed"
	CodeUnsupportedAlgorithm   = "unsupported_algorithm"
	CodeBadSignature           = "bad_signature"
	CodeUntrustedChain         = "untrusted_chain"
	CodeCertificateExpired     = "certificate_expired"
	CodeCertificateNotYetValid = "certificate_not_yet_valid"
	CodePCRMismatch            = "pcr_mismatch"
	CodeNonceMismatch          = "nonce_mismatch"
	CodeUserDataMismatch       = "user_data_mismatch"
	CodePublicKeyMismatch      = "public_key_mismatch"
	CodeTooOld                 = "too_old"
	CodeFromFuture             = "from_future"
	CodeDebugMode              = "debug_mode"
	CodeNotEnclave             = "not_enclave"
	CodeNotNitroTPM            = "not_nitrotpm"
	CodeInvalidOptions         = "invalid_options"
)

var sentinelCodes = [...]struct {
	err  error
	code string
}{
	{ErrMalformed, CodeMalformed},
	{ErrUnsupportedAlgorithm, CodeUnsupportedAlgorithm},
	{ErrBadSignature, CodeBadSignature},
	{ErrUntrustedChain, CodeUntrustedChain},
	{ErrCertificateExpired, CodeCertificateExpired},
	{ErrCertificateNotYetValid, CodeCertificateNotYetValid},
	{ErrPCRMismatch, CodePCRMismatch},
	{ErrNonceMismatch, CodeNonceMismatch},
	{ErrUserDataMismatch, CodeUserDataMismatch},
	{ErrPublicKeyMismatch, CodePublicKeyMismatch},
	{ErrTooOld, CodeTooOld},
	{ErrFromFuture, CodeFromFuture},
	{ErrDebugMode, CodeDebugMode},
	{ErrNotEnclave, CodeNotEnclave},
	{ErrNotNitroTPM, CodeNotNitroTPM},
	{ErrInvalidOptions, CodeInvalidOptions},
}

// ErrorCode returns the stable code of an error returned by this package:
// "malformed", "unsupported_algorithm", "bad_signature", "untrusted_chain",
// "certificate_expired", "certificate_not_yet_valid", "pcr_mismatch",
// "nonce_mismatch", "user_data_mismatch", "public_key_mismatch", "too_old",
// "from_future", "debug_mode", "not_enclave", "not_nitrotpm" or
// "invalid_options". It returns
// "" for nil and for errors that come from elsewhere.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var c interface{ Code() string }
	if errors.As(err, &c) {
		return c.Code()
	}
	for _, s := range sentinelCodes {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return ""
}

// MalformedError reports why a document failed strict decoding.
type MalformedError struct {
	// Field is the payload field or envelope part concerned ("payload",
	// "pcrs", "cabundle[2]", ...), or "" for the input as a whole.
	Field string
	// Reason says what is wrong.
	Reason string
}

func (e *MalformedError) Error() string {
	if e.Field == "" {
		return "attestation: malformed document: " + e.Reason
	}
	return "attestation: malformed document: " + e.Field + ": " + e.Reason
}

// Code returns "malformed".
func (e *MalformedError) Code() string { return CodeMalformed }

// Is reports whether target is [ErrMalformed].
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// AlgorithmError reports a signature algorithm or leaf key other than ES384
// with ECDSA P-384.
type AlgorithmError struct {
	// Reason names what was found instead.
	Reason string
}

func (e *AlgorithmError) Error() string {
	return "attestation: unsupported algorithm: " + e.Reason + " (Nitro documents are ES384 with an ECDSA P-384 leaf)"
}

// Code returns "unsupported_algorithm".
func (e *AlgorithmError) Code() string { return CodeUnsupportedAlgorithm }

// Is reports whether target is [ErrUnsupportedAlgorithm].
func (e *AlgorithmError) Is(target error) bool { return target == ErrUnsupportedAlgorithm }

// SignatureError reports a COSE_Sign1 signature that does not verify.
type SignatureError struct{}

func (e *SignatureError) Error() string {
	return "attestation: bad signature: the COSE_Sign1 signature does not verify with the leaf certificate's key"
}

// Code returns "bad_signature".
func (e *SignatureError) Code() string { return CodeBadSignature }

// Is reports whether target is [ErrBadSignature].
func (e *SignatureError) Is(target error) bool { return target == ErrBadSignature }

// ChainError reports certificates that do not chain to a trusted root.
type ChainError struct {
	// Reason says what is wrong with the chain.
	Reason string
	// UntrustedRoot is the subject of cabundle[0] when it is not one of the
	// trusted roots (Options.Roots, or the AWS root when that is nil); ""
	// when the chain failed for another reason. A program can then say how
	// its user adds a root (a flag, a configuration key).
	UntrustedRoot string
}

func (e *ChainError) Error() string {
	return "attestation: untrusted certificate chain: " + e.Reason
}

// Code returns "untrusted_chain".
func (e *ChainError) Code() string { return CodeUntrustedChain }

// Is reports whether target is [ErrUntrustedChain].
func (e *ChainError) Is(target error) bool { return target == ErrUntrustedChain }

// ValidityError reports a certificate used outside its validity period.
// Certificate validity is told apart from document freshness
// ([FreshnessError]): the leaf of a Nitro document lives three hours, so a
// stored document is verified at its own time (Options.AtDocumentTime)
// together with an explicit Options.MaxAge.
type ValidityError struct {
	// Subject is the certificate's subject; Position is "certificate" for
	// the leaf or "cabundle[i]".
	Subject, Position string
	// NotBefore and NotAfter bound the certificate's validity.
	NotBefore, NotAfter time.Time
	// At is the time the certificate was checked at.
	At time.Time
	// AtDocumentTime reports whether At was the document's own timestamp.
	AtDocumentTime bool
}

// Expired reports whether At is after NotAfter (else At is before NotBefore).
func (e *ValidityError) Expired() bool { return e.At.After(e.NotAfter) }

// Facts states the error without the package prefix and without the
// advice Error ends with, which names [Options] fields: expired or not yet
// valid, which certificate, its validity period and the verification time
// (noted as the document's own timestamp when it was). Packages and CLIs
// that give advice in their own terms reuse it rather than spell the facts
// again.
func (e *ValidityError) Facts() string {
	state := "not yet valid"
	if e.Expired() {
		state = "expired"
	}
	s := fmt.Sprintf("certificate %s: %s %q is valid from %s to %s, verification time %s",
		state, e.Position, e.Subject, e.NotBefore.UTC().Format(time.RFC3339),
		e.NotAfter.UTC().Format(time.RFC3339), e.At.UTC().Format(time.RFC3339Nano))
	if e.AtDocumentTime {
		s += " (the document's own timestamp)"
	}
	return s
}

func (e *ValidityError) Error() string {
	switch {
	case e.AtDocumentTime:
		return "attestation: " + e.Facts()
	case e.Expired():
		return "attestation: " + e.Facts() + "; set Options.AtDocumentTime to verify an archived document at its own time"
	default:
		return "attestation: " + e.Facts() + "; check the verifier's clock, or set Options.AtDocumentTime"
	}
}

// Code returns "certificate_expired" or "certificate_not_yet_valid".
func (e *ValidityError) Code() string {
	if e.Expired() {
		return CodeCertificateExpired
	}
	return CodeCertificateNotYetValid
}

// Is reports whether target is [ErrCertificateExpired] or
// [ErrCertificateNotYetValid], whichever applies.
func (e *ValidityError) Is(target error) bool {
	if e.Expired() {
		return target == ErrCertificateExpired
	}
	return target == ErrCertificateNotYetValid
}

// PCRMismatch is one PCR whose value differs from the expected one.
type PCRMismatch struct {
	Index int
	// Want is the expected value, Got the document's (nil when the
	// document has no such PCR).
	Want, Got []byte
}

func (m PCRMismatch) Error() string {
	got := "absent"
	if m.Got != nil {
		got = hex.EncodeToString(m.Got)
	}
	return fmt.Sprintf("attestation: PCR%d is %s, want %s", m.Index, got, hex.EncodeToString(m.Want))
}

// PCRMismatchError lists every PCR that differs from Options.PCRs, in
// index order. errors.Is(err, [ErrPCRMismatch]) is true, and each
// [PCRMismatch] is reachable with errors.As.
type PCRMismatchError struct {
	Mismatches []PCRMismatch
}

func (e *PCRMismatchError) Error() string {
	var b strings.Builder
	b.WriteString("attestation: PCR mismatch:")
	for i, m := range e.Mismatches {
		if i > 0 {
			b.WriteByte(';')
		}
		got := "absent"
		if m.Got != nil {
			got = hex.EncodeToString(m.Got)
		}
		want := hex.EncodeToString(m.Want)
		switch {
		case m.Want == nil:
			want = "absent"
		case len(m.Want) == 0:
			want = "an empty value, which no PCR has (check the expected value)"
		}
		fmt.Fprintf(&b, " PCR%d is %s, want %s", m.Index, got, want)
	}
	return b.String()
}

// Code returns "pcr_mismatch".
func (e *PCRMismatchError) Code() string { return CodePCRMismatch }

// Is reports whether target is [ErrPCRMismatch].
func (e *PCRMismatchError) Is(target error) bool { return target == ErrPCRMismatch }

// Unwrap returns every mismatch, each a [PCRMismatch].
func (e *PCRMismatchError) Unwrap() []error {
	errs := make([]error, len(e.Mismatches))
	for i, m := range e.Mismatches {
		errs[i] = m
	}
	return errs
}

// MismatchError reports a nonce, user_data or public_key that differs from
// the expected value.
type MismatchError struct {
	// Field is "nonce", "user_data" or "public_key".
	Field string
	// Want is the expected value, Got the document's (nil when null).
	Want, Got []byte
}

func (e *MismatchError) Error() string {
	got := "null"
	if e.Got != nil {
		got = fmt.Sprintf("%d bytes", len(e.Got))
	}
	return fmt.Sprintf("attestation: %s mismatch: the document's %s (%s) differs from the expected %d bytes",
		strings.ReplaceAll(e.Field, "_", " "), e.Field, got, len(e.Want))
}

// Code returns "nonce_mismatch", "user_data_mismatch" or
// "public_key_mismatch".
func (e *MismatchError) Code() string { return e.Field + "_mismatch" }

// Is reports whether target is the sentinel for Field.
func (e *MismatchError) Is(target error) bool {
	switch e.Field {
	case "nonce":
		return target == ErrNonceMismatch
	case "user_data":
		return target == ErrUserDataMismatch
	case "public_key":
		return target == ErrPublicKeyMismatch
	}
	return false
}

// FreshnessError reports a document older than Options.MaxAge, or dated
// further in the future than Options.MaxFutureSkew allows.
type FreshnessError struct {
	// Timestamp is the document's; At the verification time (for
	// freshness, always the current time, even with AtDocumentTime).
	Timestamp, At time.Time
	// Future tells a document from the future (true) from a too old one.
	Future bool
	// Limit is the MaxAge or MaxFutureSkew that was exceeded.
	Limit time.Duration
}

func (e *FreshnessError) Error() string {
	if e.Future {
		return fmt.Sprintf("attestation: document from the future: timestamp %s is %s after the verification time %s (allowed skew %s); check the verifier's clock or Options.MaxFutureSkew",
			e.Timestamp.UTC().Format(time.RFC3339Nano), e.Timestamp.Sub(e.At), e.At.UTC().Format(time.RFC3339Nano), e.Limit)
	}
	return fmt.Sprintf("attestation: document too old: timestamp %s is %s before the verification time %s (max age %s); request a fresh document or raise Options.MaxAge",
		e.Timestamp.UTC().Format(time.RFC3339Nano), e.At.Sub(e.Timestamp), e.At.UTC().Format(time.RFC3339Nano), e.Limit)
}

// Code returns "too_old" or "from_future".
func (e *FreshnessError) Code() string {
	if e.Future {
		return CodeFromFuture
	}
	return CodeTooOld
}

// Is reports whether target is [ErrTooOld] or [ErrFromFuture], whichever
// applies.
func (e *FreshnessError) Is(target error) bool {
	if e.Future {
		return target == ErrFromFuture
	}
	return target == ErrTooOld
}

// DebugModeError reports a debug-mode enclave.
type DebugModeError struct{}

func (e *DebugModeError) Error() string {
	return "attestation: debug-mode enclave: PCR0, PCR1 and PCR2 are all zero, so its memory is readable from the parent instance; accept it only in development with Options.AllowDebugUnsafe"
}

// Code returns "debug_mode".
func (e *DebugModeError) Code() string { return CodeDebugMode }

// Is reports whether target is [ErrDebugMode].
func (e *DebugModeError) Is(target error) bool { return target == ErrDebugMode }

// NotEnclaveError reports a Nitro document that is not an enclave's.
type NotEnclaveError struct {
	// Field is the payload key that marks the document ("nitrotpm_pcrs").
	Field string
}

func (e *NotEnclaveError) Error() string {
	return "attestation: not an enclave attestation document: it carries " + e.Field + " (a NitroTPM document of an EC2 instance), not pcrs"
}

// Code returns "not_enclave".
func (e *NotEnclaveError) Code() string { return CodeNotEnclave }

// Is reports whether target is [ErrNotEnclave].
func (e *NotEnclaveError) Is(target error) bool { return target == ErrNotEnclave }

// NotNitroTPMError reports a Nitro document given to the NitroTPM verifier
// that is not a NitroTPM document.
type NotNitroTPMError struct {
	// Field is the payload key that marks the document ("pcrs").
	Field string
}

func (e *NotNitroTPMError) Error() string {
	return "attestation: not a NitroTPM attestation document: it carries " + e.Field + " (a Nitro Enclave's document), not nitrotpm_pcrs"
}

// Code returns "not_nitrotpm".
func (e *NotNitroTPMError) Code() string { return CodeNotNitroTPM }

// Is reports whether target is [ErrNotNitroTPM].
func (e *NotNitroTPMError) Is(target error) bool { return target == ErrNotNitroTPM }

// OptionsError reports contradictory or out-of-range [Options] or
// [VerifierConfig]; nothing was verified.
type OptionsError struct {
	// Reason says which option is wrong.
	Reason string
}

func (e *OptionsError) Error() string { return "attestation: invalid options: " + e.Reason }

// Code returns "invalid_options".
func (e *OptionsError) Code() string { return CodeInvalidOptions }

// Is reports whether target is [ErrInvalidOptions].
func (e *OptionsError) Is(target error) bool { return target == ErrInvalidOptions }
