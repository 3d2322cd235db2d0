// SPDX-License-Identifier: Apache-2.0

package attestedtls

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/enclavekit/enclavekit/attestation"
)

// Sentinel errors of this package. A rejection of the peer is either one of
// these (through the typed errors below) or an error of the attestation
// package, wrapped: attestation.ErrorCode gives its stable code in both
// cases, and errors.Is matches the attestation sentinel it corresponds to.
var (
	// ErrNoDocument: the peer's certificate carries no attestation document,
	// or one that is not well formed (code "malformed").
	ErrNoDocument = errors.New("attestedtls: no attestation document in the peer's certificate")
	// ErrKeyNotBound: the document does not bind the peer's TLS key (code
	// "public_key_mismatch").
	ErrKeyNotBound = errors.New("attestedtls: the TLS key is not bound to the attestation document")
	// ErrChannelBinding: a challenge document names another TLS session
	// than the one it came over (code "user_data_mismatch").
	ErrChannelBinding = errors.New("attestedtls: the attestation document is bound to another TLS session")
	// ErrChallenge: the peer did not answer an attestation challenge with a
	// document (code "malformed").
	ErrChallenge = errors.New("attestedtls: attestation challenge failed")
	// ErrConfig: a configuration is invalid; nothing was verified (code
	// "invalid_options").
	ErrConfig = errors.New("attestedtls: invalid configuration")
	// ErrImageNotPinned: a client policy pins no enclave image (see
	// [PinsImage]) and ClientConfig.AnyImageUnsafe is not set; it is also
	// an [ErrConfig] (code "invalid_options").
	ErrImageNotPinned = errors.New("attestedtls: the client policy pins no enclave image")
)

// DocumentError reports a missing or malformed attestation document
// extension in the peer's certificate. errors.Is matches [ErrNoDocument]
// and attestation.ErrMalformed.
type DocumentError struct {
	// Reason says what is missing or wrong.
	Reason string
}

func (e *DocumentError) Error() string {
	return "attestedtls: no attestation document in the peer's certificate: " + e.Reason +
		" (is the peer an enclavekit attested TLS endpoint?)"
}

// Code returns "malformed".
func (e *DocumentError) Code() string { return attestation.CodeMalformed }

// Is reports whether target is [ErrNoDocument] or attestation.ErrMalformed.
func (e *DocumentError) Is(target error) bool {
	return target == ErrNoDocument || target == attestation.ErrMalformed
}

// KeyBindingError reports a verified document that does not carry the
// SHA-256 of the peer's TLS key (its SubjectPublicKeyInfo) as public_key:
// the peer holds another key than the enclave the document describes.
// errors.Is matches [ErrKeyNotBound] and attestation.ErrPublicKeyMismatch.
type KeyBindingError struct {
	// Want is the SHA-256 of the peer's SubjectPublicKeyInfo; Got the
	// document's public_key (nil when null).
	Want, Got []byte
}

func (e *KeyBindingError) Error() string {
	got := "null"
	if e.Got != nil {
		got = hex.EncodeToString(e.Got)
	}
	return fmt.Sprintf("attestedtls: the TLS key is not bound to the attestation document: the peer's key has SPKI SHA-256 %s, the document's public_key is %s; whoever answered holds another key than the attested enclave (a parent instance in the middle?)",
		hex.EncodeToString(e.Want), got)
}

// Code returns "public_key_mismatch".
func (e *KeyBindingError) Code() string { return attestation.CodePublicKeyMismatch }

// Is reports whether target is [ErrKeyNotBound] or
// attestation.ErrPublicKeyMismatch.
func (e *KeyBindingError) Is(target error) bool {
	return target == ErrKeyNotBound || target == attestation.ErrPublicKeyMismatch
}

// ChannelBindingError reports a challenge document whose user_data is not
// this TLS session's exporter value: it was made for another session, so
// the peer is not the enclave that made it (or relays someone else's).
// errors.Is matches [ErrChannelBinding] and attestation.ErrUserDataMismatch.
type ChannelBindingError struct {
	// Want is this session's exporter value; Got the document's user_data
	// (nil when null).
	Want, Got []byte
}

func (e *ChannelBindingError) Error() string {
	return fmt.Sprintf("attestedtls: the attestation document is bound to another TLS session: its user_data (%d bytes) is not this session's exporter value; the peer terminates TLS itself and relays the document from another session",
		len(e.Got))
}

// Code returns "user_data_mismatch".
func (e *ChannelBindingError) Code() string { return attestation.CodeUserDataMismatch }

// Is reports whether target is [ErrChannelBinding] or
// attestation.ErrUserDataMismatch.
func (e *ChannelBindingError) Is(target error) bool {
	return target == ErrChannelBinding || target == attestation.ErrUserDataMismatch
}

// ChallengeError reports a challenge that the peer did not answer with a
// document: an HTTP error, a wrong content type, an oversized body.
// errors.Is matches [ErrChallenge] and attestation.ErrMalformed.
type ChallengeError struct {
	// Status is the HTTP status received (0 when none was).
	Status int
	// Reason says what went wrong.
	Reason string
}

func (e *ChallengeError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("attestedtls: attestation challenge failed: HTTP %d: %s", e.Status, e.Reason)
	}
	return "attestedtls: attestation challenge failed: " + e.Reason
}

// Code returns "malformed".
func (e *ChallengeError) Code() string { return attestation.CodeMalformed }

// Is reports whether target is [ErrChallenge] or attestation.ErrMalformed.
func (e *ChallengeError) Is(target error) bool {
	return target == ErrChallenge || target == attestation.ErrMalformed
}

// ConfigError reports an invalid [ClientConfig] or [ServerConfig].
// errors.Is matches [ErrConfig] and attestation.ErrInvalidOptions.
type ConfigError struct {
	// Reason names the setting that is wrong.
	Reason string
}

func (e *ConfigError) Error() string { return "attestedtls: invalid configuration: " + e.Reason }

// Code returns "invalid_options".
func (e *ConfigError) Code() string { return attestation.CodeInvalidOptions }

// Is reports whether target is [ErrConfig] or attestation.ErrInvalidOptions.
func (e *ConfigError) Is(target error) bool {
	return target == ErrConfig || target == attestation.ErrInvalidOptions
}

// ImageNotPinnedError reports a [ClientConfig] whose Options.PCRs pin no
// enclave image ([PinsImage] is false) without AnyImageUnsafe: any
// enclave would pass, one the parent instance launches itself included,
// which then sits in the middle of every connection. errors.Is matches
// [ErrImageNotPinned], [ErrConfig] and attestation.ErrInvalidOptions.
type ImageNotPinnedError struct {
	// PCRs are the indexes the policy pins, in increasing order (empty
	// when none): none of them, with its value, identifies the image.
	PCRs []int
}

func (e *ImageNotPinnedError) Error() string {
	pinned := "no PCRs"
	if len(e.PCRs) > 0 {
		pinned = "PCRs " + strings.Trim(fmt.Sprint(e.PCRs), "[]")
	}
	return "attestedtls: invalid configuration: the client policy pins no enclave image (Options.PCRs has " + pinned +
		"), so any enclave would pass, one the parent instance runs itself included: pin a non-zero PCR0 (the image), PCR8 (its signing certificate), or PCR1 and PCR2 together; or set ClientConfig.AnyImageUnsafe to accept any enclave"
}

// Code returns "invalid_options".
func (e *ImageNotPinnedError) Code() string { return attestation.CodeInvalidOptions }

// Is reports whether target is [ErrImageNotPinned], [ErrConfig] or
// attestation.ErrInvalidOptions.
func (e *ImageNotPinnedError) Is(target error) bool {
	return target == ErrImageNotPinned || target == ErrConfig || target == attestation.ErrInvalidOptions
}

// documentError wraps err, the rejection of the peer's document what (in
// the certificate, or answering a challenge), as attestation errors are
// wrapped at this package's boundary: errors.Is, errors.As and
// attestation.ErrorCode see err. A certificate validity error keeps
// attestation's facts (ValidityError.Facts) with this package's advice:
// attestation's (set Options.AtDocumentTime) is for archived documents,
// and [NewClient] refuses it.
func documentError(what string, err error) error {
	var ve *attestation.ValidityError
	if !errors.As(err, &ve) {
		return fmt.Errorf("attestedtls: %s: %w", what, err)
	}
	hint := "check this client's clock (or Options.CurrentTime): a live peer is verified at the current time"
	if ve.Expired() {
		hint = "a live peer is verified at the current time, so its document must be current (a server that stopped refreshing its certificate, a recorded one replayed, or this client's clock ahead)"
	}
	return &wrappedError{msg: "attestedtls: " + what + ": attestation: " + ve.Facts() + "; " + hint, err: err}
}

// wrappedError is err with another message.
type wrappedError struct {
	msg string
	err error
}

func (e *wrappedError) Error() string { return e.msg }
func (e *wrappedError) Unwrap() error { return e.err }
