// SPDX-License-Identifier: Apache-2.0

package cborhead

import "encoding/binary"

// Append appends the head of major type major (0 to 7) with argument n,
// minimally encoded, to b and returns the extended slice.
func Append(b []byte, major byte, n uint64) []byte {
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

// Len returns the length of the head Append writes for argument n.
func Len(n uint64) int {
	switch {
	case n < 24:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case n <= 0xffffffff:
		return 5
	}
	return 9
}

// Read reads the head at the start of b and returns its major type, its
// argument and the bytes after it. ok is false, and the other results
// zero, when b is empty or truncated, when the argument is not in its
// shortest form, or when the head is indefinite-length or reserved
// (additional information 28 to 31).
func Read(b []byte) (major byte, n uint64, rest []byte, ok bool) {
	if len(b) == 0 {
		return 0, 0, nil, false
	}
	major, ai := b[0]>>5, b[0]&0x1f
	b = b[1:]
	var size int
	var floor uint64 // the argument must be above floor in this form
	switch {
	case ai < 24:
		return major, uint64(ai), b, true
	case ai == 24:
		size, floor = 1, 23
	case ai == 25:
		size, floor = 2, 0xff
	case ai == 26:
		size, floor = 4, 0xffff
	case ai == 27:
		size, floor = 8, 0xffffffff
	default:
		return 0, 0, nil, false
	}
	if len(b) < size {
		return 0, 0, nil, false
	}
	for _, c := range b[:size] {
		n = n<<8 | uint64(c)
	}
	if n <= floor {
		return 0, 0, nil, false
	}
	return major, n, b[size:], true
}
