// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"bytes"
	"crypto/ecdh"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"slices"
	"testing"

	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// secp256k1N is the order of secp256k1's group (SEC 2, 2.4.1).
var secp256k1N, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)

func TestMarshalRoundTrip(t *testing.T) {
	for _, spec := range Specs() {
		t.Run(string(spec), func(t *testing.T) {
			k := testKey(t, spec)
			if k.Spec() != spec {
				t.Fatalf("Spec = %s", k.Spec())
			}
			k2, err := ParsePrivateKey(spec, k.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k2.Marshal(), k.Marshal()) {
				t.Fatal("Marshal(ParsePrivateKey(Marshal)) differs")
			}
			p1, err1 := k.PublicKey()
			p2, _ := k2.PublicKey()
			if !bytes.Equal(p1, p2) {
				t.Fatal("public key differs after the round trip")
			}
			if specs[spec].hmacSize > 0 {
				wantErr[*UnsupportedError](t, err1, ErrUnsupported, ExceptionUnsupportedOperation)
			} else if err1 != nil {
				t.Fatal(err1)
			}
		})
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	msg := []byte("round trip")
	for _, spec := range signingSpecs {
		if spec == ECCNISTEdwards25519 {
			continue // no DIGEST of RAW messages: TestEd25519
		}
		k := testKey(t, spec)
		for _, alg := range spec.SigningAlgorithms() {
			for _, mt := range []MessageType{"", RAW, DIGEST} {
				m := msg
				if mt == DIGEST {
					h := hashOf(string(alg)).New()
					h.Write(msg)
					m = h.Sum(nil)
				}
				sig, err := k.Sign(alg, mt, m)
				if err != nil {
					t.Fatalf("%s %s %s: %v", spec, alg, mt, err)
				}
				if err := k.Verify(alg, mt, m, sig); err != nil {
					t.Fatalf("%s %s %s: Verify: %v", spec, alg, mt, err)
				}
				// A RAW signature is the DIGEST signature of the hash.
				if mt == RAW {
					h := hashOf(string(alg)).New()
					h.Write(msg)
					if err := k.Verify(alg, DIGEST, h.Sum(nil), sig); err != nil {
						t.Fatalf("%s %s: RAW signature does not verify as DIGEST of the hash: %v", spec, alg, err)
					}
				}
			}
		}
	}
}

func TestSignRefusals(t *testing.T) {
	p256, p384, rsa2048, k1, hmac256 := testKey(t, ECCNISTP256), testKey(t, ECCNISTP384), testKey(t, RSA2048), testKey(t, ECCSECGP256K1), testKey(t, HMAC256)
	msg := []byte("m")
	cases := []struct {
		name string
		k    *Key
		alg  SigningAlgorithm
		mt   MessageType
		msg  []byte
		exc  string
	}{
		{"P-256 with ECDSA_SHA_384", p256, ECDSA_SHA_384, RAW, msg, ExceptionInvalidKeyUsage},
		{"P-384 with ECDSA_SHA_256", p384, ECDSA_SHA_256, RAW, msg, ExceptionInvalidKeyUsage},
		{"secp256k1 with ECDSA_SHA_512", k1, ECDSA_SHA_512, RAW, msg, ExceptionInvalidKeyUsage},
		{"ECC with PSS", p256, RSASSA_PSS_SHA_256, RAW, msg, ExceptionInvalidKeyUsage},
		{"RSA with ECDSA", rsa2048, ECDSA_SHA_256, RAW, msg, ExceptionInvalidKeyUsage},
		{"RSA with Ed25519", rsa2048, "ED25519_SHA_512", RAW, msg, ExceptionInvalidKeyUsage},
		{"RSA with SM2DSA", rsa2048, "SM2DSA", RAW, msg, ExceptionInvalidKeyUsage},
		{"HMAC key", hmac256, ECDSA_SHA_256, RAW, msg, ExceptionInvalidKeyUsage},
		{"unknown algorithm", p256, "ECDSA_SHA_1", RAW, msg, ExceptionValidation},
		{"lower-case algorithm", p256, "ecdsa_sha_256", RAW, msg, ExceptionValidation},
		{"no algorithm", p256, "", RAW, msg, ExceptionValidation},
		{"empty message", p256, ECDSA_SHA_256, RAW, nil, ExceptionValidation},
		{"4097-byte message", p256, ECDSA_SHA_256, RAW, make([]byte, 4097), ExceptionValidation},
		{"4097-byte DIGEST", p256, ECDSA_SHA_256, DIGEST, make([]byte, 4097), ExceptionValidation},
		{"31-byte SHA-256 digest", p256, ECDSA_SHA_256, DIGEST, make([]byte, 31), ExceptionValidation},
		{"33-byte SHA-256 digest", k1, ECDSA_SHA_256, DIGEST, make([]byte, 33), ExceptionValidation},
		{"SHA-256 digest for SHA-384", rsa2048, RSASSA_PSS_SHA_384, DIGEST, make([]byte, 32), ExceptionValidation},
		{"EXTERNAL_MU", p256, ECDSA_SHA_256, EXTERNAL_MU, make([]byte, 64), ExceptionValidation},
		{"lower-case message type", p256, ECDSA_SHA_256, "raw", msg, ExceptionValidation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.k.Sign(c.alg, c.mt, c.msg)
			if got := Exception(err); got != c.exc {
				t.Fatalf("Sign error = %v (%s), want %s", err, got, c.exc)
			}
			sig := []byte{0x30, 0x00}
			if err := c.k.Verify(c.alg, c.mt, c.msg, sig); Exception(err) != c.exc {
				t.Fatalf("Verify error = %v, want %s", err, c.exc)
			}
		})
	}
	// The typed errors carry the facts.
	_, err := p256.Sign(ECDSA_SHA_384, RAW, msg)
	e := wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage)
	if e.Spec != ECCNISTP256 || e.Algorithm != string(ECDSA_SHA_384) {
		t.Fatalf("KeyUsageError = %+v", e)
	}
	_, err = hmac256.Sign(ECDSA_SHA_256, RAW, msg)
	if e := wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage); e.Operation != OpSign || e.Usage != GenerateVerifyMac {
		t.Fatalf("KeyUsageError = %+v", e)
	}
	_, err = p256.Sign(ECDSA_SHA_256, DIGEST, make([]byte, 31))
	if v := wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation); v.Field != "message" {
		t.Fatalf("ValidationError = %+v", v)
	}
	// 4096 bytes is still fine.
	if _, err := p256.Sign(ECDSA_SHA_256, RAW, make([]byte, 4096)); err != nil {
		t.Fatalf("4096-byte message: %v", err)
	}
}

func TestVerifyRejections(t *testing.T) {
	msg := []byte("the message")
	for _, spec := range signingSpecs {
		if spec == ECCNISTEdwards25519 {
			continue // no DIGEST of RAW messages: TestEd25519
		}
		k := testKey(t, spec)
		for _, alg := range spec.SigningAlgorithms() {
			sig, err := k.Sign(alg, RAW, msg)
			if err != nil {
				t.Fatal(err)
			}
			h := hashOf(string(alg)).New()
			h.Write(msg)
			digest := h.Sum(nil)
			flipped := bytes.Clone(sig)
			flipped[len(flipped)-1] ^= 1
			rejections := map[string]func() error{
				"flipped bit":   func() error { return k.Verify(alg, RAW, msg, flipped) },
				"other message": func() error { return k.Verify(alg, RAW, []byte("other"), sig) },
				"RAW signature of the digest checked as RAW": func() error { return k.Verify(alg, RAW, digest, sig) },
				"trailing byte":        func() error { return k.Verify(alg, RAW, msg, append(bytes.Clone(sig), 0)) },
				"truncated":            func() error { return k.Verify(alg, RAW, msg, sig[:len(sig)-1]) },
				"digest of other data": func() error { return k.Verify(alg, DIGEST, make([]byte, len(digest)), sig) },
			}
			for name, f := range rejections {
				e := wantErr[*InvalidSignatureError](t, f(), ErrInvalidSignature, ExceptionInvalidSignature)
				if e.Algorithm != alg {
					t.Fatalf("%s %s %s: InvalidSignatureError = %+v", spec, alg, name, e)
				}
			}
			err = k.Verify(alg, RAW, msg, make([]byte, MaxSignature+1))
			wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
			err = k.Verify(alg, RAW, msg, nil)
			wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
		}
	}
	// PSS and PKCS #1 v1.5 signatures are not interchangeable, nor are the
	// hashes.
	k := testKey(t, RSA2048)
	sig, _ := k.Sign(RSASSA_PSS_SHA_256, RAW, msg)
	wantErr[*InvalidSignatureError](t, k.Verify(RSASSA_PKCS1_V1_5_SHA_256, RAW, msg, sig), ErrInvalidSignature, ExceptionInvalidSignature)
	wantErr[*InvalidSignatureError](t, k.Verify(RSASSA_PSS_SHA_384, RAW, msg, sig), ErrInvalidSignature, ExceptionInvalidSignature)
	// Another key's signature does not verify.
	other, err := Generate(ECCNISTP256)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ = other.Sign(ECDSA_SHA_256, RAW, msg)
	wantErr[*InvalidSignatureError](t, testKey(t, ECCNISTP256).Verify(ECDSA_SHA_256, RAW, msg, sig), ErrInvalidSignature, ExceptionInvalidSignature)
}

// TestPSSSaltLength checks that Sign's PSS salt is as long as the hash (AWS's
// choice), by verifying with the salt length fixed, and that Verify refuses
// a PSS signature with another salt length.
func TestPSSSaltLength(t *testing.T) {
	k := testKey(t, RSA2048)
	msg := []byte("salt")
	for _, alg := range []SigningAlgorithm{RSASSA_PSS_SHA_256, RSASSA_PSS_SHA_384, RSASSA_PSS_SHA_512} {
		h := hashOf(string(alg))
		d := h.New()
		d.Write(msg)
		digest := d.Sum(nil)
		sig, err := k.Sign(alg, DIGEST, digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPSS(&k.rsa.PublicKey, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size()}); err != nil {
			t.Fatalf("%s: salt is not %d bytes: %v", alg, h.Size(), err)
		}
		other, err := rsa.SignPSS(rand.Reader, k.rsa, h, digest, &rsa.PSSOptions{SaltLength: 20})
		if err != nil {
			t.Fatal(err)
		}
		wantErr[*InvalidSignatureError](t, k.Verify(alg, DIGEST, digest, other), ErrInvalidSignature, ExceptionInvalidSignature)
	}
}

// derSig encodes an ECDSA signature (r, s) as DER, whatever s is.
func derSig(t *testing.T, r, s *big.Int) []byte {
	t.Helper()
	b, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSecp256k1HighS checks that Verify accepts the high-S twin of a valid
// secp256k1 signature (AWS returns and accepts either; OpenSSL makes both)
// and refuses s = 0, s = N and non-minimal DER.
func TestSecp256k1HighS(t *testing.T) {
	k := testKey(t, ECCSECGP256K1)
	msg := []byte("high s")
	sig, err := k.Sign(ECDSA_SHA_256, RAW, msg)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &parsed); err != nil {
		t.Fatal(err)
	}
	n := secp256k1N
	if parsed.S.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		t.Fatal("Sign produced a high-S signature")
	}
	high := derSig(t, parsed.R, new(big.Int).Sub(n, parsed.S))
	if err := k.Verify(ECDSA_SHA_256, RAW, msg, high); err != nil {
		t.Fatalf("high-S twin: %v", err)
	}
	for name, bad := range map[string][]byte{
		"s = 0":           derSig(t, parsed.R, big.NewInt(0)),
		"s = N":           derSig(t, parsed.R, n),
		"s = N + s":       derSig(t, parsed.R, new(big.Int).Add(n, parsed.S)),
		"r = 0":           derSig(t, big.NewInt(0), parsed.S),
		"BER long length": append([]byte{0x30, 0x81, sig[1]}, sig[2:]...),
	} {
		if err := k.Verify(ECDSA_SHA_256, RAW, msg, bad); Exception(err) != ExceptionInvalidSignature {
			t.Errorf("%s: Verify = %v, want KMSInvalidSignatureException", name, err)
		}
	}
	// The secp256k1 library agrees with Sign on the signature.
	ps, err := secpecdsa.ParseDERSignature(sig)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(msg)
	if !ps.Verify(d[:], k.k1pub) {
		t.Fatal("secp256k1 library refuses Sign's signature")
	}
}

func TestRSAEncryptionRefusals(t *testing.T) {
	k := testKey(t, RSA2048)
	if got := MaxPlaintext(RSA2048, RSAES_OAEP_SHA_1); got != 214 {
		t.Errorf("MaxPlaintext(RSA_2048, SHA_1) = %d, AWS documents 214", got)
	}
	for spec, want := range map[Spec][2]int{RSA2048: {214, 190}, RSA3072: {342, 318}, RSA4096: {470, 446}} {
		if a, b := MaxPlaintext(spec, RSAES_OAEP_SHA_1), MaxPlaintext(spec, RSAES_OAEP_SHA_256); a != want[0] || b != want[1] {
			t.Errorf("MaxPlaintext(%s) = %d, %d; AWS documents %d, %d", spec, a, b, want[0], want[1])
		}
	}
	if MaxPlaintext(ECCNISTP256, RSAES_OAEP_SHA_1) != 0 || MaxPlaintext(RSA2048, SYMMETRIC_DEFAULT) != 0 {
		t.Error("MaxPlaintext of a non-RSA pair is not 0")
	}
	_, err := k.Encrypt(RSAES_OAEP_SHA_256, make([]byte, 191))
	wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
	_, err = k.Encrypt(RSAES_OAEP_SHA_1, make([]byte, 215))
	wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
	_, err = k.Encrypt(RSAES_OAEP_SHA_1, nil)
	wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
	_, err = k.Encrypt(SYMMETRIC_DEFAULT, []byte("x"))
	wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage)
	_, err = k.Encrypt("SM2PKE", []byte("x"))
	wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage)
	_, err = k.Encrypt("RSAES_PKCS1_V1_5", []byte("x"))
	wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
	_, err = testKey(t, ECCNISTP256).Encrypt(RSAES_OAEP_SHA_256, []byte("x"))
	if e := wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage); e.Operation != OpEncrypt {
		t.Fatalf("KeyUsageError = %+v", e)
	}
	// Decrypt failures say nothing but "invalid ciphertext".
	ct, err := k.Encrypt(RSAES_OAEP_SHA_256, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(ct)
	flipped[10] ^= 1
	for name, f := range map[string]func() ([]byte, error){
		"wrong hash":    func() ([]byte, error) { return k.Decrypt(RSAES_OAEP_SHA_1, ct) },
		"flipped":       func() ([]byte, error) { return k.Decrypt(RSAES_OAEP_SHA_256, flipped) },
		"short":         func() ([]byte, error) { return k.Decrypt(RSAES_OAEP_SHA_256, ct[1:]) },
		"other key":     func() ([]byte, error) { return testKey(t, RSA3072).Decrypt(RSAES_OAEP_SHA_256, ct) },
		"all ones":      func() ([]byte, error) { return k.Decrypt(RSAES_OAEP_SHA_256, bytes.Repeat([]byte{0xff}, 256)) },
		"modulus-sized": func() ([]byte, error) { return k.Decrypt(RSAES_OAEP_SHA_256, k.rsa.N.Bytes()) },
	} {
		pt, err := f()
		if pt != nil {
			t.Fatalf("%s: plaintext returned", name)
		}
		wantErr[*InvalidCiphertextError](t, err, ErrInvalidCipher, ExceptionInvalidCiphertext)
	}
	_, err = k.Decrypt(RSAES_OAEP_SHA_256, make([]byte, MaxCiphertext+1))
	wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
}

func TestMacRefusals(t *testing.T) {
	k := testKey(t, HMAC256)
	msg := []byte("mac me")
	mac, err := k.GenerateMac(HMAC_SHA_256, msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.VerifyMac(HMAC_SHA_256, msg, mac); err != nil {
		t.Fatal(err)
	}
	_, err = k.GenerateMac(HMAC_SHA_384, msg)
	if e := wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage); e.Algorithm != string(HMAC_SHA_384) {
		t.Fatalf("KeyUsageError = %+v", e)
	}
	_, err = k.GenerateMac("HMAC_SHA_1", msg)
	wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
	_, err = k.GenerateMac(HMAC_SHA_256, make([]byte, 4097))
	wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
	_, err = k.GenerateMac(HMAC_SHA_256, nil)
	wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
	_, err = testKey(t, RSA2048).GenerateMac(HMAC_SHA_256, msg)
	wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage)
	flipped := bytes.Clone(mac)
	flipped[0] ^= 0x80
	for name, m := range map[string][]byte{"flipped": flipped, "truncated": mac[:31], "extended": append(bytes.Clone(mac), 0), "other key": must(testKey(t, HMAC512).GenerateMac(HMAC_SHA_512, msg))[:32]} {
		e := wantErr[*InvalidMacError](t, k.VerifyMac(HMAC_SHA_256, msg, m), ErrInvalidMac, ExceptionInvalidMac)
		if e.Algorithm != HMAC_SHA_256 {
			t.Fatalf("%s: InvalidMacError = %+v", name, e)
		}
	}
	wantErr[*ValidationError](t, k.VerifyMac(HMAC_SHA_256, msg, make([]byte, MaxSignature+1)), ErrValidation, ExceptionValidation)
	wantErr[*ValidationError](t, k.VerifyMac(HMAC_SHA_256, msg, nil), ErrValidation, ExceptionValidation)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestDeriveSharedSecretRefusals(t *testing.T) {
	k := testKey(t, ECCNISTP256)
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peerDER, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	// The good case agrees with crypto/ecdh run from the peer's side.
	got, err := k.DeriveSharedSecret(ECDH, peerDER)
	if err != nil {
		t.Fatal(err)
	}
	kpub, err := k.ec.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := peer.ECDH(kpub); !bytes.Equal(got, want) {
		t.Fatal("shared secrets differ")
	}

	p384pub, _ := testKey(t, ECCNISTP384).PublicKey()
	k1pub, _ := testKey(t, ECCSECGP256K1).PublicKey()
	rsapub, _ := testKey(t, RSA2048).PublicKey()
	// A point off the curve: y + 1, inside an otherwise valid SPKI.
	point, err := k.ec.PublicKey.Bytes() // 04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	off := bytes.Clone(point)
	off[len(off)-1] ^= 1 // y ± 1: off the curve
	offCurve := marshalSPKI(oidECPublicKey, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, off)
	infinity := marshalSPKI(oidECPublicKey, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, []byte{0})
	compressed := marshalSPKI(oidECPublicKey, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, append([]byte{2 + point[64]&1}, point[1:33]...))
	bad := map[string][]byte{
		"other curve":     p384pub,
		"secp256k1":       k1pub,
		"RSA":             rsapub,
		"off the curve":   offCurve,
		"infinity":        infinity,
		"compressed":      compressed,
		"PEM":             pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: peerDER}),
		"trailing byte":   append(bytes.Clone(peerDER), 0),
		"truncated":       peerDER[:len(peerDER)-1],
		"bare point":      peer.PublicKey().Bytes(),
		"empty":           nil,
		"over 8192 bytes": make([]byte, MaxPublicKey+1),
	}
	for name, der := range bad {
		_, err := k.DeriveSharedSecret(ECDH, der)
		if v := wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation); v.Field != "publicKey" {
			t.Errorf("%s: ValidationError = %+v", name, v)
		}
	}
	_, err = k.DeriveSharedSecret("ECDHE", peerDER)
	wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
	_, err = k.DeriveSharedSecret("", peerDER)
	wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
	for _, spec := range []Spec{ECCSECGP256K1, RSA2048, HMAC256, MLKEM768} {
		_, err = testKey(t, spec).DeriveSharedSecret(ECDH, peerDER)
		if e := wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage); e.Operation != OpDeriveSharedSecret {
			t.Fatalf("%s: KeyUsageError = %+v", spec, e)
		}
	}
}

func TestMLKEM(t *testing.T) {
	for _, spec := range []Spec{MLKEM768, MLKEM1024} {
		t.Run(string(spec), func(t *testing.T) {
			k := testKey(t, spec)
			secret, ct, err := k.Encapsulate(ML_KEM)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[Spec]int{MLKEM768: 1088, MLKEM1024: 1568}[spec]; len(ct) != want || len(secret) != 32 {
				t.Fatalf("ciphertext %d bytes (AWS: %d), secret %d bytes", len(ct), want, len(secret))
			}
			got, err := k.Decapsulate(ML_KEM, ct)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("Decapsulate = %x, %v", got, err)
			}
			// The public key is the encapsulation key, and an outside
			// encapsulation decapsulates.
			spki, _ := k.PublicKey()
			oid := map[Spec]asn1.ObjectIdentifier{MLKEM768: oidMLKEM768, MLKEM1024: oidMLKEM1024}[spec]
			ek, err := parseSPKI(spki, oid, nil)
			if err != nil {
				t.Fatal(err)
			}
			var s2, ct2 []byte
			if spec == MLKEM768 {
				e, err := mlkem.NewEncapsulationKey768(ek)
				if err != nil {
					t.Fatal(err)
				}
				s2, ct2 = e.Encapsulate()
			} else {
				e, err := mlkem.NewEncapsulationKey1024(ek)
				if err != nil {
					t.Fatal(err)
				}
				s2, ct2 = e.Encapsulate()
			}
			if got, _ := k.Decapsulate(ML_KEM, ct2); !bytes.Equal(got, s2) {
				t.Fatal("Decapsulate of an outside encapsulation differs")
			}
			// Implicit rejection: a changed ciphertext gives another secret.
			ct2[0] ^= 1
			if got, err := k.Decapsulate(ML_KEM, ct2); err != nil || bytes.Equal(got, s2) {
				t.Fatalf("changed ciphertext: %x, %v", got, err)
			}
			_, err = k.Decapsulate(ML_KEM, ct[1:])
			wantErr[*InvalidCiphertextError](t, err, ErrInvalidCipher, ExceptionInvalidCiphertext)
			_, _, err = k.Encapsulate("ML_KEM_768")
			wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
		})
	}
	_, _, err := testKey(t, RSA2048).Encapsulate(ML_KEM)
	wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage)
	_, err = Generate(MLKEM512)
	if e := wantErr[*UnsupportedError](t, err, ErrUnsupported, ExceptionUnsupportedOperation); e.Reason == "" {
		t.Fatal("no reason for refusing ML_KEM_512")
	}
}

func TestCheckKeyUsage(t *testing.T) {
	ok := map[Spec][]Usage{
		"":                  {"", EncryptDecrypt},
		SymmetricDefault:    {EncryptDecrypt},
		RSA2048:             {EncryptDecrypt, SignVerify},
		RSA4096:             {EncryptDecrypt, SignVerify},
		ECCNISTP256:         {SignVerify, KeyAgreement},
		ECCNISTP521:         {SignVerify, KeyAgreement},
		ECCSECGP256K1:       {SignVerify},
		ECCNISTEdwards25519: {SignVerify},
		HMAC224:             {GenerateVerifyMac},
		HMAC512:             {GenerateVerifyMac},
		MLKEM768:            {EncapsulateDecapsulate},
	}
	all := []Usage{EncryptDecrypt, SignVerify, GenerateVerifyMac, KeyAgreement, EncapsulateDecapsulate}
	for spec, usages := range ok {
		for _, u := range all {
			err := CheckKeyUsage(spec, u)
			want := slices.Contains(usages, u) || (spec == "" && u == EncryptDecrypt)
			if want && err != nil {
				t.Errorf("CheckKeyUsage(%q, %s) = %v", spec, u, err)
			}
			if !want {
				if v := wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation); v.Field != "keyUsage" {
					t.Errorf("CheckKeyUsage(%q, %s): %+v", spec, u, v)
				}
			}
		}
	}
	if err := CheckKeyUsage("", ""); err != nil {
		t.Errorf("default spec and usage: %v", err)
	}
	wantErr[*ValidationError](t, CheckKeyUsage(RSA2048, "SIGN"), ErrValidation, ExceptionValidation)
	wantErr[*ValidationError](t, CheckKeyUsage("RSA_1024", SignVerify), ErrValidation, ExceptionValidation)
	for _, spec := range []Spec{MLKEM512, SM2} {
		usage := Usage(SignVerify)
		if spec == MLKEM512 {
			usage = EncapsulateDecapsulate
		}
		e := wantErr[*UnsupportedError](t, CheckKeyUsage(spec, usage), ErrUnsupported, ExceptionUnsupportedOperation)
		if r, ok := Unsupported(spec); !ok || r != e.Reason {
			t.Errorf("%s: Unsupported = %q, %v", spec, r, ok)
		}
	}
}

func TestCheckOperation(t *testing.T) {
	allowed := map[Usage][]Operation{
		SignVerify:             {OpSign, OpVerify},
		EncryptDecrypt:         {OpEncrypt, OpDecrypt},
		GenerateVerifyMac:      {OpGenerateMac, OpVerifyMac},
		KeyAgreement:           {OpDeriveSharedSecret},
		EncapsulateDecapsulate: {OpEncapsulate, OpDecapsulate},
	}
	ops := []Operation{OpSign, OpVerify, OpEncrypt, OpDecrypt, OpGenerateMac, OpVerifyMac, OpDeriveSharedSecret, OpEncapsulate, OpDecapsulate}
	for usage, okOps := range allowed {
		for _, op := range ops {
			spec := map[Usage]Spec{SignVerify: ECCNISTP256, EncryptDecrypt: RSA2048, GenerateVerifyMac: HMAC256, KeyAgreement: ECCNISTP384, EncapsulateDecapsulate: MLKEM768}[usage]
			err := CheckOperation(spec, usage, op)
			if slices.Contains(okOps, op) {
				if err != nil {
					t.Errorf("%s %s %s: %v", spec, usage, op, err)
				}
				continue
			}
			e := wantErr[*KeyUsageError](t, err, ErrInvalidKeyUsage, ExceptionInvalidKeyUsage)
			if e.Operation != op || e.Usage != usage {
				t.Errorf("KeyUsageError = %+v", e)
			}
		}
	}
	if err := CheckOperation(SymmetricDefault, EncryptDecrypt, OpEncrypt); err != nil {
		t.Error(err)
	}
	wantErr[*KeyUsageError](t, CheckOperation(SymmetricDefault, EncryptDecrypt, OpSign), ErrInvalidKeyUsage, ExceptionInvalidKeyUsage)
	for _, spec := range []Spec{SymmetricDefault, HMAC256} {
		wantErr[*UnsupportedError](t, CheckOperation(spec, "", OpGetPublicKey), ErrUnsupported, ExceptionUnsupportedOperation)
	}
	for _, spec := range []Spec{RSA2048, ECCSECGP256K1, MLKEM1024} {
		if err := CheckOperation(spec, "", OpGetPublicKey); err != nil {
			t.Errorf("GetPublicKey on %s: %v", spec, err)
		}
	}
}

func TestSpecTables(t *testing.T) {
	if got := RSA2048.SigningAlgorithms(); len(got) != 6 {
		t.Errorf("RSA_2048 signing algorithms = %v", got)
	}
	for spec, alg := range map[Spec]SigningAlgorithm{ECCNISTP256: ECDSA_SHA_256, ECCNISTP384: ECDSA_SHA_384, ECCNISTP521: ECDSA_SHA_512, ECCSECGP256K1: ECDSA_SHA_256} {
		if got := spec.SigningAlgorithms(); !slices.Equal(got, []SigningAlgorithm{alg}) {
			t.Errorf("%s signing algorithms = %v, AWS: [%s]", spec, got, alg)
		}
	}
	if got := ECCSECGP256K1.KeyAgreementAlgorithms(); got != nil {
		t.Errorf("secp256k1 key agreement = %v, AWS has none", got)
	}
	if got := RSA2048.EncryptionAlgorithms(); !slices.Equal(got, []EncryptionAlgorithm{RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256}) {
		t.Errorf("RSA encryption algorithms = %v", got)
	}
	if got := HMAC384.MacAlgorithms(); !slices.Equal(got, []MacAlgorithm{HMAC_SHA_384}) {
		t.Errorf("HMAC_384 MAC algorithms = %v", got)
	}
	if got := MLKEM1024.EncapsulationAlgorithms(); !slices.Equal(got, []EncapsulationAlgorithm{ML_KEM}) {
		t.Errorf("ML_KEM_1024 = %v", got)
	}
	if Spec("X").Usages() != nil {
		t.Error("unknown spec has usages")
	}
	// The slices are copies.
	a := RSA2048.SigningAlgorithms()
	a[0] = "X"
	if RSA2048.SigningAlgorithms()[0] == "X" {
		t.Error("SigningAlgorithms returns the table itself")
	}
}

func TestParsePrivateKeyRefusals(t *testing.T) {
	r3072 := testKey(t, RSA3072).Marshal()
	p256 := testKey(t, ECCNISTP256).Marshal()
	k1 := testKey(t, ECCSECGP256K1).Marshal()
	other, err := Generate(ECCSECGP256K1)
	if err != nil {
		t.Fatal(err)
	}
	// secp256k1 PKCS #8 whose embedded public key is another key's.
	mismatched := bytes.Clone(k1)
	pubAt := bytes.Index(mismatched, testKey(t, ECCSECGP256K1).k1pub.SerializeUncompressed())
	if pubAt < 0 {
		t.Fatal("public key not found in secp256k1 PKCS #8")
	}
	copy(mismatched[pubAt:], other.k1pub.SerializeUncompressed())
	zero := bytes.Clone(k1)
	scalar := testKey(t, ECCSECGP256K1).k1.Key.Bytes()
	at := bytes.Index(zero, scalar[:])
	copy(zero[at:at+32], make([]byte, 32))
	order := bytes.Clone(k1)
	copy(order[at:at+32], secp256k1N.FillBytes(make([]byte, 32)))
	cases := []struct {
		name string
		spec Spec
		der  []byte
	}{
		{"RSA_3072 material as RSA_2048", RSA2048, r3072},
		{"P-256 material as P-384", ECCNISTP384, p256},
		{"P-256 material as secp256k1", ECCSECGP256K1, p256},
		{"secp256k1 material as P-256", ECCNISTP256, k1},
		{"RSA material as P-256", ECCNISTP256, r3072},
		{"secp256k1 with another public key", ECCSECGP256K1, mismatched},
		{"secp256k1 scalar 0", ECCSECGP256K1, zero},
		{"secp256k1 scalar N", ECCSECGP256K1, order},
		{"secp256k1 trailing byte", ECCSECGP256K1, append(bytes.Clone(k1), 0)},
		{"HMAC_256 of 31 bytes", HMAC256, make([]byte, 31)},
		{"HMAC_256 of 65 bytes", HMAC256, make([]byte, 65)},
		{"ML-KEM-768 seed as 1024", MLKEM1024, testKey(t, MLKEM768).Marshal()},
		{"ML-KEM short seed", MLKEM768, marshalPKCS8(oidMLKEM768, nil, []byte{0x80, 0x20, 1, 2})},
		{"empty", RSA2048, nil},
	}
	for _, c := range cases {
		if _, err := ParsePrivateKey(c.spec, c.der); err == nil {
			t.Errorf("%s: parsed", c.name)
		} else if Exception(err) != "" {
			t.Errorf("%s: %v is a caller's exception (%s), want a plain error", c.name, err, Exception(err))
		}
	}
	// Imported HMAC keys may be longer than generated ones, up to the block size.
	if _, err := ParsePrivateKey(HMAC256, make([]byte, 64)); err != nil {
		t.Errorf("64-byte HMAC_256 import: %v", err)
	}
	if _, err := ParsePrivateKey(HMAC512, make([]byte, 128)); err != nil {
		t.Errorf("128-byte HMAC_512 import: %v", err)
	}
	_, err = ParsePrivateKey("NOPE", nil)
	wantErr[*ValidationError](t, err, ErrValidation, ExceptionValidation)
	_, err = ParsePrivateKey(SymmetricDefault, make([]byte, 32))
	wantErr[*UnsupportedError](t, err, ErrUnsupported, ExceptionUnsupportedOperation)
	_, err = Generate(SymmetricDefault)
	wantErr[*UnsupportedError](t, err, ErrUnsupported, ExceptionUnsupportedOperation)
	_, err = Generate(SM2)
	wantErr[*UnsupportedError](t, err, ErrUnsupported, ExceptionUnsupportedOperation)
	if Exception(nil) != "" || Exception(rsa.ErrDecryption) != "" {
		t.Error("Exception of a foreign error is not empty")
	}
}
