// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// The cross-checks in this file hold this package against OpenSSL, an
// independent implementation: what it signs, encrypts, derives and MACs,
// OpenSSL verifies, decrypts, derives and MACs the same, and the other way
// round.

// digestName is OpenSSL's name for the hash an algorithm name ends in.
func digestName(alg string) string {
	return map[crypto.Hash]string{crypto.SHA1: "sha1", crypto.SHA224: "sha224", crypto.SHA256: "sha256",
		crypto.SHA384: "sha384", crypto.SHA512: "sha512"}[hashOf(alg)]
}

// pkeyoptsFor returns the pkeyutl options OpenSSL needs to do what alg
// names: the digest (for the PKCS #1 DigestInfo), and PSS with salt length
// = hash length.
func pkeyoptsFor(flag string, alg SigningAlgorithm) []string {
	opts := []string{flag, "digest:" + digestName(string(alg))}
	if strings.HasPrefix(string(alg), "RSASSA_PSS_") {
		opts = append(opts, flag, "rsa_padding_mode:pss", flag, "rsa_pss_saltlen:digest", flag, "rsa_mgf1_md:"+digestName(string(alg)))
	}
	return opts
}

func TestSignVerifiesWithOpenSSL(t *testing.T) {
	msg := []byte("enclavekit keyspec: a message signed by Sign and verified by OpenSSL")
	for _, spec := range signingSpecs {
		if spec == ECCNISTEdwards25519 {
			continue // openssl dgst has no Ed25519: TestEd25519WithOpenSSL
		}
		k := testKey(t, spec)
		dir := t.TempDir()
		pub, err := k.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		pubPath := writeFile(t, dir, "pub.der", pub)
		msgPath := writeFile(t, dir, "msg", msg)
		for _, alg := range spec.SigningAlgorithms() {
			t.Run(string(spec)+"/"+string(alg), func(t *testing.T) {
				// RAW: openssl dgst hashes the message itself.
				sig, err := k.Sign(alg, RAW, msg)
				if err != nil {
					t.Fatal(err)
				}
				sigPath := writeFile(t, dir, "sig-raw", sig)
				args := []string{"dgst", "-" + digestName(string(alg)), "-verify", pubPath, "-keyform", "DER", "-signature", sigPath}
				if strings.HasPrefix(string(alg), "RSASSA_PSS_") {
					args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest")
				}
				if out := openssl(t, dir, append(args, msgPath)...); !bytes.Contains(out, []byte("Verified OK")) {
					t.Fatalf("openssl dgst -verify: %s", out)
				}
				// DIGEST: pkeyutl takes the digest.
				h := hashOf(string(alg)).New()
				h.Write(msg)
				digest := h.Sum(nil)
				sig, err = k.Sign(alg, DIGEST, digest)
				if err != nil {
					t.Fatal(err)
				}
				sigPath = writeFile(t, dir, "sig-digest", sig)
				digestPath := writeFile(t, dir, "digest", digest)
				args = append([]string{"pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-keyform", "DER", "-in", digestPath, "-sigfile", sigPath}, pkeyoptsFor("-pkeyopt", alg)...)
				if out := openssl(t, dir, args...); !bytes.Contains(out, []byte("Signature Verified Successfully")) {
					t.Fatalf("openssl pkeyutl -verify: %s", out)
				}
				// And OpenSSL refuses a signature over another message.
				writeFile(t, dir, "other", append([]byte("x"), msg...))
				args = []string{"dgst", "-" + digestName(string(alg)), "-verify", pubPath, "-keyform", "DER", "-signature", filepath.Join(dir, "sig-raw")}
				if strings.HasPrefix(string(alg), "RSASSA_PSS_") {
					args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest")
				}
				if !opensslFails(t, dir, append(args, filepath.Join(dir, "other"))...) {
					t.Fatal("openssl verified a signature over another message: the check cannot fail")
				}
			})
		}
	}
}

// TestVerifyAcceptsOpenSSLSignatures imports keys that OpenSSL generated
// (PKCS #8 DER), has OpenSSL sign with them, and verifies with Verify; it
// also checks that the public key OpenSSL derives is GetPublicKey's.
func TestVerifyAcceptsOpenSSLSignatures(t *testing.T) {
	gen := map[Spec][]string{
		RSA2048:       {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"},
		RSA3072:       {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"},
		ECCNISTP256:   {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"},
		ECCNISTP384:   {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"},
		ECCNISTP521:   {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"},
		ECCSECGP256K1: {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"},
	}
	msg := []byte("signed by OpenSSL with imported material")
	for _, spec := range signingSpecs {
		args, ok := gen[spec]
		if !ok {
			continue // RSA_4096 generation in OpenSSL is slow; RSA_2048/3072 cover the code
		}
		t.Run(string(spec), func(t *testing.T) {
			dir := t.TempDir()
			openssl(t, dir, append([]string{"genpkey", "-out", "key.pem"}, args...)...)
			openssl(t, dir, "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER", "-out", "key.der")
			openssl(t, dir, "pkey", "-in", "key.pem", "-pubout", "-outform", "DER", "-out", "pub.der")
			k, err := ParsePrivateKey(spec, readFile(t, filepath.Join(dir, "key.der")))
			if err != nil {
				t.Fatalf("ParsePrivateKey of OpenSSL's PKCS #8: %v", err)
			}
			pub, _ := k.PublicKey()
			if !bytes.Equal(pub, readFile(t, filepath.Join(dir, "pub.der"))) {
				t.Fatal("PublicKey differs from the SubjectPublicKeyInfo OpenSSL derives")
			}
			writeFile(t, dir, "msg", msg)
			for _, alg := range spec.SigningAlgorithms() {
				// ECDSA signatures are random: several rounds meet high-S ones.
				for round := range 4 {
					sargs := []string{"dgst", "-" + digestName(string(alg)), "-sign", "key.pem", "-out", "sig"}
					if strings.HasPrefix(string(alg), "RSASSA_PSS_") {
						sargs = append(sargs, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest")
					}
					openssl(t, dir, append(sargs, "msg")...)
					sig := readFile(t, filepath.Join(dir, "sig"))
					if err := k.Verify(alg, RAW, msg, sig); err != nil {
						t.Fatalf("%s round %d: Verify(OpenSSL signature): %v", alg, round, err)
					}
					h := hashOf(string(alg)).New()
					h.Write(msg)
					if err := k.Verify(alg, DIGEST, h.Sum(nil), sig); err != nil {
						t.Fatalf("%s: Verify(DIGEST, OpenSSL signature): %v", alg, err)
					}
					if err := k.Verify(alg, RAW, append(msg, '!'), sig); Exception(err) != ExceptionInvalidSignature {
						t.Fatalf("%s: Verify over another message = %v, want KMSInvalidSignatureException", alg, err)
					}
					if spec[:3] == "RSA" {
						break // PSS and PKCS #1 v1.5: one round is enough
					}
				}
			}
		})
	}
}

func TestPublicKeyWithOpenSSL(t *testing.T) {
	curveName := map[Spec]string{ECCNISTP256: "prime256v1", ECCNISTP384: "secp384r1", ECCNISTP521: "secp521r1", ECCSECGP256K1: "secp256k1"}
	for _, spec := range signingSpecs {
		t.Run(string(spec), func(t *testing.T) {
			k := testKey(t, spec)
			dir := t.TempDir()
			writeFile(t, dir, "key.der", k.Marshal())
			// OpenSSL reads the PKCS #8 material and derives the same SPKI.
			openssl(t, dir, "pkey", "-inform", "DER", "-in", "key.der", "-pubout", "-outform", "DER", "-out", "pub.der")
			pub, _ := k.PublicKey()
			if !bytes.Equal(pub, readFile(t, filepath.Join(dir, "pub.der"))) {
				t.Fatal("PublicKey differs from the SubjectPublicKeyInfo OpenSSL derives from Marshal's PKCS #8")
			}
			text := openssl(t, dir, "pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-text", "-noout")
			if c, ok := curveName[spec]; ok && !bytes.Contains(text, []byte("ASN1 OID: "+c)) {
				t.Fatalf("OpenSSL does not see curve %s:\n%s", c, text)
			}
			if info := specs[spec]; info.rsaBits > 0 && !bytes.Contains(text, []byte(fmt.Sprintf("(%d bit)", info.rsaBits))) {
				t.Fatalf("OpenSSL does not see a %d-bit key:\n%s", info.rsaBits, text)
			}
		})
	}
}

func TestRSAEncryptionWithOpenSSL(t *testing.T) {
	for _, spec := range []Spec{RSA2048, RSA3072, RSA4096} {
		k := testKey(t, spec)
		dir := t.TempDir()
		pub, _ := k.PublicKey()
		writeFile(t, dir, "pub.der", pub)
		writeFile(t, dir, "key.der", k.Marshal())
		for _, alg := range spec.EncryptionAlgorithms() {
			t.Run(string(spec)+"/"+string(alg), func(t *testing.T) {
				md := digestName(string(alg))
				oaep := []string{"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:" + md, "-pkeyopt", "rsa_mgf1_md:" + md}
				max := MaxPlaintext(spec, alg)
				for _, n := range []int{1, 32, max} {
					pt := bytes.Repeat([]byte{byte(n)}, n)
					writeFile(t, dir, "pt", pt)
					// OpenSSL encrypts, Decrypt decrypts.
					openssl(t, dir, append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.der", "-keyform", "DER", "-in", "pt", "-out", "ct"}, oaep...)...)
					got, err := k.Decrypt(alg, readFile(t, filepath.Join(dir, "ct")))
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("Decrypt(OpenSSL ciphertext of %d bytes) = %x, %v", n, got, err)
					}
					// Encrypt encrypts, OpenSSL decrypts.
					ct, err := k.Encrypt(alg, pt)
					if err != nil {
						t.Fatalf("Encrypt(%d bytes): %v", n, err)
					}
					writeFile(t, dir, "ct2", ct)
					out := openssl(t, dir, append([]string{"pkeyutl", "-decrypt", "-inkey", "key.der", "-keyform", "DER", "-in", "ct2"}, oaep...)...)
					if !bytes.Equal(out, pt) {
						t.Fatalf("OpenSSL decrypted Encrypt's ciphertext to %x, want %x", out, pt)
					}
				}
				// One byte past AWS's limit is refused, and OpenSSL agrees
				// that it does not fit.
				pt := make([]byte, max+1)
				writeFile(t, dir, "big", pt)
				if !opensslFails(t, dir, append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.der", "-keyform", "DER", "-in", "big", "-out", "ct3"}, oaep...)...) {
					t.Fatalf("OpenSSL encrypted %d bytes: MaxPlaintext is too small", max+1)
				}
				_, err := k.Encrypt(alg, pt)
				wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
			})
		}
	}
}

func TestDeriveSharedSecretWithOpenSSL(t *testing.T) {
	curve := map[Spec]string{ECCNISTP256: "P-256", ECCNISTP384: "P-384", ECCNISTP521: "P-521"}
	size := map[Spec]int{ECCNISTP256: 32, ECCNISTP384: 48, ECCNISTP521: 66}
	for _, spec := range []Spec{ECCNISTP256, ECCNISTP384, ECCNISTP521} {
		t.Run(string(spec), func(t *testing.T) {
			k := testKey(t, spec)
			dir := t.TempDir()
			pub, _ := k.PublicKey()
			writeFile(t, dir, "kms.der", pub)
			openssl(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:"+curve[spec], "-out", "peer.pem")
			openssl(t, dir, "pkey", "-in", "peer.pem", "-pubout", "-outform", "DER", "-out", "peer.der")
			want := openssl(t, dir, "pkeyutl", "-derive", "-inkey", "peer.pem", "-peerkey", "kms.der", "-peerform", "DER")
			got, err := k.DeriveSharedSecret(ECDH, readFile(t, filepath.Join(dir, "peer.der")))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) || len(got) != size[spec] {
				t.Fatalf("DeriveSharedSecret = %x (%d bytes), openssl pkeyutl -derive = %x", got, len(got), want)
			}
		})
	}
}

func TestMacWithOpenSSL(t *testing.T) {
	for _, spec := range []Spec{HMAC224, HMAC256, HMAC384, HMAC512} {
		t.Run(string(spec), func(t *testing.T) {
			k := testKey(t, spec)
			if len(k.Marshal()) != specs[spec].hmacSize {
				t.Fatalf("generated %d-byte key, AWS generates %d", len(k.Marshal()), specs[spec].hmacSize)
			}
			alg := spec.MacAlgorithms()[0]
			dir := t.TempDir()
			msg := sha256.Sum256([]byte(spec))
			writeFile(t, dir, "msg", msg[:])
			out := openssl(t, dir, "mac", "-digest", strings.ToUpper(digestName(string(alg))), "-macopt", "hexkey:"+hex.EncodeToString(k.Marshal()), "-in", "msg", "HMAC")
			want, err := hex.DecodeString(strings.TrimSpace(string(out)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.GenerateMac(alg, msg[:])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("GenerateMac = %x, openssl mac = %x", got, want)
			}
			if err := k.VerifyMac(alg, msg[:], want); err != nil {
				t.Fatalf("VerifyMac(openssl mac): %v", err)
			}
		})
	}
}
