// SPDX-License-Identifier: Apache-2.0

package cborhead_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/enclavekit/enclavekit/internal/cborhead"
)

// RFC 8949 Appendix A examples and the boundaries of each argument width.
var heads = []struct {
	major byte
	n     uint64
	hex   string
}{
	{0, 0, "00"},
	{0, 23, "17"},
	{0, 24, "1818"},
	{0, 255, "18ff"},
	{0, 256, "190100"},
	{0, 1000, "1903e8"},
	{0, 65535, "19ffff"},
	{0, 65536, "1a00010000"},
	{0, 1000000, "1a000f4240"},
	{0, 0xffffffff, "1affffffff"},
	{0, 0x100000000, "1b0000000100000000"},
	{0, 1000000000000, "1b000000e8d4a51000"},
	{0, 18446744073709551615, "1bffffffffffffffff"},
	{2, 4, "44"},
	{3, 3, "63"},
	{4, 2, "82"},
	{5, 2, "a2"},
	{7, 22, "f6"},
}

func TestAppendRead(t *testing.T) {
	for _, h := range heads {
		want, _ := hex.DecodeString(h.hex)
		got := cborhead.Append([]byte{0xaa}, h.major, h.n)
		if !bytes.Equal(got[1:], want) || got[0] != 0xaa {
			t.Errorf("Append(%d, %d) = %x, want aa%s", h.major, h.n, got, h.hex)
		}
		major, n, rest, ok := cborhead.Read(append(want, 0x55))
		if !ok || major != h.major || n != h.n || !bytes.Equal(rest, []byte{0x55}) {
			t.Errorf("Read(%s55) = %d, %d, %x, %v", h.hex, major, n, rest, ok)
		}
	}
}

func TestReadRejects(t *testing.T) {
	for _, c := range []struct{ name, hex string }{
		{"empty", ""},
		{"1-byte argument below 24", "1817"},
		{"2-byte argument below 256", "1900ff"},
		{"4-byte argument below 65536", "1a0000ffff"},
		{"8-byte argument below 2^32", "1b00000000ffffffff"},
		{"truncated 1-byte argument", "18"},
		{"truncated 2-byte argument", "1901"},
		{"truncated 4-byte argument", "1a000100"},
		{"truncated 8-byte argument", "1b00000001000000"},
		{"reserved 28", "1c"},
		{"reserved 29", "3d"},
		{"reserved 30", "5e"},
		{"indefinite byte string", "5f"},
		{"indefinite array", "9f"},
		{"break", "ff"},
	} {
		b, _ := hex.DecodeString(c.hex)
		if major, n, rest, ok := cborhead.Read(b); ok || major != 0 || n != 0 || rest != nil {
			t.Errorf("%s: Read(%s) = %d, %d, %x, %v; want a rejection", c.name, c.hex, major, n, rest, ok)
		}
	}
}

// FuzzRead checks that Read never panics, that what it accepts is exactly
// what Append writes (one encoding per head), and that it consumes only
// the head.
func FuzzRead(f *testing.F) {
	for _, h := range heads {
		b, _ := hex.DecodeString(h.hex)
		f.Add(b)
	}
	// The start of an attested TLS CMW record and of an EIF signature
	// section.
	f.Add([]byte("\x83\x78\x1eapplication/vnd.aws.nitro.att"))
	f.Add([]byte("\x81\xa2\x6fsigning_certificate\x99\x02\x7c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		major, n, rest, ok := cborhead.Read(b)
		if !ok {
			return
		}
		head := cborhead.Append(nil, major, n)
		if !bytes.Equal(append(head, rest...), b) {
			t.Fatalf("Read(%x) = %d, %d, rest %x; Append gives head %x", b, major, n, rest, head)
		}
	})
}

// TestLen: Len is the length of what Append writes, at every boundary.
func TestLen(t *testing.T) {
	for _, n := range []uint64{0, 23, 24, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 1<<64 - 1} {
		if got, want := cborhead.Len(n), len(cborhead.Append(nil, 2, n)); got != want {
			t.Errorf("Len(%d) = %d, Append writes %d", n, got, want)
		}
	}
}
