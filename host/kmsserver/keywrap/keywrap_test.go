// SPDX-License-Identifier: Apache-2.0

package keywrap

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rfcVectors are RFC 5649 section 6 (a 192-bit KEK).
var rfcVectors = []struct{ kek, key, wrapped string }{
	{"5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8", "c37b7e6492584340 bed1220780894115 5068f738",
		"138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a"},
	{"5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8", "466f7250617369", "afbeb0f07dfbf541 9200f2ccb50bb24f"},
}

func TestRFC5649Vectors(t *testing.T) {
	for _, v := range rfcVectors {
		kek, key, want := unhex(t, v.kek), unhex(t, v.key), unhex(t, v.wrapped)
		got, err := Wrap(kek, key)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Wrap(%x) = %x, %v; want %x", key, got, err, want)
		}
		back, err := Unwrap(kek, want)
		if err != nil || !bytes.Equal(back, key) {
			t.Fatalf("Unwrap(%x) = %x, %v; want %x", want, back, err, key)
		}
	}
}

// TestRoundTrip: every plaintext length 1 to 80 (one block, two blocks,
// padded and not) with each KEK size comes back.
func TestRoundTrip(t *testing.T) {
	for _, kl := range []int{16, 24, 32} {
		kek := make([]byte, kl)
		rand.Read(kek)
		for n := 1; n <= 80; n++ {
			p := make([]byte, n)
			rand.Read(p)
			c, err := Wrap(kek, p)
			if err != nil {
				t.Fatal(err)
			}
			if want := 8 + (n+7)/8*8; len(c) != want {
				t.Fatalf("len(Wrap(%d bytes)) = %d, want %d", n, len(c), want)
			}
			back, err := Unwrap(kek, c)
			if err != nil || !bytes.Equal(back, p) {
				t.Fatalf("kek %d, n %d: %x %v", kl, n, back, err)
			}
		}
	}
}

func runOpenSSL(t *testing.T, mode string, kek, in []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is required for the cross-checks under CI")
		}
		t.Skip("openssl not found: the OpenSSL cross-checks need it (apt-get install openssl)")
	}
	cmd := exec.Command("openssl", "enc", "-id-aes256-wrap-pad", mode, "-K", hex.EncodeToString(kek), "-iv", "A65959A6")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", mode, err, stderr.Bytes())
	}
	return out
}

// TestOpenSSL: OpenSSL's id-aes256-wrap-pad (what AWS's import
// instructions use) and Wrap produce the same bytes, and each opens the
// other's output, for key material of the sizes AWS imports (32-byte AES,
// HMAC keys, PKCS #8 sizes) and odd lengths.
func TestOpenSSL(t *testing.T) {
	kek := make([]byte, 32)
	rand.Read(kek)
	for _, n := range []int{1, 7, 8, 9, 16, 28, 32, 33, 64, 121, 1218} {
		p := make([]byte, n)
		rand.Read(p)
		ours, err := Wrap(kek, p)
		if err != nil {
			t.Fatal(err)
		}
		theirs := runOpenSSL(t, "-e", kek, p)
		if !bytes.Equal(ours, theirs) {
			t.Fatalf("n=%d: Wrap %x, openssl %x", n, ours, theirs)
		}
		if back := runOpenSSL(t, "-d", kek, ours); !bytes.Equal(back, p) {
			t.Fatalf("n=%d: openssl did not unwrap ours", n)
		}
		if back, err := Unwrap(kek, theirs); err != nil || !bytes.Equal(back, p) {
			t.Fatalf("n=%d: Unwrap(openssl) %v", n, err)
		}
	}
}

func wantCheck(t *testing.T, err error, check Check, sentinel error) {
	t.Helper()
	var ue *UnwrapError
	if !errors.As(err, &ue) || ue.Check != check || !errors.Is(err, sentinel) {
		t.Fatalf("error %v, want the %s check", err, check)
	}
}

// TestUnwrapRejects: a bad length, a wrong key, a flipped bit, and a
// well-formed wrap of a bad length indicator or non-zero padding each fail
// their own check.
func TestUnwrapRejects(t *testing.T) {
	kek := make([]byte, 32)
	rand.Read(kek)
	c, err := Wrap(kek, bytes.Repeat([]byte{7}, 20))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 8, 15, 17, 31} {
		_, err := Unwrap(kek, make([]byte, n))
		wantCheck(t, err, CheckLength, ErrLength)
	}
	other := bytes.Clone(kek)
	other[0] ^= 1
	_, err = Unwrap(other, c)
	wantCheck(t, err, CheckIntegrity, ErrIntegrity)
	for i := range c {
		bad := bytes.Clone(c)
		bad[i] ^= 0x80
		_, err = Unwrap(kek, bad)
		wantCheck(t, err, CheckIntegrity, ErrIntegrity)
	}
	for _, short := range []int{1, 8} { // one-block and multi-block forms
		if _, err := Unwrap(kek, c[:len(c)-short]); !errors.Is(err, ErrLength) && !errors.Is(err, ErrIntegrity) {
			t.Fatalf("truncated by %d: %v", short, err)
		}
	}

	// Forge well-formed wraps (the AIV constant right) whose length
	// indicator or padding is wrong, with RFC 3394 directly.
	forge := func(mli uint32, body []byte) []byte {
		buf := make([]byte, 8+len(body))
		binary.BigEndian.PutUint32(buf, aivConstant)
		binary.BigEndian.PutUint32(buf[4:], mli)
		copy(buf[8:], body)
		b, _ := newBlock(kek)
		if len(buf) == 16 {
			b.Encrypt(buf, buf)
		} else {
			wrap(b, buf)
		}
		return buf
	}
	body := make([]byte, 24)
	for _, mli := range []uint32{0, 16, 25, 1 << 31} {
		_, err := Unwrap(kek, forge(mli, body))
		wantCheck(t, err, CheckPadding, ErrPadding)
	}
	nz := bytes.Clone(body)
	nz[23] = 1
	_, err = Unwrap(kek, forge(20, nz))
	wantCheck(t, err, CheckPadding, ErrPadding)
	_, err = Unwrap(kek, forge(3, []byte{1, 2, 3, 0, 9, 0, 0, 0}))
	wantCheck(t, err, CheckPadding, ErrPadding)
	if got, err := Unwrap(kek, forge(3, []byte{1, 2, 3, 0, 0, 0, 0, 0})); err != nil || !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Fatalf("control forge: %x %v", got, err)
	}

	if _, err := Wrap(kek, nil); err == nil {
		t.Fatal("Wrap of nothing succeeded")
	}
	if _, err := Wrap(kek[:5], []byte{1}); err == nil {
		t.Fatal("Wrap with a 5-byte KEK succeeded")
	}
	if _, err := Unwrap(kek[:5], c); err == nil {
		t.Fatal("Unwrap with a 5-byte KEK succeeded")
	}
}

// FuzzUnwrap: any ciphertext unwraps or fails one of the three checks,
// never panics, and what unwraps wraps back to the same bytes.
func FuzzUnwrap(f *testing.F) {
	for _, v := range rfcVectors {
		f.Add(unhex(f, v.kek), unhex(f, v.wrapped))
	}
	kek := bytes.Repeat([]byte{3}, 32)
	c, _ := Wrap(kek, []byte("thirty-two bytes of AES key.....")) // the AWS import case
	f.Add(kek, c)
	f.Add(kek, make([]byte, 16))
	f.Fuzz(func(t *testing.T, kek, c []byte) {
		p, err := Unwrap(kek, c)
		if err != nil {
			var ue *UnwrapError
			if errors.As(err, &ue) {
				if ue.Length != len(c) {
					t.Fatalf("Length %d, want %d", ue.Length, len(c))
				}
				return
			}
			if len(kek) == 16 || len(kek) == 24 || len(kek) == 32 {
				t.Fatalf("untyped error with a good KEK: %v", err)
			}
			return
		}
		again, err := Wrap(kek, p)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("Unwrap then Wrap: %x, %v; want %x", again, err, c)
		}
	})
}

func newBlock(kek []byte) (cipher.Block, error) { return aes.NewCipher(kek) }
