// SPDX-License-Identifier: Apache-2.0

package keymaterial

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

func testRoot(t testing.TB) *Root {
	t.Helper()
	r, err := NewRoot(bytes.Repeat([]byte{7}, RootKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRootKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := NewRoot(make([]byte, n))
		var se *RootKeySizeError
		if !errors.As(err, &se) || se.Got != n {
			t.Errorf("NewRoot(%d bytes) = %v, want RootKeySizeError{Got: %d}", n, err, n)
		}
	}
}

// Every bound field of the record makes Unwrap fail when it changes.
func TestWrapBinding(t *testing.T) {
	r := testRoot(t)
	b := Binding{KeyID: blobTestKeyID, KeySpec: SpecSymmetric, KeyUsage: UsageEncryptDecrypt, Policy: `{"a":1}`,
		State: "PendingDeletion", DeletionDate: time.Date(2026, 12, 13, 0, 0, 0, 0, time.UTC), Tags: `[{"key":"Project","value":"Alpha"}]`, Seq: 7}
	raw := bytes.Repeat([]byte{1}, 32)
	w, err := r.Wrap(rand.Reader, b, raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, legacy, err := r.Unwrap(b, w); err != nil || legacy || !bytes.Equal(got, raw) {
		t.Fatalf("Unwrap: %x %v %v", got, legacy, err)
	}
	if _, v, err := r.Open(b, w); err != nil || v != (Vouched{State: true, Tags: true, Seq: true}) {
		t.Fatalf("Open vouches %+v (%v), want state, tags and sequence", v, err)
	}
	for name, mod := range map[string]func(*Binding){
		"key ID":           func(b *Binding) { b.KeyID = "0b9d2f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5c" },
		"key spec":         func(b *Binding) { b.KeySpec = "HMAC_256" },
		"key usage":        func(b *Binding) { b.KeyUsage = UsageGenerateVerifyMAC },
		"policy":           func(b *Binding) { b.Policy = `{"a":2}` },
		"state":            func(b *Binding) { b.State = "Enabled" },
		"deletion date":    func(b *Binding) { b.DeletionDate = b.DeletionDate.Add(24 * time.Hour) },
		"no deletion date": func(b *Binding) { b.DeletionDate = time.Time{} },
		"tags":             func(b *Binding) { b.Tags = `[{"key":"Project","value":"Beta"}]` },
		"no tags":          func(b *Binding) { b.Tags = "" },
		"older sequence":   func(b *Binding) { b.Seq = 6 },
		"newer sequence":   func(b *Binding) { b.Seq = 8 },
	} {
		c := b
		mod(&c)
		if _, _, err := r.Unwrap(c, w); !errors.Is(err, ErrIntegrity) {
			t.Errorf("changed %s: %v, want ErrIntegrity", name, err)
		}
	}
	if _, _, err := r.Unwrap(b, w[:5]); !errors.Is(err, ErrIntegrity) {
		t.Errorf("truncated: %v", err)
	}
	other, _ := NewRoot(bytes.Repeat([]byte{8}, RootKeySize))
	if _, _, err := other.Unwrap(b, w); !errors.Is(err, ErrIntegrity) {
		t.Errorf("other root key: %v", err)
	}
}

// TestUnwrapLegacy: material wrapped before the state was bound (label v1)
// still opens, reported as legacy, whatever the state says; its other
// fields stay bound.
func TestUnwrapLegacy(t *testing.T) {
	r := testRoot(t)
	b := Binding{KeyID: blobTestKeyID, KeySpec: SpecSymmetric, KeyUsage: UsageEncryptDecrypt, Policy: `{"a":1}`}
	nonce := make([]byte, r.aead.NonceSize())
	w := r.aead.Seal(bytes.Clone(nonce), nonce, []byte("raw"), []byte(wrapLabelV1+blobTestKeyID+"\x00"+SpecSymmetric+"\x00"+UsageEncryptDecrypt+"\x00"+string(sha256Of(b.Policy))))
	b.State = "Disabled"
	if got, legacy, err := r.Unwrap(b, w); err != nil || !legacy || string(got) != "raw" {
		t.Fatalf("legacy record: %q %v %v", got, legacy, err)
	}
	if _, v, err := r.Open(b, w); err != nil || v != (Vouched{}) {
		t.Fatalf("legacy record: Open vouches %+v (%v), want neither state nor tags", v, err)
	}
	b.Policy = `{"a":2}`
	if _, _, err := r.Unwrap(b, w); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("legacy record with another policy: %v", err)
	}
}

// TestUnwrapBeforeTags: material wrapped before the tags were bound opens
// whatever the record's tags, reported as legacy (so its tags are not
// trusted); every other field stays bound. Material wrapped now with no
// tags does not open once a store writer adds some.
func TestUnwrapBeforeTags(t *testing.T) {
	r := testRoot(t)
	b := Binding{KeyID: blobTestKeyID, KeySpec: SpecSymmetric, KeyUsage: UsageEncryptDecrypt, Policy: `{"a":1}`, State: "Enabled"}
	nonce := make([]byte, r.aead.NonceSize())
	w := r.aead.Seal(bytes.Clone(nonce), nonce, []byte("raw"), b.aadWithoutTags())
	b.Tags = `[{"key":"Project","value":"Alpha"}]`
	if got, legacy, err := r.Unwrap(b, w); err != nil || !legacy || string(got) != "raw" {
		t.Fatalf("record from before tags were bound: %q %v %v", got, legacy, err)
	}
	if _, v, err := r.Open(b, w); err != nil || v != (Vouched{State: true}) {
		t.Fatalf("record from before tags were bound: Open vouches %+v (%v), want the state only", v, err)
	}
	b.State = "Disabled"
	if _, _, err := r.Unwrap(b, w); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("record from before tags were bound, state changed: %v", err)
	}
	b.State, b.Tags = "Enabled", ""
	w, err := r.Wrap(rand.Reader, b, []byte("raw"))
	if err != nil {
		t.Fatal(err)
	}
	b.Tags = `[{"key":"Project","value":"Alpha"}]`
	if _, _, err := r.Unwrap(b, w); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("tags added to a record wrapped without: %v", err)
	}
}

// TestOpenBeforeSeq: material wrapped before the sequence number was bound
// (tags bound) opens whatever the record's Seq, with Vouched.Seq false;
// every other field stays bound. Material wrapped now does not open as
// another sequence number.
func TestOpenBeforeSeq(t *testing.T) {
	r := testRoot(t)
	b := Binding{KeyID: blobTestKeyID, KeySpec: SpecSymmetric, KeyUsage: UsageEncryptDecrypt, Policy: `{"a":1}`, State: "Enabled", Tags: "[]"}
	nonce := make([]byte, r.aead.NonceSize())
	w := r.aead.Seal(bytes.Clone(nonce), nonce, []byte("raw"), b.aadWithoutSeq())
	for _, seq := range []uint64{0, 1, 1 << 63} {
		b.Seq = seq
		if got, v, err := r.Open(b, w); err != nil || v != (Vouched{State: true, Tags: true}) || string(got) != "raw" {
			t.Fatalf("record from before the sequence number, Seq %d: %q %+v %v", seq, got, v, err)
		}
		if _, legacy, err := r.Unwrap(b, w); err != nil || legacy {
			t.Fatalf("Unwrap of a record from before the sequence number: legacy %v, %v", legacy, err)
		}
	}
	b.State = "Disabled"
	if _, _, err := r.Open(b, w); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("record from before the sequence number, state changed: %v", err)
	}
	b.State, b.Seq = "Enabled", 3
	w, err := r.Wrap(rand.Reader, b, []byte("raw"))
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{0, 2, 4} {
		b.Seq = seq
		if _, _, err := r.Open(b, w); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("material of sequence 3 opened as %d: %v", seq, err)
		}
	}
	if !bytes.HasPrefix(b.AAD(), []byte(seqLabel)) || bytes.Contains(b.aadWithoutSeq(), []byte(seqLabel)) {
		t.Fatal("the sequenced AAD does not start with its own label")
	}
}

func sha256Of(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestAliasMAC(t *testing.T) {
	r := testRoot(t)
	mac := r.AliasMAC("alias/app", blobTestKeyID)
	if !r.AliasValid("alias/app", blobTestKeyID, mac) {
		t.Fatal("own MAC rejected")
	}
	// The length prefix keeps name/key-ID splits apart.
	if r.AliasValid("alias/ap", "p"+blobTestKeyID, mac) || r.AliasValid("alias/app", "0b9d2f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5c", mac) || r.AliasValid("alias/app", blobTestKeyID, nil) {
		t.Fatal("MAC accepted for another alias record")
	}
}

func TestNewMaterial(t *testing.T) {
	m, err := NewMaterial(SpecSymmetric, make([]byte, 32))
	if err != nil || m.AEAD == nil {
		t.Fatalf("symmetric: %v", err)
	}
	h, err := NewMaterial("HMAC_384", make([]byte, 48))
	if err != nil || h.AEAD != nil {
		t.Fatalf("HMAC: %v", err)
	}
	// An HMAC key cannot seal or open blobs: an error, never a panic.
	if _, err := SealBlob(h.AEAD, rand.Reader, blobTestKeyID, []byte("x"), nil); !errors.Is(err, ErrNotEncryptionKey) {
		t.Errorf("SealBlob with HMAC material: %v", err)
	}
	if _, err := OpenBlob(h.AEAD, []byte("ekb"), nil); !errors.Is(err, ErrNotEncryptionKey) {
		t.Errorf("OpenBlob with HMAC material: %v", err)
	}
	if _, err := NewMaterial(SpecSymmetric, make([]byte, 48)); !errors.Is(err, ErrIntegrity) {
		t.Errorf("spec and material length disagree: %v", err)
	}
	var ue *UnsupportedSpecError
	if _, err := NewMaterial("RSA_2048", nil); !errors.As(err, &ue) || ue.Spec != "RSA_2048" {
		t.Errorf("RSA_2048: %v", err)
	}
}

func TestSizes(t *testing.T) {
	for spec, want := range map[string]int{SpecSymmetric: 32, "HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64} {
		if n, ok := KeySize(spec); !ok || n != want {
			t.Errorf("KeySize(%s) = %d %v, want %d", spec, n, ok, want)
		}
		raw, err := Generate(spec, rand.Reader)
		if err != nil || len(raw) != want {
			t.Errorf("Generate(%s): %d bytes, %v", spec, len(raw), err)
		}
	}
	if _, ok := KeySize("RSA_2048"); ok {
		t.Error("KeySize(RSA_2048) ok")
	}
	for spec, want := range map[string]int{"AES_256": 32, "AES_128": 16} {
		if n, ok := DataKeySpecSize(spec); !ok || n != want {
			t.Errorf("DataKeySpecSize(%s) = %d %v", spec, n, ok)
		}
	}
	if _, ok := DataKeySpecSize("AES_192"); ok {
		t.Error("DataKeySpecSize(AES_192) ok")
	}
}

func TestGenerateKeyPair(t *testing.T) {
	for _, spec := range KeyPairSpecs() {
		if spec == "RSA_3072" || spec == "RSA_4096" {
			if testing.Short() {
				continue
			}
		}
		priv, pub, err := GenerateKeyPair(spec, rand.Reader)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		k, err := x509.ParsePKCS8PrivateKey(priv)
		if err != nil {
			t.Fatalf("%s: private key is not PKCS#8: %v", spec, err)
		}
		p, err := x509.ParsePKIXPublicKey(pub)
		if err != nil {
			t.Fatalf("%s: public key is not SPKI: %v", spec, err)
		}
		if !p.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.(crypto.Signer).Public()) {
			t.Fatalf("%s: public key does not match", spec)
		}
	}
	var ue *UnsupportedSpecError
	if _, _, err := GenerateKeyPair("SM2", rand.Reader); !errors.As(err, &ue) || ue.Spec != "SM2" || IsKeyPairSpec("SM2") {
		t.Fatalf("SM2: %v", err)
	}
}
