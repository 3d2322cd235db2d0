// SPDX-License-Identifier: Apache-2.0

package readbody

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestReadSizes(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 16 << 10, 64 << 10} {
		for _, declared := range []int64{-1, 0, int64(n), int64(n) + 7, 1 << 30} {
			for _, rd := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader} {
				got, err := Read(rd(bytes.NewReader(data[:n])), declared, 16<<10, nil)
				if err != nil || !bytes.Equal(got, data[:n]) {
					t.Fatalf("n=%d declared=%d: %d bytes, %v", n, declared, len(got), err)
				}
			}
		}
	}
}

// TestReadReserveBound: a declared length reserves at most maxReserve
// (+1) before any byte arrives.
func TestReadReserveBound(t *testing.T) {
	got, err := Read(bytes.NewReader(nil), 1<<30, 16<<10, nil)
	if err != nil || len(got) != 0 || cap(got) != 16<<10+1 {
		t.Fatalf("len %d cap %d, %v; want 0, %d", len(got), cap(got), err, 16<<10+1)
	}
}

// TestReadClearsOutgrown: the buffer passed in, and each one outgrown,
// hold no byte of the body once Read has moved on.
func TestReadClearsOutgrown(t *testing.T) {
	buf := make([]byte, 0, 64)
	body := bytes.Repeat([]byte{0xA5}, 1000)
	got, err := Read(bytes.NewReader(body), 10, 16, buf)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if full := buf[:cap(buf)]; !bytes.Equal(full, make([]byte, len(full))) {
		t.Fatalf("the outgrown buffer still holds the body: % x", full[:16])
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(boom))
	got, err := Read(r, -1, 16, nil)
	if !errors.Is(err, boom) || string(got) != "abc" {
		t.Fatalf("%q, %v", got, err)
	}
}

// FuzzRead holds Read to io.ReadAll for any body, declared length and
// bound, read in any pieces.
func FuzzRead(f *testing.F) {
	f.Add([]byte("{}"), int64(2), 16, false)
	f.Add(bytes.Repeat([]byte("x"), 5000), int64(-1), 512, true)
	f.Fuzz(func(t *testing.T, body []byte, declared int64, maxReserve int, oneByte bool) {
		maxReserve %= 1 << 20
		var r io.Reader = bytes.NewReader(body)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		got, err := Read(r, declared, maxReserve, nil)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%d of %d bytes, %v", len(got), len(body), err)
		}
	})
}
