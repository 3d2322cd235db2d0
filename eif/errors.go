// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per class. Every error returned by [Read] matches
// exactly one of ErrMalformed, ErrUnsupported, ErrCRCMismatch and
// ErrBadSignature with [errors.Is], or is an I/O error from the reader.
var (
	// ErrMalformed: the input is not a well-formed EIF (bad magic, bad
	// section table, truncated, overlapping or out-of-order sections,
	// oversize sections, an unknown section type, trailing bytes, a
	// malformed signature or metadata section).
	ErrMalformed = errors.New("eif: malformed image")
	// ErrUnsupported: a well-formed EIF this package does not support (an
	// EIF version other than 2, 3 or 4, or a signing algorithm other than
	// ES256, ES384 or ES512 with its matching curve).
	ErrUnsupported = errors.New("eif: unsupported image")
	// ErrCRCMismatch: the CRC32 in the header does not match the image.
	ErrCRCMismatch = errors.New("eif: CRC mismatch")
	// ErrBadSignature: the signature section's COSE_Sign1 does not verify
	// with its certificate, or does not sign the image's PCR0.
	ErrBadSignature = errors.New("eif: bad signature")
	// ErrInvalidSpec: the [Spec] given to [Write] cannot be written.
	ErrInvalidSpec = errors.New("eif: invalid image spec")
)

// HeaderError reports a malformed field of the EIF header.
type HeaderError struct {
	// Field names the header field ("magic", "flags", "num_sections", ...).
	Field string
	// Value is the field's value as read.
	Value uint64
	// Reason says what is wrong with it.
	Reason string
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("eif: malformed header: %s = %#x: %s", e.Field, e.Value, e.Reason)
}

// Is reports whether target is [ErrMalformed].
func (e *HeaderError) Is(target error) bool { return target == ErrMalformed }

// VersionError reports an EIF version this package does not read.
type VersionError struct {
	// Version is the version in the header.
	Version uint16
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("eif: unsupported EIF version %d (want 2, 3 or 4)", e.Version)
}

// Is reports whether target is [ErrUnsupported].
func (e *VersionError) Is(target error) bool { return target == ErrUnsupported }

// SectionError reports a section that is misplaced, overlapping, of the
// wrong size, duplicated, out of order, missing or malformed.
type SectionError struct {
	// Index is the section's index in the section table (-1 when the error
	// is about a section that is missing).
	Index int
	// Type is the section's type (as read from its section header when
	// known, else from its position).
	Type SectionType
	// Offset is the file offset of the section's header.
	Offset int64
	// Reason says what is wrong.
	Reason string
}

func (e *SectionError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("eif: malformed image: %s", e.Reason)
	}
	if e.Type == SectionInvalid { // not known yet: a section table error
		return fmt.Sprintf("eif: malformed section table: section %d: %s", e.Index, e.Reason)
	}
	return fmt.Sprintf("eif: malformed section %d (%s) at offset %d: %s", e.Index, e.Type, e.Offset, e.Reason)
}

// Is reports whether target is [ErrMalformed].
func (e *SectionError) Is(target error) bool { return target == ErrMalformed }

// UnknownSectionError reports a section whose type is not one of the five
// defined types (or is the reserved type 0, "invalid").
type UnknownSectionError struct {
	// Index is the section's index in the section table.
	Index int
	// Type is the type read from the section header.
	Type SectionType
	// Offset is the file offset of the section's header.
	Offset int64
}

func (e *UnknownSectionError) Error() string {
	return fmt.Sprintf("eif: malformed section %d at offset %d: unknown section type %d", e.Index, e.Offset, uint16(e.Type))
}

// Is reports whether target is [ErrMalformed].
func (e *UnknownSectionError) Is(target error) bool { return target == ErrMalformed }

// SizeError reports a section larger than this package accepts, or sizes
// that overflow a file offset.
type SizeError struct {
	// Index is the section's index in the section table.
	Index int
	// Type is the section's type.
	Type SectionType
	// Size is the size claimed by the header.
	Size uint64
	// Max is the largest size accepted for this section.
	Max int64
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("eif: malformed section %d (%s): size %d exceeds the limit of %d bytes", e.Index, e.Type, e.Size, e.Max)
}

// Is reports whether target is [ErrMalformed].
func (e *SizeError) Is(target error) bool { return target == ErrMalformed }

// TruncatedError reports an input that ends before the header or a section
// does.
type TruncatedError struct {
	// Index is the section's index in the section table, or -1 for the
	// EIF header.
	Index int
	// Type is the section's type (SectionInvalid for the header).
	Type SectionType
	// Offset is the file offset where the missing bytes should have been.
	Offset int64
	// Want is the number of bytes expected there, Got the number read.
	Want, Got int64
}

func (e *TruncatedError) Error() string {
	what := "header"
	if e.Index >= 0 {
		what = fmt.Sprintf("section %d (%s)", e.Index, e.Type)
		if e.Type == SectionInvalid { // found from the section table alone
			what = fmt.Sprintf("section %d", e.Index)
		}
	}
	return fmt.Sprintf("eif: truncated image: %s at offset %d: want %d bytes, got %d", what, e.Offset, e.Want, e.Got)
}

// Is reports whether target is [ErrMalformed].
func (e *TruncatedError) Is(target error) bool { return target == ErrMalformed }

// TrailingDataError reports bytes after the last section.
type TrailingDataError struct {
	// Offset is the file offset where the image should have ended.
	Offset int64
}

func (e *TrailingDataError) Error() string {
	return fmt.Sprintf("eif: malformed image: trailing data after the last section at offset %d", e.Offset)
}

// Is reports whether target is [ErrMalformed].
func (e *TrailingDataError) Is(target error) bool { return target == ErrMalformed }

// CRCError reports a header CRC32 that does not match the image.
type CRCError struct {
	// Header is the CRC32 stored in the header; Computed is the CRC32 of
	// the image.
	Header, Computed uint32
}

func (e *CRCError) Error() string {
	return fmt.Sprintf("eif: CRC mismatch: header has %#08x, image has %#08x", e.Header, e.Computed)
}

// Is reports whether target is [ErrCRCMismatch].
func (e *CRCError) Is(target error) bool { return target == ErrCRCMismatch }

// SignatureError reports a malformed or unverifiable signature section.
// It matches [ErrMalformed] when the section cannot be decoded, and
// [ErrBadSignature] when it decodes but does not verify or does not sign
// the image's PCR0.
type SignatureError struct {
	// Malformed is true when the section could not be decoded.
	Malformed bool
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *SignatureError) Error() string {
	prefix := "eif: bad signature: "
	if e.Malformed {
		prefix = "eif: malformed signature section: "
	}
	if e.Err != nil {
		return prefix + e.Reason + ": " + e.Err.Error()
	}
	return prefix + e.Reason
}

// Is reports whether target is [ErrMalformed] (when Malformed) or
// [ErrBadSignature] (otherwise).
func (e *SignatureError) Is(target error) bool {
	if e.Malformed {
		return target == ErrMalformed
	}
	return target == ErrBadSignature
}

// Unwrap returns the underlying error.
func (e *SignatureError) Unwrap() error { return e.Err }

// AlgorithmError reports a signing certificate or COSE algorithm this
// package does not support.
type AlgorithmError struct {
	// Algorithm describes what was found ("RSA key", "ES384 with P-256", ...).
	Algorithm string
}

func (e *AlgorithmError) Error() string {
	return "eif: unsupported signing algorithm: " + e.Algorithm
}

// Is reports whether target is [ErrUnsupported].
func (e *AlgorithmError) Is(target error) bool { return target == ErrUnsupported }

// MetadataError reports a metadata section that is not the JSON object
// nitro-cli writes.
type MetadataError struct {
	// Err is the JSON decoding error.
	Err error
}

func (e *MetadataError) Error() string { return "eif: malformed metadata section: " + e.Err.Error() }

// Is reports whether target is [ErrMalformed].
func (e *MetadataError) Is(target error) bool { return target == ErrMalformed }

// Unwrap returns the JSON decoding error.
func (e *MetadataError) Unwrap() error { return e.Err }

// SpecError reports a [Spec] that [Write] refuses.
type SpecError struct {
	// Field names the Spec field.
	Field string
	// Reason says what is wrong with it.
	Reason string
}

func (e *SpecError) Error() string { return "eif: invalid image spec: " + e.Field + ": " + e.Reason }

// Is reports whether target is [ErrInvalidSpec].
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }
