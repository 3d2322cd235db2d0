// SPDX-License-Identifier: Apache-2.0

package keymaterial

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"testing"
)

func testAEAD(t testing.TB) cipher.AEAD {
	blk, err := aes.NewCipher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := cipher.NewGCM(blk)
	return a
}

const blobTestKeyID = "0b9d2f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"

func TestBlobFormat(t *testing.T) {
	a := testAEAD(t)
	ec := map[string]string{"b": "2", "a": "1"}
	blob, err := SealBlob(a, rand.Reader, blobTestKeyID, []byte("pt"), ec)
	if err != nil {
		t.Fatal(err)
	}
	if string(blob[:3]) != "ekb" || blob[3] != 1 || int(blob[4]) != len(blobTestKeyID) ||
		string(blob[5:5+len(blobTestKeyID)]) != blobTestKeyID || len(blob) != 5+36+12+2+16 {
		t.Fatalf("layout: %x", blob)
	}
	if id, err := BlobKeyID(blob); err != nil || id != blobTestKeyID {
		t.Fatalf("blobKeyID: %q %v", id, err)
	}
	if pt, err := OpenBlob(a, blob, map[string]string{"a": "1", "b": "2"}); err != nil || string(pt) != "pt" {
		t.Fatalf("open: %q %v", pt, err)
	}
	// Every header byte is authenticated.
	for i := range 5 + len(blobTestKeyID) + 12 {
		b := bytes.Clone(blob)
		b[i] ^= 0x20
		if _, err := OpenBlob(a, b, ec); !errors.Is(err, ErrMalformedBlob) {
			t.Fatalf("flipping header byte %d: %v", i, err)
		}
	}
	if _, err := OpenBlob(a, blob[:20], ec); !errors.Is(err, ErrMalformedBlob) {
		t.Fatalf("truncated: %v", err)
	}
}

// The canonical context encoding is injective: contexts that concatenate to
// the same text still differ.
func TestCanonicalContext(t *testing.T) {
	pairs := [][2]map[string]string{
		{{"ab": "c"}, {"a": "bc"}},
		{{"a": "b", "c": "d"}, {"a": "bcd"}},
		{nil, {"": ""}},
		{{"a": ""}, {"": "a"}},
	}
	for _, p := range pairs {
		if bytes.Equal(CanonicalContext(nil, p[0]), CanonicalContext(nil, p[1])) {
			t.Errorf("%v and %v encode alike", p[0], p[1])
		}
	}
	if !bytes.Equal(CanonicalContext(nil, map[string]string{"x": "1", "y": "2"}), CanonicalContext(nil, map[string]string{"y": "2", "x": "1"})) {
		t.Error("encoding depends on map order")
	}
}

func FuzzOpenBlob(f *testing.F) {
	a := testAEAD(f)
	blob, _ := SealBlob(a, rand.Reader, blobTestKeyID, []byte("seed"), map[string]string{"k": "v"})
	f.Add(blob)
	f.Add([]byte("ekb\x01\x24"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := BlobKeyID(b)
		pt, oerr := OpenBlob(a, b, map[string]string{"k": "v"})
		if err != nil && oerr == nil {
			t.Fatal("openBlob accepted a blob blobKeyID rejects")
		}
		if oerr == nil && (id != blobTestKeyID || string(pt) != "seed") {
			t.Fatalf("forged blob opened: %q %q", id, pt)
		}
	})
}
