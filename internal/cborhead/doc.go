// SPDX-License-Identifier: Apache-2.0

// Package cborhead reads and writes single CBOR data item heads (RFC 8949
// §3): a major type and a definite argument, always in the shortest form.
// It serves the hand-written CBOR of formats whose exact bytes matter and
// that no general CBOR library models: the EIF signature section (arrays of
// uint8 where a library writes byte strings) and the attested TLS CMW
// record. Everything else in the project decodes CBOR with
// github.com/fxamacker/cbor/v2.
package cborhead
