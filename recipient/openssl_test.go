// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// opensslPath finds openssl: a test that needs it fails under CI (which
// installs it) and skips elsewhere.
func opensslPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("openssl is required under CI: %v", err)
		}
		t.Skipf("skipping: openssl not found: %v", err)
	}
	return p
}

func runOpenSSL(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(opensslPath(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, stderr.Bytes())
	}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// recipientCert is a self-signed certificate for key whose
// subjectKeyIdentifier is SHA-256 of the SPKI, so that `openssl cms -keyid`
// addresses the envelope the way KMS does.
func recipientCert(t *testing.T, key *rsa.PrivateKey) []byte {
	t.Helper()
	spki, err := PublicKeyDER(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "enclavekit recipient test"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		SubjectKeyId: SubjectKeyID(spki),
		KeyUsage:     x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestOpenSSLOpensSeal: `openssl cms -decrypt` opens what Seal makes.
func TestOpenSSLOpensSeal(t *testing.T) {
	opensslPath(t)
	dir := t.TempDir()
	for _, bits := range []int{2048, 4096} {
		key := testKey(t, bits)
		p8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyPath := filepath.Join(dir, "key.pem")
		writePEM(t, keyPath, "PRIVATE KEY", p8)
		spki, _ := PublicKeyDER(&key.PublicKey)
		for _, n := range []int{0, 32, 1000, MaxPlaintextSize} {
			pt := make([]byte, n)
			rand.Read(pt)
			blob, err := Seal(spki, pt, nil)
			if err != nil {
				t.Fatal(err)
			}
			in, out := filepath.Join(dir, "sealed.ber"), filepath.Join(dir, "out.bin")
			if err := os.WriteFile(in, blob, 0o600); err != nil {
				t.Fatal(err)
			}
			runOpenSSL(t, "cms", "-decrypt", "-inform", "DER", "-in", in, "-inkey", keyPath, "-binary", "-out", out)
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatalf("RSA-%d, %d bytes: openssl decrypted %d different bytes", bits, n, len(got))
			}
		}
	}
}

// TestOpenOpensOpenSSL: Open opens streamed OpenSSL envelopes, which differ
// from KMS's (hash parameters absent, content in several chunks).
func TestOpenOpensOpenSSL(t *testing.T) {
	opensslPath(t)
	dir := t.TempDir()
	for _, bits := range []int{2048, 4096} {
		key := testKey(t, bits)
		certPath := filepath.Join(dir, "cert.pem")
		writePEM(t, certPath, "CERTIFICATE", recipientCert(t, key))
		for _, n := range []int{0, 32, 5000, 20000} {
			pt := make([]byte, n)
			rand.Read(pt)
			in, out := filepath.Join(dir, "pt.bin"), filepath.Join(dir, "env.ber")
			if err := os.WriteFile(in, pt, 0o600); err != nil {
				t.Fatal(err)
			}
			runOpenSSL(t, "cms", "-encrypt", "-stream", "-keyid", "-recip", certPath,
				"-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256", "-keyopt", "rsa_mgf1_md:sha256",
				"-aes-256-cbc", "-binary", "-outform", "DER", "-in", in, "-out", out)
			blob, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Open(key, blob)
			if err != nil {
				t.Fatalf("RSA-%d, %d bytes: Open: %v", bits, n, err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatalf("RSA-%d, %d bytes: plaintext mismatch", bits, n)
			}
			env, err := parse(blob)
			if err != nil {
				t.Fatal(err)
			}
			chunks := 0
			if err := env.content.Segments(func([]byte) { chunks++ }); err != nil {
				t.Fatal(err)
			}
			if n >= 5000 && chunks < 2 {
				t.Fatalf("%d bytes came in %d chunk(s): the multi-chunk path is not exercised", n, chunks)
			}
			t.Logf("RSA-%d, %d bytes: %d-byte envelope, %d content chunk(s), indefinite=%v", bits, n, len(blob), chunks, env.content.Indefinite)
		}
	}
}
