// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"errors"

	"github.com/enclavekit/enclavekit/internal/cborhead"
)

// The signature section is serde_cbor's encoding of Rust structs whose
// byte fields are Vec<u8>: CBOR arrays of small unsigned integers, not byte
// strings. No general CBOR library models that shape, so this file holds a
// minimal strict reader and writer for exactly the items used: definite
// heads with minimal arguments (package internal/cborhead, shared with
// attestedtls), text keys, arrays of uint8, byte strings.

const (
	majorUint  = 0
	majorBytes = 2
	majorText  = 3
	majorArray = 4
	majorMap   = 5
)

var errCBOR = errors.New("not the expected CBOR encoding")

// appendHead appends a CBOR head with the shortest encoding of n.
func appendHead(b []byte, major byte, n uint64) []byte { return cborhead.Append(b, major, n) }

// readHead reads a definite CBOR head with a minimally encoded argument.
func readHead(b []byte) (major byte, n uint64, rest []byte, err error) {
	major, n, rest, ok := cborhead.Read(b)
	if !ok {
		return 0, 0, nil, errCBOR // truncated, not minimal, indefinite or reserved
	}
	return major, n, rest, nil
}

// appendText appends a CBOR text string.
func appendText(b []byte, s string) []byte {
	return append(appendHead(b, majorText, uint64(len(s))), s...)
}

// readText reads the CBOR text string want, and nothing else.
func readText(b []byte, want string) ([]byte, error) {
	major, n, b, err := readHead(b)
	if err != nil || major != majorText || n != uint64(len(want)) || string(b[:min(uint64(len(b)), n)]) != want {
		return nil, errCBOR
	}
	return b[n:], nil
}

// appendUint8Array appends p as serde's Vec<u8>: an array of integers.
func appendUint8Array(b []byte, p []byte) []byte {
	b = appendHead(b, majorArray, uint64(len(p)))
	for _, c := range p {
		b = appendHead(b, majorUint, uint64(c))
	}
	return b
}

// readUint8Array reads an array of at most max integers 0-255.
func readUint8Array(b []byte, max int) ([]byte, []byte, error) {
	major, n, b, err := readHead(b)
	if err != nil || major != majorArray || n > uint64(max) || n > uint64(len(b)) {
		return nil, nil, errCBOR
	}
	out := make([]byte, n)
	for i := range out {
		var m byte
		var v uint64
		m, v, b, err = readHead(b)
		if err != nil || m != majorUint || v > 0xff {
			return nil, nil, errCBOR
		}
		out[i] = byte(v)
	}
	return out, b, nil
}

// readBytes reads a CBOR byte string.
func readBytes(b []byte) ([]byte, []byte, error) {
	major, n, b, err := readHead(b)
	if err != nil || major != majorBytes || n > uint64(len(b)) {
		return nil, nil, errCBOR
	}
	return b[:n], b[n:], nil
}
