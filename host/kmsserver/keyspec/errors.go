// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"errors"
	"fmt"
)

// The AWS KMS exception names that this package's errors map to, one error
// type each; [Exception] returns the name for any error of this package.
const (
	ExceptionValidation           = "ValidationException"
	ExceptionInvalidKeyUsage      = "InvalidKeyUsageException"
	ExceptionUnsupportedOperation = "UnsupportedOperationException"
	ExceptionInvalidSignature     = "KMSInvalidSignatureException"
	ExceptionInvalidMac           = "KMSInvalidMacException"
	ExceptionInvalidCiphertext    = "InvalidCiphertextException"
)

// Sentinels for errors.Is, one per exception; every typed error of this
// package matches exactly one of them.
var (
	ErrValidation       = errors.New("keyspec: validation error")
	ErrInvalidKeyUsage  = errors.New("keyspec: invalid key usage")
	ErrUnsupported      = errors.New("keyspec: unsupported")
	ErrInvalidSignature = errors.New("keyspec: invalid signature")
	ErrInvalidMac       = errors.New("keyspec: invalid MAC")
	ErrInvalidCipher    = errors.New("keyspec: invalid ciphertext")
)

// ErrKeyPairMismatch is key material (RSA or ECC PKCS #8) whose embedded
// public key is not its private key's, or no point of its curve: OpenSSL's
// `pkey -check` refuses such a key, and crypto/x509 would silently drop the
// public key. [ParsePrivateKey] wraps it; like its other errors, it is a
// bad import (IncorrectKeyMaterialException) or a broken store, not a
// caller's exception.
var ErrKeyPairMismatch = errors.New("keyspec: the public key in the material is not the private key's")

// Exception returns the AWS KMS exception name for err when err is (or
// wraps) an error of this package, and "" otherwise.
func Exception(err error) string {
	var e interface{ Exception() string }
	if errors.As(err, &e) {
		return e.Exception()
	}
	return ""
}

// ValidationError is a request member that fails AWS's constraints: an
// unknown enum value, a length out of range, a digest of the wrong length, a
// malformed peer public key. It maps to ValidationException.
type ValidationError struct {
	// Field is the member, as AWS names it in messages (e.g. "message",
	// "signingAlgorithm", "publicKey").
	Field string
	// Value is the offending value for enum members, "" otherwise.
	Value string
	// Reason says what the constraint is.
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Value != "" {
		return fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", e.Value, e.Field, e.Reason)
	}
	return fmt.Sprintf("1 validation error detected: Value at '%s' failed to satisfy constraint: %s", e.Field, e.Reason)
}

// Exception returns "ValidationException".
func (e *ValidationError) Exception() string { return ExceptionValidation }

// Unwrap returns [ErrValidation].
func (e *ValidationError) Unwrap() error { return ErrValidation }

// KeyUsageError is an operation or algorithm the key cannot perform: the
// key's usage does not allow Operation, or Algorithm does not go with Spec
// (ECDSA_SHA_384 on an ECC_NIST_P256 key, HMAC_SHA_256 on an HMAC_384 key).
// It maps to InvalidKeyUsageException.
type KeyUsageError struct {
	Spec      Spec
	Usage     Usage     // "" when only the spec was considered
	Operation Operation // "" when an algorithm was refused
	Algorithm string    // "" when an operation was refused
}

func (e *KeyUsageError) Error() string {
	if e.Algorithm != "" {
		return fmt.Sprintf("Algorithm %s is incompatible with key spec %s.", e.Algorithm, e.Spec)
	}
	return fmt.Sprintf("key usage is %s which is not valid for %s.", e.Usage, e.Operation)
}

// Exception returns "InvalidKeyUsageException".
func (e *KeyUsageError) Exception() string { return ExceptionInvalidKeyUsage }

// Unwrap returns [ErrInvalidKeyUsage].
func (e *KeyUsageError) Unwrap() error { return ErrInvalidKeyUsage }

// UnsupportedError is a key spec, algorithm or message type that AWS has and
// this package refuses, with the reason. It maps to
// UnsupportedOperationException.
type UnsupportedError struct {
	Spec      Spec
	Operation Operation // "" unless an operation was refused
	Algorithm string    // "" unless an algorithm or message type was refused
	Reason    string
}

func (e *UnsupportedError) Error() string {
	subject := string(e.Spec)
	if e.Algorithm != "" {
		subject = e.Algorithm
	}
	return fmt.Sprintf("%s is not supported: %s", subject, e.Reason)
}

// Exception returns "UnsupportedOperationException".
func (e *UnsupportedError) Exception() string { return ExceptionUnsupportedOperation }

// Unwrap returns [ErrUnsupported].
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

// InvalidSignatureError is a signature that does not verify: wrong key,
// message, algorithm or message type, or not a signature at all (AWS does
// not tell these apart). It maps to KMSInvalidSignatureException.
type InvalidSignatureError struct {
	Algorithm   SigningAlgorithm
	MessageType MessageType
}

func (e *InvalidSignatureError) Error() string {
	return fmt.Sprintf("The signature is not valid for the %s message with %s.", e.MessageType, e.Algorithm)
}

// Exception returns "KMSInvalidSignatureException".
func (e *InvalidSignatureError) Exception() string { return ExceptionInvalidSignature }

// Unwrap returns [ErrInvalidSignature].
func (e *InvalidSignatureError) Unwrap() error { return ErrInvalidSignature }

// InvalidMacError is a MAC that does not verify. It maps to
// KMSInvalidMacException.
type InvalidMacError struct {
	Algorithm MacAlgorithm
}

func (e *InvalidMacError) Error() string {
	return fmt.Sprintf("The MAC is not valid for the message with %s.", e.Algorithm)
}

// Exception returns "KMSInvalidMacException".
func (e *InvalidMacError) Exception() string { return ExceptionInvalidMac }

// Unwrap returns [ErrInvalidMac].
func (e *InvalidMacError) Unwrap() error { return ErrInvalidMac }

// InvalidCiphertextError is an RSA ciphertext that does not decrypt under
// the key with Algorithm (wrong key, algorithm or length, or tampered), or
// an ML-KEM ciphertext of the wrong length. It
// maps to InvalidCiphertextException. No detail of the failure is given: an
// RSA-OAEP decryption oracle must not tell its failures apart.
type InvalidCiphertextError struct {
	Algorithm string // an EncryptionAlgorithm or ML_KEM
}

func (e *InvalidCiphertextError) Error() string {
	return fmt.Sprintf("The ciphertext is not valid for %s with this key.", e.Algorithm)
}

// Exception returns "InvalidCiphertextException".
func (e *InvalidCiphertextError) Exception() string { return ExceptionInvalidCiphertext }

// Unwrap returns [ErrInvalidCipher].
func (e *InvalidCiphertextError) Unwrap() error { return ErrInvalidCipher }
