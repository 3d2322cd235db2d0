// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// vectorFacts is the subset of the real vectors' JSON the tests use.
type vectorFacts struct {
	ExpectedPlaintextHex string `json:"expected_plaintext_hex"`
	RidSKIHex            string `json:"rid_subjectKeyIdentifier_hex"`
	IVHex                string `json:"iv_hex"`
	ExpectedParse        struct {
		RidSKIHex       string `json:"rid_ski_hex"`
		EncryptedKeyHex string `json:"encrypted_key_hex"`
		IVHex           string `json:"iv_hex"`
		CiphertextHex   string `json:"ciphertext_hex"`
	} `json:"expected_parse"`
}

func readFacts(t testing.TB, name string) vectorFacts {
	t.Helper()
	var f vectorFacts
	if err := json.Unmarshal(awsvectors.ReadFile(t, "cms", name+".json"), &f); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	return f
}

func readKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	blk, _ := pem.Decode(awsvectors.ReadFile(t, "cms", name+".recipient_key.pem"))
	if blk == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k.(*rsa.PrivateKey)
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenRealKMS(t *testing.T) {
	blob := awsvectors.ReadFile(t, "cms", "kms_genkey_edgebit.ber")
	facts := readFacts(t, "kms_genkey_edgebit")
	key := readKey(t, "kms_genkey_edgebit")
	got, err := Open(key, blob)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if want := mustHex(t, facts.ExpectedPlaintextHex); !bytes.Equal(got, want) {
		t.Fatalf("plaintext %x, want %x", got, want)
	}
	// The rid is SHA-256 of the SPKI DER, as PublicKeyDER makes it.
	spki, err := PublicKeyDER(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := SubjectKeyID(spki), mustHex(t, facts.RidSKIHex); !bytes.Equal(got, want) {
		t.Fatalf("SubjectKeyID %x, want %x", got, want)
	}
	env, err := parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(env.iv, mustHex(t, facts.IVHex)) {
		t.Fatalf("IV %x, want %s", env.iv, facts.IVHex)
	}
}

func TestParseRealKMS(t *testing.T) {
	for _, name := range []string{"kms_awssdkc_constructed", "kms_awssdkc_primitive"} {
		t.Run(name, func(t *testing.T) {
			blob := awsvectors.ReadFile(t, "cms", name+".ber")
			want := readFacts(t, name).ExpectedParse
			env, err := parse(blob)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			var ct []byte
			if err := env.content.Segments(func(s []byte) { ct = append(ct, s...) }); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				what    string
				got     []byte
				wantHex string
			}{
				{"rid", env.ski, want.RidSKIHex},
				{"encrypted key", env.encryptedKey, want.EncryptedKeyHex},
				{"IV", env.iv, want.IVHex},
				{"ciphertext", ct, want.CiphertextHex},
			} {
				if !bytes.Equal(c.got, mustHex(t, c.wantHex)) {
					t.Errorf("%s = %x, want %s", c.what, c.got, c.wantHex)
				}
			}
			if env.contentLen != len(ct) {
				t.Errorf("contentLen %d, want %d", env.contentLen, len(ct))
			}
			// Without the key, Open must still get as far as the recipient check.
			k, err := GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(k, blob)
			var rm *RecipientMismatchError
			if !errors.As(err, &rm) || !bytes.Equal(rm.Envelope, mustHex(t, want.RidSKIHex)) {
				t.Fatalf("Open with another key: %v, want RecipientMismatchError", err)
			}
		})
	}
}

func TestOpenOpenSSLSynthetic(t *testing.T) {
	blob := awsvectors.ReadFile(t, "cms", "openssl_stream_synthetic.ber")
	got, err := Open(readKey(t, "openssl_stream_synthetic"), blob)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if want := mustHex(t, readFacts(t, "openssl_stream_synthetic").ExpectedPlaintextHex); !bytes.Equal(got, want) {
		t.Fatalf("plaintext %x, want %x", got, want)
	}
}

// TestSealMatchesKMSTemplate seals 32 bytes to an RSA-2048 key and compares
// every byte with the real KMS blob except the random or key-dependent
// ranges: the SKI, the encrypted key, the IV and the ciphertext.
func TestSealMatchesKMSTemplate(t *testing.T) {
	real := awsvectors.ReadFile(t, "cms", "kms_genkey_edgebit.ber")
	key := testKey(t, 2048)
	spki, err := PublicKeyDER(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pt := bytes.Repeat([]byte{0x5a}, 32)
	got, err := Seal(spki, pt, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(real) {
		t.Fatalf("Seal output is %d bytes, the KMS blob %d", len(got), len(real))
	}
	masks := []struct {
		what       string
		start, end int
	}{
		{"SKI", 33, 65},
		{"encryptedKey", 131, 387},
		{"IV", 415, 431},
		{"ciphertext", 435, 483},
	}
	masked := func(i int) bool {
		for _, m := range masks {
			if i >= m.start && i < m.end {
				return true
			}
		}
		return false
	}
	compared := 0
	for i := range real {
		if masked(i) {
			continue
		}
		compared++
		if got[i] != real[i] {
			t.Errorf("byte %d: %02x, KMS has %02x", i, got[i], real[i])
		}
	}
	if compared != len(real)-32-256-16-48 {
		t.Fatalf("compared %d bytes", compared)
	}
	// The masked ranges hold what they should.
	if !bytes.Equal(got[33:65], SubjectKeyID(spki)) {
		t.Errorf("SKI range %x, want %x", got[33:65], SubjectKeyID(spki))
	}
	env, err := parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if &env.encryptedKey[0] != &got[131] || &env.iv[0] != &got[415] || env.contentLen != 48 {
		t.Errorf("parsed fields are not at the masked offsets")
	}
	if back, err := Open(key, got); err != nil || !bytes.Equal(back, pt) {
		t.Fatalf("Open(Seal) = %x, %v", back, err)
	}
}
