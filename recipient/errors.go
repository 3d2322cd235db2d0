// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"errors"
	"strconv"
)

// Error classes, matched with errors.Is. Typed errors carry the details.
var (
	// ErrUnsupportedKey: the key is not RSA, or not 2048 to 4096 bits, or has
	// an exponent below 65537, above 2^31-1 or even; see [KeyError].
	ErrUnsupportedKey = errors.New("recipient: unsupported key")

	// ErrMalformed: the envelope is not a CMS EnvelopedData this package
	// accepts; see [FormatError]. [ErrTruncated] and [ErrUnsupported] are
	// narrower classes of it.
	ErrMalformed = errors.New("recipient: malformed envelope")

	// ErrTruncated: the envelope ends before its encoding does. Every
	// truncated envelope is also [ErrMalformed].
	ErrTruncated = errors.New("recipient: truncated envelope")

	// ErrUnsupported: a well-formed CMS envelope that uses an algorithm,
	// version or choice this package does not accept (anything but a single
	// KeyTransRecipientInfo with a subject key identifier, RSAES-OAEP with
	// SHA-256 and MGF1-SHA-256 and an empty label, and AES-256-CBC). Also
	// [ErrMalformed].
	ErrUnsupported = errors.New("recipient: unsupported envelope")

	// ErrRecipientMismatch: the envelope is addressed to a different key;
	// see [RecipientMismatchError].
	ErrRecipientMismatch = errors.New("recipient: envelope is not addressed to this key")

	// ErrDecrypt: RSA-OAEP decryption of the content-encryption key failed:
	// a key with the right subject key identifier but not the one the
	// envelope was made for, or a tampered encrypted key.
	ErrDecrypt = errors.New("recipient: key decryption failed")

	// ErrBadPadding: the content decrypted to invalid PKCS #7 padding: a
	// tampered IV or ciphertext (the content is not authenticated). The
	// error says nothing about where or how the padding is wrong.
	ErrBadPadding = errors.New("recipient: content decryption failed")

	// ErrTooLarge: the plaintext given to [Seal] exceeds [MaxPlaintextSize].
	ErrTooLarge = errors.New("recipient: plaintext too large")
)

// KeyError reports an RSA key this package does not accept.
type KeyError struct {
	Bits   int    // modulus size, 0 when not RSA or not parsed
	Reason string // what is wrong
}

func (e *KeyError) Error() string {
	return "recipient: unsupported key: " + e.Reason
}

// Is matches [ErrUnsupportedKey].
func (e *KeyError) Is(target error) bool { return target == ErrUnsupportedKey }

// FormatError reports an envelope that [Open] rejects before any
// decryption. It matches [ErrMalformed], and also [ErrTruncated] or
// [ErrUnsupported] when Truncated or Unsupported is set.
type FormatError struct {
	Offset      int    // byte offset in the envelope, -1 when not tied to one
	Field       string // the CMS field, e.g. "RecipientInfos"
	Reason      string // what is wrong
	Truncated   bool   // the envelope ends early
	Unsupported bool   // well-formed, but not a form this package accepts
}

func (e *FormatError) Error() string {
	s := "recipient: malformed envelope: "
	switch {
	case e.Truncated:
		s = "recipient: truncated envelope: "
	case e.Unsupported:
		s = "recipient: unsupported envelope: "
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	s += e.Reason
	if e.Offset >= 0 {
		s += " (at byte " + strconv.Itoa(e.Offset) + ")"
	}
	return s
}

// Is matches [ErrMalformed], and [ErrTruncated] or [ErrUnsupported] as set.
func (e *FormatError) Is(target error) bool {
	switch target {
	case ErrMalformed:
		return true
	case ErrTruncated:
		return e.Truncated
	case ErrUnsupported:
		return e.Unsupported
	}
	return false
}

// RecipientMismatchError reports an envelope whose recipient identifier is
// not the subject key identifier of the key given to [Open].
type RecipientMismatchError struct {
	Envelope []byte // subject key identifier in the envelope
	Key      []byte // subject key identifier of the key (SHA-256 of its SPKI DER)
}

func (e *RecipientMismatchError) Error() string {
	return "recipient: envelope is addressed to subject key identifier " + hexString(e.Envelope) +
		", not to this key (" + hexString(e.Key) + ")"
}

// Is matches [ErrRecipientMismatch].
func (e *RecipientMismatchError) Is(target error) bool { return target == ErrRecipientMismatch }
