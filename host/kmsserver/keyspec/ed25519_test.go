// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"path/filepath"
	"testing"
)

// TestEd25519RFC8032 checks both Ed25519 algorithms against RFC 8032's test
// vectors, an independent source: TEST 1 of 7.1 (Ed25519, empty message)
// through ED25519_SHA_512, and TEST abc of 7.3 (Ed25519ph of "abc") through
// the Ed25519ph path ED25519_PH_SHA_512 uses after hashing its DIGEST input.
func TestEd25519RFC8032(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	keyFromSeed := func(seed []byte) *Key {
		der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(seed))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParsePrivateKey(ECCNISTEdwards25519, der)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	// RFC 8032 7.1 TEST 2 (one-byte message 0x72).
	k := keyFromSeed(h("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"))
	want := h("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")
	sig, err := k.Sign(ED25519_SHA_512, RAW, []byte{0x72})
	if err != nil || !bytes.Equal(sig, want) {
		t.Fatalf("ED25519_SHA_512 of RFC 8032 TEST 2 = %x, %v", sig, err)
	}
	if err := k.Verify(ED25519_SHA_512, "", []byte{0x72}, want); err != nil {
		t.Fatal(err)
	}
	// RFC 8032 7.3 TEST abc: Ed25519ph, PH(M) = SHA-512("abc").
	k = keyFromSeed(h("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42"))
	want = h("98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406")
	ph := sha512.Sum512([]byte("abc"))
	sig, err = k.Sign(ED25519_PH_SHA_512, DIGEST, ph[:]) // KMS hashes the digest again ...
	if err != nil {
		t.Fatal(err)
	}
	// ... so the signature is Ed25519ph of M = SHA-512("abc"), not of "abc".
	if bytes.Equal(sig, want) {
		t.Fatal("ED25519_PH_SHA_512 did not hash the DIGEST message again")
	}
	twice := sha512.Sum512(ph[:])
	if err := ed25519.VerifyWithOptions(k.ed.Public().(ed25519.PublicKey), twice[:], sig, &ed25519.Options{Hash: crypto.SHA512}); err != nil {
		t.Fatalf("ED25519_PH_SHA_512 is not Ed25519ph of SHA-512(digest): %v", err)
	}
	// The Ed25519ph primitive itself matches the RFC vector.
	sig, err = k.ed.Sign(nil, ph[:], &ed25519.Options{Hash: crypto.SHA512})
	if err != nil || !bytes.Equal(sig, want) {
		t.Fatalf("Ed25519ph of RFC 8032 TEST abc = %x, %v", sig, err)
	}
}

func TestEd25519Refusals(t *testing.T) {
	k := testKey(t, ECCNISTEdwards25519)
	msg := []byte("ed")
	d := sha512.Sum512(msg)
	for name, f := range map[string]func() error{
		"pure with DIGEST": func() error { _, err := k.Sign(ED25519_SHA_512, DIGEST, d[:]); return err },
		"ph with RAW":      func() error { _, err := k.Sign(ED25519_PH_SHA_512, RAW, msg); return err },
		"ph with no type":  func() error { _, err := k.Sign(ED25519_PH_SHA_512, "", d[:]); return err },
		"ph of 32 bytes":   func() error { _, err := k.Sign(ED25519_PH_SHA_512, DIGEST, d[:32]); return err },
		"4097 bytes":       func() error { _, err := k.Sign(ED25519_SHA_512, RAW, make([]byte, 4097)); return err },
	} {
		if Exception(f()) != ExceptionValidation {
			t.Errorf("%s: want ValidationException", name)
		}
	}
	_, err := k.Sign(ECDSA_SHA_512, RAW, msg)
	wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage)
	_, err = testKey(t, ECCNISTP256).Sign(ED25519_SHA_512, RAW, msg)
	wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage)
	if err := CheckKeyUsage(ECCNISTEdwards25519, KeyAgreement); Exception(err) != ExceptionValidation {
		t.Errorf("Ed25519 KEY_AGREEMENT: %v", err)
	}
	// Pure and prehashed signatures are not interchangeable; a changed
	// signature fails.
	pure, _ := k.Sign(ED25519_SHA_512, RAW, d[:])
	phSig, _ := k.Sign(ED25519_PH_SHA_512, DIGEST, d[:])
	for name, err := range map[string]error{
		"pure as ph":   k.Verify(ED25519_PH_SHA_512, DIGEST, d[:], pure),
		"ph as pure":   k.Verify(ED25519_SHA_512, RAW, d[:], phSig),
		"flipped":      k.Verify(ED25519_SHA_512, RAW, d[:], append([]byte{pure[0] ^ 1}, pure[1:]...)),
		"short":        k.Verify(ED25519_SHA_512, RAW, d[:], pure[:63]),
		"other digest": k.Verify(ED25519_PH_SHA_512, DIGEST, make([]byte, 64), phSig),
	} {
		if Exception(err) != ExceptionInvalidSignature {
			t.Errorf("%s: %v, want KMSInvalidSignatureException", name, err)
		}
	}
	// Material of another kind is refused.
	if _, err := ParsePrivateKey(ECCNISTEdwards25519, testKey(t, ECCNISTP256).Marshal()); err == nil {
		t.Error("a P-256 key parsed as Ed25519")
	}
	if _, err := ParsePrivateKey(ECCNISTP256, k.Marshal()); err == nil {
		t.Error("an Ed25519 key parsed as P-256")
	}
}

// TestEd25519WithOpenSSL: pure Ed25519 signatures from Sign verify with
// OpenSSL (pkeyutl -rawin) against PublicKey, and OpenSSL's signatures with
// an OpenSSL-generated key imported as PKCS #8 verify with Verify.
// (OpenSSL 3.0 has no Ed25519ph; TestEd25519RFC8032 covers it.)
func TestEd25519WithOpenSSL(t *testing.T) {
	dir := t.TempDir()
	msg := []byte("Ed25519 through OpenSSL")
	writeFile(t, dir, "msg", msg)
	k := testKey(t, ECCNISTEdwards25519)
	pub, _ := k.PublicKey()
	writeFile(t, dir, "pub.der", pub)
	sig, err := k.Sign(ED25519_SHA_512, RAW, msg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "sig", sig)
	if out := openssl(t, dir, "pkeyutl", "-verify", "-pubin", "-inkey", "pub.der", "-keyform", "DER", "-rawin", "-in", "msg", "-sigfile", "sig"); !bytes.Contains(out, []byte("Signature Verified Successfully")) {
		t.Fatalf("openssl: %s", out)
	}
	writeFile(t, dir, "key.der", k.Marshal())
	openssl(t, dir, "pkey", "-inform", "DER", "-in", "key.der", "-pubout", "-outform", "DER", "-out", "pub2.der")
	if !bytes.Equal(readFile(t, filepath.Join(dir, "pub2.der")), pub) {
		t.Fatal("OpenSSL derives another public key from Marshal's PKCS #8")
	}
	openssl(t, dir, "genpkey", "-algorithm", "ED25519", "-out", "o.pem")
	openssl(t, dir, "pkcs8", "-topk8", "-nocrypt", "-in", "o.pem", "-outform", "DER", "-out", "o.der")
	openssl(t, dir, "pkeyutl", "-sign", "-inkey", "o.pem", "-rawin", "-in", "msg", "-out", "osig")
	ok, err := ParsePrivateKey(ECCNISTEdwards25519, readFile(t, filepath.Join(dir, "o.der")))
	if err != nil {
		t.Fatal(err)
	}
	if err := ok.Verify(ED25519_SHA_512, RAW, msg, readFile(t, filepath.Join(dir, "osig"))); err != nil {
		t.Fatalf("Verify(OpenSSL Ed25519 signature): %v", err)
	}
}
