// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

func TestSealOpenRoundTrip(t *testing.T) {
	for _, bits := range []int{2048, 3072, 4096} {
		key := testKey(t, bits)
		spki, err := PublicKeyDER(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 15, 16, 17, 32, 1024, MaxPlaintextSize} {
			pt := make([]byte, n)
			rand.Read(pt)
			blob, err := Seal(spki, pt, nil)
			if err != nil {
				t.Fatalf("RSA-%d, %d bytes: Seal: %v", bits, n, err)
			}
			if len(blob) > 6144 {
				t.Errorf("RSA-%d, %d bytes: envelope of %d bytes exceeds KMS's 6144", bits, n, len(blob))
			}
			got, err := Open(key, blob)
			if err != nil {
				t.Fatalf("RSA-%d, %d bytes: Open: %v", bits, n, err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatalf("RSA-%d, %d bytes: round trip mismatch", bits, n)
			}
		}
	}
}

// TestSealLayoutLengths checks the definite lengths KMS's layout has for
// each key size: RecipientInfos and KeyTransRecipientInfo headers at 20.
func TestSealLayoutLengths(t *testing.T) {
	for _, tc := range []struct {
		bits int
		want string
	}{
		{2048, "3182016b30820167"},
		{3072, "318201eb308201e7"},
		{4096, "3182026b30820267"},
	} {
		key := testKey(t, tc.bits)
		spki, _ := PublicKeyDER(&key.PublicKey)
		blob, err := Seal(spki, make([]byte, 32), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := blob[20:28]; !bytes.Equal(got, mustHex(t, tc.want)) {
			t.Errorf("RSA-%d: headers %x, want %s", tc.bits, got, tc.want)
		}
		if !bytes.HasSuffix(blob, make([]byte, 10)) {
			t.Errorf("RSA-%d: envelope does not end with five end-of-contents", tc.bits)
		}
	}
}

func TestSealFreshKeyAndIV(t *testing.T) {
	key := testKey(t, 2048)
	spki, _ := PublicKeyDER(&key.PublicKey)
	pt := make([]byte, 32)
	a, _ := Seal(spki, pt, nil)
	b, _ := Seal(spki, pt, nil)
	ea, _ := parse(a)
	eb, _ := parse(b)
	if bytes.Equal(ea.iv, eb.iv) || bytes.Equal(ea.encryptedKey, eb.encryptedKey) || bytes.Equal(a[435:483], b[435:483]) {
		t.Fatal("two seals share IV, encrypted key or ciphertext")
	}
}

func TestSealRejectsKeys(t *testing.T) {
	k2048 := testKey(t, 2048)
	marshal := func(pub any) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	k1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	oddN := func(bits int) *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
		n.SetBit(n, bits-1, 1)
		return n.SetBit(n, 0, 1)
	}
	for _, tc := range []struct {
		name string
		der  []byte
		want string
	}{
		{"RSA-1024", marshal(&k1024.PublicKey), "RSA-1024 key: want 2048 to 4096 bits"},
		{"RSA-2040", marshal(&rsa.PublicKey{N: oddN(2040), E: 65537}), "RSA-2040"},
		{"RSA-4104", marshal(&rsa.PublicKey{N: oddN(4104), E: 65537}), "RSA-4104"},
		{"exponent 3", marshal(&rsa.PublicKey{N: k2048.N, E: 3}), "exponent 3"},
		{"even exponent", marshal(&rsa.PublicKey{N: k2048.N, E: 65538}), "exponent 65538"},
		{"even modulus", marshal(&rsa.PublicKey{N: new(big.Int).Add(k2048.N, big.NewInt(1)), E: 65537}), "even RSA modulus"},
		{"ECDSA P-384", marshal(&ec.PublicKey), "not an RSA key (*ecdsa.PublicKey)"},
		{"Ed25519", marshal(ed), "not an RSA key (ed25519.PublicKey)"},
		{"garbage", []byte("not a key"), "not a DER SubjectPublicKeyInfo"},
		{"empty", nil, "not a DER SubjectPublicKeyInfo"},
		{"trailing data", append(marshal(&k2048.PublicKey), 0), "not a DER SubjectPublicKeyInfo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Seal(tc.der, []byte("x"), nil)
			var ke *KeyError
			if !errors.Is(err, ErrUnsupportedKey) || !errors.As(err, &ke) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrUnsupportedKey saying %q", err, tc.want)
			}
		})
	}
}

func TestSealLimitsAndRandomness(t *testing.T) {
	spki, _ := PublicKeyDER(&testKey(t, 2048).PublicKey)
	if _, err := Seal(spki, make([]byte, MaxPlaintextSize+1), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized plaintext: err = %v, want ErrTooLarge", err)
	}
	if _, err := Seal(spki, []byte("x"), io.LimitReader(rand.Reader, 20)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short randomness: err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestGenerateKey(t *testing.T) {
	k, err := GenerateKey(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if k.N.BitLen() != 2048 || k.E != 65537 || k.Precomputed.Dp == nil {
		t.Fatalf("default key: %d bits, e=%d", k.N.BitLen(), k.E)
	}
	for _, bits := range []int{1024, 2047, 8192, -1} {
		if _, err := GenerateKey(nil, bits); !errors.Is(err, ErrUnsupportedKey) {
			t.Errorf("GenerateKey(%d): err = %v, want ErrUnsupportedKey", bits, err)
		}
	}
	der, err := PublicKeyDER(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(der); !bytes.Equal(SubjectKeyID(der), sum[:]) {
		t.Fatal("SubjectKeyID is not SHA-256 of the SPKI")
	}
	if _, err := x509.ParsePKIXPublicKey(der); err != nil {
		t.Fatalf("PublicKeyDER is not an SPKI: %v", err)
	}
	if _, err := PublicKeyDER(&rsa.PublicKey{N: k.N, E: 3}); !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("PublicKeyDER(e=3): err = %v", err)
	}
	if _, err := PublicKeyDER(nil); !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("PublicKeyDER(nil): err = %v", err)
	}
}

func TestOpenRejectsKeys(t *testing.T) {
	blob := awsvectors.ReadFile(t, "cms", "kms_genkey_edgebit.ber")
	k1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*rsa.PrivateKey{nil, k1024} {
		if _, err := Open(k, blob); !errors.Is(err, ErrUnsupportedKey) {
			t.Errorf("err = %v, want ErrUnsupportedKey", err)
		}
	}
}

func TestOpenWrongKey(t *testing.T) {
	a, b := testKey(t, 2048), testKey(t, 3072)
	spki, _ := PublicKeyDER(&a.PublicKey)
	blob, err := Seal(spki, []byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(b, blob)
	var rm *RecipientMismatchError
	if !errors.Is(err, ErrRecipientMismatch) || !errors.As(err, &rm) {
		t.Fatalf("err = %v, want ErrRecipientMismatch", err)
	}
	if !bytes.Equal(rm.Envelope, SubjectKeyID(spki)) || !strings.Contains(err.Error(), "not to this key") {
		t.Fatalf("mismatch error %q does not say whose key", err)
	}
	if errors.Is(err, ErrDecrypt) || errors.Is(err, ErrMalformed) {
		t.Fatal("mismatch matches other classes")
	}

	// Right SKI, wrong private key: the OAEP decryption fails.
	c, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spkiC, _ := PublicKeyDER(&c.PublicKey)
	forged := bytes.Clone(blob)
	copy(forged[33:65], SubjectKeyID(spkiC))
	if _, err := Open(c, forged); !errors.Is(err, ErrDecrypt) || err.Error() != ErrDecrypt.Error() {
		t.Fatalf("err = %v, want exactly ErrDecrypt", err)
	}
	// Tampered encrypted key.
	tampered := bytes.Clone(blob)
	tampered[200] ^= 1
	if _, err := Open(a, tampered); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("tampered encryptedKey: err = %v, want ErrDecrypt", err)
	}
}

func TestUnpad(t *testing.T) {
	block := func(tail ...byte) []byte {
		b := bytes.Repeat([]byte{0xee}, 32)
		return append(b[:32-len(tail)], tail...)
	}
	for _, tc := range []struct {
		name string
		buf  []byte
		n    int
		ok   bool
	}{
		{"one", block(0x01), 31, true},
		{"two", block(0x02, 0x02), 30, true},
		{"sixteen", append(bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{16}, 16)...), 16, true},
		{"zero", block(0x00), 0, false},
		{"seventeen", block(0x11), 0, false},
		{"255", block(0xff), 0, false},
		{"short run", block(0x01, 0x03, 0x03), 0, false},
		{"wrong first pad byte", block(0x05, 0x04, 0x04, 0x04, 0x04), 28, true},
		{"hole", block(0x04, 0x04, 0x05, 0x04), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := unpad(tc.buf)
			if ok != tc.ok || (ok && n != tc.n) {
				t.Fatalf("unpad = %d, %v; want %d, %v", n, ok, tc.n, tc.ok)
			}
		})
	}
	// Every single-byte corruption of a full padding block is caught.
	for i := range 16 {
		b := append(bytes.Repeat([]byte{7}, 16), bytes.Repeat([]byte{16}, 16)...)
		b[16+i] ^= 0x40
		if _, ok := unpad(b); ok {
			t.Fatalf("corruption at %d accepted", i)
		}
	}
}

// TestOpenBadPadding flips bits in the block before the last, which CBC
// turns into chosen changes of the last plaintext block.
func TestOpenBadPadding(t *testing.T) {
	key := testKey(t, 2048)
	spki, _ := PublicKeyDER(&key.PublicKey)
	pt := bytes.Repeat([]byte{0x42}, 32)
	blob, err := Seal(spki, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	const prevLast = 435 + 16 + 15 // last byte of ciphertext block 2 of 3
	for _, tc := range []struct {
		name  string
		delta byte // XOR into the last padding byte (0x10)
		pos   int  // byte of the last block to change
	}{
		{"pad 0", 0x10, 15},
		{"pad 17", 0x10 ^ 0x11, 15},
		{"pad 255", 0x10 ^ 0xff, 15},
		{"hole in padding", 0x01, 3},
		{"first padding byte", 0x80, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(blob)
			b[prevLast-15+tc.pos] ^= tc.delta
			got, err := Open(key, b)
			if !errors.Is(err, ErrBadPadding) || got != nil {
				t.Fatalf("Open = %x, %v; want ErrBadPadding", got, err)
			}
			if errors.Is(err, ErrDecrypt) || errors.Is(err, ErrMalformed) || err.Error() != ErrBadPadding.Error() {
				t.Fatalf("bad padding error %q is not exactly ErrBadPadding", err)
			}
		})
	}
	// CBC is malleable: a change that keeps the padding valid goes through.
	// This is why the package documentation says the content is not
	// authenticated.
	b := bytes.Clone(blob)
	b[prevLast] ^= 0x10 ^ 0x01
	if got, err := Open(key, b); err != nil || len(got) != 47 {
		t.Fatalf("malleated envelope: %d bytes, %v; want 47 bytes", len(got), err)
	}
}

func TestOpenTruncated(t *testing.T) {
	key := testKey(t, 2048)
	spki, _ := PublicKeyDER(&key.PublicKey)
	sealed, err := Seal(spki, make([]byte, 100), nil)
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{"Seal": sealed}
	for _, n := range []string{"kms_genkey_edgebit", "kms_awssdkc_constructed", "kms_awssdkc_primitive", "openssl_stream_synthetic"} {
		blobs[n] = awsvectors.ReadFile(t, "cms", n+".ber")
	}
	env := newTestEnv(t, key, []byte("definite"))
	env.parts.definite = true
	blobs["definite"] = env.parts.encode()
	for name, blob := range blobs {
		for n := range len(blob) {
			_, err := Open(key, blob[:n])
			var fe *FormatError
			if !errors.Is(err, ErrTruncated) || !errors.Is(err, ErrMalformed) || !errors.As(err, &fe) || !fe.Truncated {
				t.Fatalf("%s cut to %d bytes: err = %v, want ErrTruncated", name, n, err)
			}
		}
	}
}

func TestOpenNotEnvelope(t *testing.T) {
	key := testKey(t, 2048)
	for _, blob := range [][]byte{tlv(0x31, oid(oidEnvelopedData)), tlv(0x04, []byte("x")), {0x05, 0x00}} {
		if _, err := Open(key, blob); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "want SEQUENCE") {
			t.Errorf("%x: err = %v, want ErrMalformed (want SEQUENCE)", blob, err)
		}
	}
}

func TestOpenTrailingGarbage(t *testing.T) {
	key := testKey(t, 2048)
	spki, _ := PublicKeyDER(&key.PublicKey)
	blob, _ := Seal(spki, []byte("x"), nil)
	for _, tail := range [][]byte{{0}, {0, 0}, {0x04, 0x00}, []byte("garbage")} {
		_, err := Open(key, append(bytes.Clone(blob), tail...))
		if !errors.Is(err, ErrMalformed) || errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "trailing") {
			t.Fatalf("tail %x: err = %v, want ErrMalformed (trailing)", tail, err)
		}
	}
	if _, err := Open(key, make([]byte, MaxEnvelopeSize+1)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("oversized: err = %v", err)
	}
}

// TestOpenForms opens every tolerated encoding.
func TestOpenForms(t *testing.T) {
	key := testKey(t, 2048)
	pt := bytes.Repeat([]byte("forms"), 20) // 100 bytes, 112 of ciphertext
	for _, tc := range []struct {
		name string
		mod  func(e *testEnv)
	}{
		{"KMS layout", func(e *testEnv) {}},
		{"definite outer layers", func(e *testEnv) { e.parts.definite = true }},
		{"primitive content", func(e *testEnv) { e.parts.content = tlv(0x80, e.ct) }},
		{"definite constructed content", func(e *testEnv) { e.parts.content = tlv(0xa0, tlv(0x04, e.ct)) }},
		{"odd-sized chunks", func(e *testEnv) {
			var chunks [][]byte
			for i := 0; i < len(e.ct); i += 7 {
				chunks = append(chunks, tlv(0x04, e.ct[i:min(i+7, len(e.ct))]))
			}
			chunks = append(chunks, tlv(0x04, nil))
			e.parts.content = indef(0xa0, chunks...)
		}},
		{"nested constructed chunks", func(e *testEnv) {
			e.parts.content = indef(0xa0, indef(0x24, tlv(0x04, e.ct[:50])), tlv(0x24, tlv(0x04, e.ct[50:])))
		}},
		{"long-form lengths", func(e *testEnv) {
			e.parts.content = indef(0xa0, append([]byte{0x04, 0x83, 0, 0, byte(len(e.ct))}, e.ct...))
		}},
		{"hash parameters absent", func(e *testEnv) {
			sha := tlv(0x30, oid(oidSHA256))
			alg := tlv(0x30, oid(oidRSAESOAEP), tlv(0x30, tlv(0xa0, sha), tlv(0xa1, tlv(0x30, oid(oidMGF1), sha))))
			e.parts.recipients = [][]byte{ktri([]byte{2, 1, 2}, tlv(0x80, e.ski(t)), alg, e.ek)}
		}},
		{"explicit empty label", func(e *testEnv) {
			label := tlv(0xa2, tlv(0x30, oid(oidPSpecified), tlv(0x04, nil)))
			alg := tlv(0x30, oid(oidRSAESOAEP), tlv(0x30, tlv(0xa0, sha256Alg), tlv(0xa1, mgf1SHA256), label))
			e.parts.recipients = [][]byte{ktri([]byte{2, 1, 2}, tlv(0x80, e.ski(t)), alg, e.ek)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, key, pt)
			tc.mod(e)
			got, err := Open(key, e.parts.encode())
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatalf("plaintext %q", got)
			}
		})
	}
}

// TestOpenRejections checks each structural rejection and its class.
func TestOpenRejections(t *testing.T) {
	key := testKey(t, 2048)
	const (
		malformed   = "malformed"
		unsupported = "unsupported"
	)
	sha1 := []byte{0x2b, 0x0e, 0x03, 0x02, 0x1a}
	sha384 := []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02}
	rsaEncryption := []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}
	aes128CBC := []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02}
	withAlg := func(alg []byte) func(e *testEnv) {
		return func(e *testEnv) {
			e.parts.recipients = [][]byte{ktri([]byte{2, 1, 2}, tlv(0x80, e.ski(t)), alg, e.ek)}
		}
	}
	oaep := func(params ...[]byte) []byte { return tlv(0x30, oid(oidRSAESOAEP), tlv(0x30, params...)) }
	for _, tc := range []struct {
		name  string
		mod   func(e *testEnv)
		class string
		field string // in the message
	}{
		{"two recipients", func(e *testEnv) { e.parts.recipients = append(e.parts.recipients, e.parts.recipients[0]) }, unsupported, "2 recipients"},
		{"no recipient", func(e *testEnv) { e.parts.recipients = nil }, malformed, "no recipient"},
		{"KeyAgreeRecipientInfo", func(e *testEnv) { e.parts.recipients = [][]byte{tlv(0xa1, null)} }, unsupported, "KeyAgreeRecipientInfo"},
		{"KTRI version 0", func(e *testEnv) {
			e.parts.recipients = [][]byte{ktri([]byte{2, 1, 0}, tlv(0x30, tlv(0x30), tlv(0x02, []byte{1})), oaepAlg, e.ek)}
		}, unsupported, "issuerAndSerialNumber"},
		{"KTRI version 2 with issuerAndSerialNumber", func(e *testEnv) {
			e.parts.recipients = [][]byte{ktri([]byte{2, 1, 2}, tlv(0x30, tlv(0x30), tlv(0x02, []byte{1})), oaepAlg, e.ek)}
		}, malformed, "rid"},
		{"EnvelopedData version 0", func(e *testEnv) { e.parts.version = []byte{2, 1, 0} }, unsupported, "version 0"},
		{"ContentInfo type data", func(e *testEnv) { e.parts.contentType = oid(oidData) }, unsupported, "1.2.840.113549.1.7.1"},
		{"EncryptedContentInfo type envelopedData", func(e *testEnv) { e.parts.eciType = oid(oidEnvelopedData) }, unsupported, "EncryptedContentInfo.contentType"},
		{"PKCS #1 v1.5 key transport", withAlg(tlv(0x30, oid(rsaEncryption), null)), unsupported, "1.2.840.113549.1.1.1"},
		{"OAEP parameters absent", withAlg(tlv(0x30, oid(oidRSAESOAEP))), unsupported, "SHA-1 defaults"},
		{"OAEP default parameters", withAlg(oaep()), unsupported, "hashAlgorithm"},
		{"OAEP SHA-1", withAlg(oaep(tlv(0xa0, tlv(0x30, oid(sha1), null)), tlv(0xa1, mgf1SHA256))), unsupported, "1.3.14.3.2.26"},
		{"OAEP SHA-384", withAlg(oaep(tlv(0xa0, tlv(0x30, oid(sha384), null)), tlv(0xa1, mgf1SHA256))), unsupported, "2.16.840.1.101.3.4.2.2"},
		{"MGF1 default", withAlg(oaep(tlv(0xa0, sha256Alg))), unsupported, "maskGenAlgorithm"},
		{"MGF1 SHA-1", withAlg(oaep(tlv(0xa0, sha256Alg), tlv(0xa1, tlv(0x30, oid(oidMGF1), tlv(0x30, oid(sha1)))))), unsupported, "MGF1 hash"},
		{"mask generation not MGF1", withAlg(oaep(tlv(0xa0, sha256Alg), tlv(0xa1, tlv(0x30, oid(oidPSpecified), sha256Alg)))), unsupported, "maskGenAlgorithm"},
		{"hash parameters not NULL", withAlg(oaep(tlv(0xa0, tlv(0x30, oid(oidSHA256), []byte{2, 1, 0})), tlv(0xa1, mgf1SHA256))), unsupported, "absent or NULL"},
		{"non-empty label", withAlg(oaep(tlv(0xa0, sha256Alg), tlv(0xa1, mgf1SHA256), tlv(0xa2, tlv(0x30, oid(oidPSpecified), tlv(0x04, []byte("L")))))), unsupported, "label"},
		{"extra OAEP parameter", withAlg(oaep(tlv(0xa0, sha256Alg), tlv(0xa1, mgf1SHA256), tlv(0xa3, null))), malformed, "unexpected extra element"},
		{"AES-128-CBC", func(e *testEnv) { e.parts.contentAlg = tlv(0x30, oid(aes128CBC), tlv(0x04, e.iv)) }, unsupported, "2.16.840.1.101.3.4.1.2"},
		{"IV of 8 bytes", func(e *testEnv) { e.parts.contentAlg = tlv(0x30, oid(oidAES256CBC), tlv(0x04, e.iv[:8])) }, malformed, "8 bytes, want 16"},
		{"IV of 32 bytes", func(e *testEnv) {
			e.parts.contentAlg = tlv(0x30, oid(oidAES256CBC), tlv(0x04, append(e.iv, e.iv...)))
		}, malformed, "32 bytes, want 16"},
		{"IV absent", func(e *testEnv) { e.parts.contentAlg = tlv(0x30, oid(oidAES256CBC)) }, malformed, "IV: missing"},
		{"content absent", func(e *testEnv) { e.parts.content = nil }, unsupported, "detached"},
		{"content empty", func(e *testEnv) { e.parts.content = indef(0xa0) }, malformed, "0 bytes"},
		{"content not a block multiple", func(e *testEnv) { e.parts.content = tlv(0x80, e.ct[:len(e.ct)-1]) }, malformed, "not a positive multiple of 16"},
		{"content chunk not OCTET STRING", func(e *testEnv) { e.parts.content = indef(0xa0, tlv(0x02, e.ct)) }, malformed, "not an OCTET STRING"},
		{"originatorInfo", func(e *testEnv) { e.parts.originatorInfo = tlv(0xa0) }, unsupported, "originatorInfo"},
		{"unprotectedAttrs", func(e *testEnv) { e.parts.unprotected = tlv(0xa1, tlv(0x30)) }, unsupported, "unprotectedAttrs"},
		{"contentType missing", func(e *testEnv) { e.parts.contentType = nil }, malformed, "want OBJECT IDENTIFIER"},
		{"encrypted key too short", func(e *testEnv) {
			e.parts.recipients = [][]byte{ktri([]byte{2, 1, 2}, tlv(0x80, e.ski(t)), oaepAlg, e.ek[1:])}
		}, malformed, "255 bytes, want 256"},
		{"content key of 16 bytes", func(e *testEnv) {
			ek, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, e.cek[:16], nil)
			if err != nil {
				t.Fatal(err)
			}
			e.parts.recipients = [][]byte{ktri([]byte{2, 1, 2}, tlv(0x80, e.ski(t)), oaepAlg, ek)}
		}, malformed, "content-encryption key of 16 bytes"},
		{"content key of 48 bytes", func(e *testEnv) {
			ek, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, make([]byte, 48), nil)
			if err != nil {
				t.Fatal(err)
			}
			e.parts.recipients = [][]byte{ktri([]byte{2, 1, 2}, tlv(0x80, e.ski(t)), oaepAlg, ek)}
		}, malformed, "content-encryption key of 48 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, key, []byte("rejections"))
			tc.mod(e)
			got, err := Open(key, e.parts.encode())
			var fe *FormatError
			if got != nil || !errors.As(err, &fe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Open = %x, %v; want a FormatError", got, err)
			}
			if errors.Is(err, ErrUnsupported) != (tc.class == unsupported) || errors.Is(err, ErrTruncated) {
				t.Fatalf("err = %v: want class %s", err, tc.class)
			}
			if errors.Is(err, ErrDecrypt) || errors.Is(err, ErrBadPadding) || errors.Is(err, ErrRecipientMismatch) {
				t.Fatalf("err = %v matches a decryption class", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err = %q, want it to mention %q", err, tc.field)
			}
		})
	}
}

// TestParseRSASPKIAgreesWithX509: the direct SPKI path accepts nothing
// crypto/x509 rejects, and reads the same key, under every single-byte
// change of a valid SPKI.
func TestParseRSASPKIAgreesWithX509(t *testing.T) {
	for _, bits := range []int{2048, 4096} {
		spki, _ := PublicKeyDER(&testKey(t, bits).PublicKey)
		check := func(der []byte) {
			pub, ok := parseRSASPKI(der)
			if !ok {
				return
			}
			k, err := x509.ParsePKIXPublicKey(der)
			if err != nil {
				t.Fatalf("direct path accepts %x, x509 says %v", der, err)
			}
			if xp, isRSA := k.(*rsa.PublicKey); !isRSA || !xp.Equal(pub) {
				t.Fatalf("direct path and x509 read different keys from %x", der)
			}
		}
		check(spki)
		if _, ok := parseRSASPKI(spki); !ok {
			t.Fatal("direct path rejects a valid SPKI")
		}
		for i := range spki {
			for _, d := range []byte{0x01, 0x80, 0xff} {
				m := bytes.Clone(spki)
				m[i] ^= d
				check(m)
			}
			check(spki[:i])
		}
	}
}

func TestMarshalSPKIMatchesX509(t *testing.T) {
	for _, bits := range []int{2048, 3072, 4096} {
		pub := &testKey(t, bits).PublicKey
		want, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		got, err := PublicKeyDER(pub)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("RSA-%d: PublicKeyDER = %x, %v; x509 has %x", bits, got, err, want)
		}
	}
	// A large exponent too.
	k := testKey(t, 2048)
	pub := &rsa.PublicKey{N: k.N, E: 1<<31 - 1}
	want, _ := x509.MarshalPKIXPublicKey(pub)
	if got := marshalSPKI(pub); !bytes.Equal(got, want) {
		t.Fatalf("e=2^31-1: %x, x509 has %x", got, want)
	}
}

// TestRecipientMismatchErrorBounded: the envelope's identifier is the
// sender's bytes, up to the envelope's size; the error's text names at most
// 32 bytes of it, marked as cut, so that a caller that logs the error does
// not log a 64 KiB identifier twice over.
func TestRecipientMismatchErrorBounded(t *testing.T) {
	e := &RecipientMismatchError{Envelope: bytes.Repeat([]byte{0xab}, 60000), Key: bytes.Repeat([]byte{0xcd}, 32)}
	msg := e.Error()
	if len(msg) > 256 {
		t.Fatalf("error text is %d bytes for a 60,000-byte identifier", len(msg))
	}
	if !strings.Contains(msg, strings.Repeat("ab", 32)+"...") || !strings.Contains(msg, strings.Repeat("cd", 32)+")") {
		t.Fatalf("error text %q does not show the identifiers' first 32 bytes, the cut one marked", msg)
	}
}
