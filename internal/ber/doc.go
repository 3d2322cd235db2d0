// SPDX-License-Identifier: Apache-2.0

// Package ber is a small, bounded reader for BER (X.690) encodings, enough
// for CMS as AWS KMS and OpenSSL write it: definite and indefinite lengths,
// primitive and constructed elements, low and high tag numbers.
//
// Go's encoding/asn1 and golang.org/x/crypto/cryptobyte accept DER only and
// reject indefinite lengths, which KMS uses for CiphertextForRecipient; this
// package fills that gap and nothing more. It decodes, it never encodes.
//
// # Bounds
//
// Every input is bounded by [Limits]: total input size, nesting depth, and
// the number of elements visited while finding the ends of indefinite-length
// elements, counted over the whole input (everything read down from one
// [Parse] shares the count). The reader never allocates in proportion to a
// declared length: [Element.Contents] aliases the input, and a declared
// length larger than what is left is an error, not an allocation. Finding the
// end of an indefinite-length element walks its subtree once, so reading
// down a path of nested indefinite elements walks some elements several
// times; each walk counts, and the work is at most MaxElements element
// headers plus MaxDepth times the input size for definite-length reading.
//
// # Tolerance and strictness
//
// Tolerant where BER and the encoders seen in practice allow it: long-form
// lengths that could have been short, leading zero length octets (at most
// four length octets in all), indefinite lengths on any constructed element,
// and constructed (segmented) strings, read with [Element.Segments].
//
// Strict where ambiguity could hide something: tag numbers must be minimally
// encoded (a tag has exactly one encoding, so comparisons are exact),
// indefinite length on a primitive element, the reserved length octet 0xFF,
// stray or malformed end-of-contents markers, elements that overrun their
// parent, and trailing bytes after the top-level element are errors.
//
// # Errors
//
// Errors are *[Error] values carrying the byte offset, matching one of
// [ErrTruncated] (the input ends before the encoding does), [ErrSyntax] or
// [ErrLimit] with errors.Is.
package ber
