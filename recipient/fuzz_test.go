// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// FuzzOpen feeds Open arbitrary envelopes under the real KMS vector's key,
// seeded with every shared blob and with Seal outputs to that key (so that
// mutations reach the RSA and padding steps). Open must never panic, must
// fail with exactly one documented class, and a plaintext it returns must
// fit in the envelope.
func FuzzOpen(f *testing.F) {
	key := readKey(f, "kms_genkey_edgebit")
	for _, n := range []string{"kms_genkey_edgebit", "kms_awssdkc_constructed", "kms_awssdkc_primitive", "openssl_stream_synthetic"} {
		f.Add(awsvectors.ReadFile(f, "cms", n+".ber"))
	}
	spki, err := PublicKeyDER(&key.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range []int{0, 32, 100} {
		blob, err := Seal(spki, make([]byte, n), nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(blob)
	}
	env := newTestEnv(f, key, []byte("chunked"))
	env.parts.content = indef(0xa0, tlv(0x04, env.ct[:5]), indef(0x24, tlv(0x04, env.ct[5:])))
	env.parts.definite = true
	f.Add(env.parts.encode())

	classes := []error{ErrMalformed, ErrRecipientMismatch, ErrDecrypt, ErrBadPadding}
	f.Fuzz(func(t *testing.T, blob []byte) {
		pt, err := Open(key, blob)
		if err != nil {
			if pt != nil {
				t.Fatalf("plaintext returned with error %v", err)
			}
			n := 0
			for _, c := range classes {
				if errors.Is(err, c) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %v matches %d classes", err, n)
			}
			if errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("truncation %v is not ErrMalformed", err)
			}
			return
		}
		if len(pt) >= len(blob) {
			t.Fatalf("%d-byte plaintext from a %d-byte envelope", len(pt), len(blob))
		}
	})
}

// FuzzParsePublicKey: the key check a key service runs on the public_key
// of an attestation document, which the enclave chooses. ParsePublicKey
// must never panic, must fail only with ErrUnsupportedKey, must accept
// exactly what crypto/x509 reads as an RSA key that checkKey accepts, as
// the same key (the direct DER path may not widen or change what x509
// accepts), and must accept exactly the keys Seal encrypts to. Seeded with the public_key of every document in testvectors/
// and the shared attestation vectors, and with keys of each kind.
func FuzzParsePublicKey(f *testing.F) {
	for _, bits := range []int{2048, 4096} {
		spki, err := PublicKeyDER(&testKey(f, bits).PublicKey)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(spki)
	}
	for _, e := range []int{3, 1<<31 - 1, 1<<32 + 1} {
		k, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: testKey(f, 2048).N, E: e})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(k)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ecDER)
	var docs []string
	for _, sub := range []string{"real", "nitrotpm"} {
		m, _ := filepath.Glob(filepath.Join(awsvectors.Path(f, "attestation", sub), "*.cbor"))
		docs = append(docs, m...)
	}
	own, _ := filepath.Glob(filepath.Join("..", "testvectors", "*.cbor"))
	docs = append(docs, own...)
	seeded := 0
	for _, p := range docs {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if doc, err := attestation.Parse(data); err == nil && len(doc.PublicKey) > 0 {
			f.Add(doc.PublicKey)
			seeded++
		}
	}
	if seeded == 0 {
		f.Fatal("no document in testvectors has a public_key")
	}

	f.Fuzz(func(t *testing.T, der []byte) {
		pub, err := ParsePublicKey(der)
		k, xerr := x509.ParsePKIXPublicKey(der)
		xpub, isRSA := k.(*rsa.PublicKey)
		want := xerr == nil && isRSA && checkKey(xpub) == nil
		if _, serr := Seal(der, []byte{1}, nil); (serr == nil) != (err == nil) ||
			serr != nil && !errors.Is(serr, ErrUnsupportedKey) {
			t.Fatalf("ParsePublicKey %v, Seal %v for %x", err, serr, der)
		}
		if err != nil {
			if pub != nil {
				t.Fatalf("key returned with error %v", err)
			}
			if !errors.Is(err, ErrUnsupportedKey) {
				t.Fatalf("error %v is not ErrUnsupportedKey", err)
			}
			if want {
				t.Fatalf("refused %x, which x509 reads as an acceptable RSA key: %v", der, err)
			}
			return
		}
		if !want {
			t.Fatalf("accepted %x; x509: %v, RSA %v", der, xerr, isRSA)
		}
		if !xpub.Equal(pub) {
			t.Fatalf("ParsePublicKey and x509 read different keys from %x", der)
		}
	})
}
