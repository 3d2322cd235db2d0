// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"encoding/binary"
	"errors"
)

// The signature section is serde_cbor's encoding of Rust structs whose
// byte fields are Vec<u8>: CBOR arrays of small unsigned integers, not byte
// strings. No general CBOR library models that shape, so this file holds a
// minimal strict reader and writer for exactly the items used: definite
// heads with minimal arguments, text keys, arrays of uint8, byte strings.

const (
	majorUint  = 0
	majorBytes = 2
	majorText  = 3
	majorArray = 4
	majorMap   = 5
)

var errCBOR = errors.New("not the expected CBOR encoding")

// appendHead appends a CBOR head with the shortest encoding of n.
func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

// readHead reads a definite CBOR head with a minimally encoded argument.
func readHead(b []byte) (major byte, n uint64, rest []byte, err error) {
	if len(b) == 0 {
		return 0, 0, nil, errCBOR
	}
	major, ai := b[0]>>5, b[0]&0x1f
	b = b[1:]
	switch {
	case ai < 24:
		return major, uint64(ai), b, nil
	case ai == 24:
		if len(b) < 1 || b[0] < 24 {
			return 0, 0, nil, errCBOR
		}
		return major, uint64(b[0]), b[1:], nil
	case ai == 25:
		if len(b) < 2 {
			return 0, 0, nil, errCBOR
		}
		n = uint64(binary.BigEndian.Uint16(b))
		if n <= 0xff {
			return 0, 0, nil, errCBOR
		}
		return major, n, b[2:], nil
	case ai == 26:
		if len(b) < 4 {
			return 0, 0, nil, errCBOR
		}
		n = uint64(binary.BigEndian.Uint32(b))
		if n <= 0xffff {
			return 0, 0, nil, errCBOR
		}
		return major, n, b[4:], nil
	case ai == 27:
		if len(b) < 8 {
			return 0, 0, nil, errCBOR
		}
		n = binary.BigEndian.Uint64(b)
		if n <= 0xffffffff {
			return 0, 0, nil, errCBOR
		}
		return major, n, b[8:], nil
	}
	return 0, 0, nil, errCBOR // indefinite lengths and reserved values
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
