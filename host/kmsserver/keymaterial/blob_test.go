// SPDX-License-Identifier: Apache-2.0

package keymaterial

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"strings"
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
	blob2, _ := SealBlobMaterial(a, rand.Reader, blobTestKeyID, strings.Repeat("ab", 32), []byte("seed"), map[string]string{"k": "v"})
	f.Add(blob2)
	f.Add([]byte("ekb\x01\x24"))
	f.Add([]byte("ekb\x02\x24"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := BlobKeyID(b)
		if _, merr := BlobMaterialID(b); (merr == nil) != (err == nil) {
			t.Fatal("BlobMaterialID and BlobKeyID disagree")
		}
		pt, oerr := OpenBlob(a, b, map[string]string{"k": "v"})
		if err != nil && oerr == nil {
			t.Fatal("openBlob accepted a blob blobKeyID rejects")
		}
		if oerr == nil && (id != blobTestKeyID || string(pt) != "seed") {
			t.Fatalf("forged blob opened: %q %q", id, pt)
		}
	})
}

// TestBlobMaterialID: a version 2 blob names its key and material, opens
// with the same material, and fails when its material ID is changed; a
// version 1 blob names no material.
func TestBlobMaterialID(t *testing.T) {
	m, err := NewMaterial(SpecSymmetric, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	mid, err := NewMaterialID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const kid = "1234abcd-12ab-34cd-56ef-1234567890ab"
	blob, err := SealBlobMaterial(m.AEAD, rand.Reader, kid, mid, []byte("pt"), map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := BlobKeyID(blob); err != nil || id != kid {
		t.Fatalf("BlobKeyID: %q, %v", id, err)
	}
	if got, err := BlobMaterialID(blob); err != nil || got != mid {
		t.Fatalf("BlobMaterialID: %q, %v", got, err)
	}
	if pt, err := OpenBlob(m.AEAD, blob, map[string]string{"a": "b"}); err != nil || string(pt) != "pt" {
		t.Fatalf("OpenBlob: %v", err)
	}
	bad := append([]byte(nil), blob...)
	bad[5+len(kid)] ^= 1
	if _, err := OpenBlob(m.AEAD, bad, map[string]string{"a": "b"}); !errors.Is(err, ErrMalformedBlob) {
		t.Fatalf("OpenBlob with another material ID: %v", err)
	}
	for _, bid := range []string{"ab", strings.Repeat("G", 64), strings.ToUpper(mid)} {
		if _, err := SealBlobMaterial(m.AEAD, rand.Reader, kid, bid, []byte("pt"), nil); err == nil {
			t.Fatalf("SealBlobMaterial accepted material ID %q", bid)
		}
	}
	v1, err := SealBlob(m.AEAD, rand.Reader, kid, []byte("pt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := BlobMaterialID(v1); err != nil || got != "" {
		t.Fatalf("BlobMaterialID of a v1 blob: %q, %v", got, err)
	}
	// A v2 blob cut inside its material ID is malformed.
	if _, err := BlobKeyID(blob[:5+len(kid)+20]); !errors.Is(err, ErrMalformedBlob) {
		t.Fatalf("truncated v2 blob: %v", err)
	}
}

// TestRetiredMaterialBinding: a retired material opens only for its key,
// spec and material ID; a current material with a material ID does not
// open as one without (no fallback to the v1 label).
func TestRetiredMaterialBinding(t *testing.T) {
	r, err := NewRoot(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("0123456789abcdef0123456789abcdef")
	w, err := r.WrapRetired(rand.Reader, "k1", SpecSymmetric, "m1", raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.UnwrapRetired("k1", SpecSymmetric, "m1", w); err != nil || string(got) != string(raw) {
		t.Fatalf("UnwrapRetired: %v", err)
	}
	for _, tc := range [][3]string{{"k2", SpecSymmetric, "m1"}, {"k1", "HMAC_256", "m1"}, {"k1", SpecSymmetric, "m2"}, {"k1", SpecSymmetric, ""}} {
		if _, err := r.UnwrapRetired(tc[0], tc[1], tc[2], w); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("UnwrapRetired(%v): %v", tc, err)
		}
	}
	b := Binding{KeyID: "k1", KeySpec: SpecSymmetric, KeyUsage: UsageEncryptDecrypt, State: "Enabled", MaterialID: "m1"}
	cur, err := r.Wrap(rand.Reader, b, raw)
	if err != nil {
		t.Fatal(err)
	}
	other := b
	other.MaterialID = "m2"
	if _, _, err := r.Unwrap(other, cur); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("Unwrap with another material ID: %v", err)
	}
	none := b
	none.MaterialID = ""
	if _, _, err := r.Unwrap(none, cur); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("Unwrap without the material ID: %v", err)
	}
	if _, err := r.UnwrapRetired("k1", SpecSymmetric, "m1", cur); !errors.Is(err, ErrIntegrity) {
		t.Fatal("a current material opened as a retired one")
	}
}
