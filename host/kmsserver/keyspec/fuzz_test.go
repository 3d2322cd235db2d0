// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"
)

// Every decoder of caller-supplied bytes has a fuzz target: peer public
// keys, signatures, MACs, RSA and ML-KEM ciphertexts, and stored material.
// Each asserts no panic, an error of the documented class, and a round trip
// where one applies.

// pick returns list[i mod len(list)].
func pick[T any](list []T, i byte) T { return list[int(i)%len(list)] }

func FuzzParsePeerPublicKey(f *testing.F) {
	curveSpecs := []Spec{ECCNISTP256, ECCNISTP384, ECCNISTP521}
	for i, spec := range append(curveSpecs, ECCSECGP256K1, RSA2048, MLKEM768) {
		pub, _ := testKey(f, spec).PublicKey()
		f.Add(byte(i), pub)
		f.Add(byte(i), pub[:len(pub)/2])
	}
	f.Fuzz(func(t *testing.T, which byte, der []byte) {
		spec := pick(curveSpecs, which)
		pub, err := ParsePeerPublicKey(spec, der)
		if err != nil {
			var v *ValidationError
			if !errors.As(err, &v) || Exception(err) != ExceptionValidation {
				t.Fatalf("error %v is not a ValidationException", err)
			}
			return
		}
		// Accepted keys are exactly the canonical SPKI of a point on the curve.
		back, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, der) {
			t.Fatalf("accepted a non-canonical encoding:\n%x\n%x", der, back)
		}
		if _, err := testKey(t, spec).DeriveSharedSecret(ECDH, der); err != nil {
			t.Fatalf("DeriveSharedSecret refuses a key ParsePeerPublicKey accepts: %v", err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	specsF := []Spec{ECCNISTP256, ECCSECGP256K1, RSA2048, ECCNISTP521, ECCNISTEdwards25519, MLDSA44, MLDSA87}
	algs := []SigningAlgorithm{ECDSA_SHA_256, ECDSA_SHA_512, RSASSA_PSS_SHA_256, RSASSA_PKCS1_V1_5_SHA_384, "BOGUS", ED25519_SHA_512, ED25519_PH_SHA_512, ML_DSA_SHAKE_256}
	mts := []MessageType{RAW, DIGEST, "", EXTERNAL_MU}
	msg := []byte("fuzz")
	for i, spec := range specsF {
		k := testKey(f, spec)
		for j, alg := range algs {
			if sig, err := k.Sign(alg, RAW, msg); err == nil {
				f.Add(byte(i), byte(j), byte(0), msg, sig)
			}
		}
	}
	f.Fuzz(func(t *testing.T, which, a, m byte, msg, sig []byte) {
		k := testKey(t, pick(specsF, which))
		err := k.Verify(pick(algs, a), pick(mts, m), msg, sig)
		switch Exception(err) {
		case "", ExceptionInvalidSignature, ExceptionValidation, ExceptionInvalidKeyUsage:
		case ExceptionUnsupportedOperation: // EXTERNAL_MU on an ML-DSA key only
			if !isMLDSA(k.Spec()) || pick(mts, m) != EXTERNAL_MU {
				t.Fatalf("unexpected UnsupportedOperation: %v", err)
			}
		default:
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	all := Specs()
	for i, spec := range all {
		if spec == RSA3072 || spec == RSA4096 {
			continue // slow to parse; RSA_2048 covers the code
		}
		der := testKey(f, spec).Marshal()
		f.Add(byte(i), der)
		f.Add(byte(i), der[:len(der)-1])
	}
	f.Fuzz(func(t *testing.T, which byte, der []byte) {
		spec := pick(all, which)
		k, err := ParsePrivateKey(spec, der)
		if err != nil {
			if Exception(err) != "" {
				t.Fatalf("material error %v carries a caller's exception", err)
			}
			return
		}
		k2, err := ParsePrivateKey(spec, k.Marshal())
		if err != nil {
			t.Fatalf("Marshal of a parsed key does not parse: %v", err)
		}
		if !bytes.Equal(k2.Marshal(), k.Marshal()) {
			t.Fatal("Marshal is not stable")
		}
	})
}

func FuzzDecrypt(f *testing.F) {
	k := testKey(f, RSA2048)
	for i, alg := range []EncryptionAlgorithm{RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256} {
		ct, _ := k.Encrypt(alg, []byte("seed"))
		f.Add(byte(i), ct)
	}
	algs := []EncryptionAlgorithm{RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SYMMETRIC_DEFAULT, "X"}
	f.Fuzz(func(t *testing.T, a byte, ct []byte) {
		_, err := testKey(t, RSA2048).Decrypt(pick(algs, a), ct)
		switch Exception(err) {
		case "", ExceptionInvalidCiphertext, ExceptionValidation, ExceptionInvalidKeyUsage:
		default:
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

func FuzzVerifyMac(f *testing.F) {
	k := testKey(f, HMAC256)
	mac, _ := k.GenerateMac(HMAC_SHA_256, []byte("seed"))
	f.Add([]byte("seed"), mac)
	f.Fuzz(func(t *testing.T, msg, mac []byte) {
		k := testKey(t, HMAC256)
		err := k.VerifyMac(HMAC_SHA_256, msg, mac)
		want, werr := k.GenerateMac(HMAC_SHA_256, msg)
		switch {
		case werr != nil:
			if Exception(err) != ExceptionValidation {
				t.Fatalf("VerifyMac = %v, GenerateMac = %v", err, werr)
			}
		case bytes.Equal(want, mac) != (err == nil):
			t.Fatalf("VerifyMac = %v for a MAC that equals GenerateMac's: %v", err, bytes.Equal(want, mac))
		}
	})
}

func FuzzDecapsulate(f *testing.F) {
	for i, spec := range []Spec{MLKEM768, MLKEM1024} {
		_, ct, _ := testKey(f, spec).Encapsulate(ML_KEM)
		f.Add(byte(i), ct)
	}
	f.Fuzz(func(t *testing.T, which byte, ct []byte) {
		k := testKey(t, pick([]Spec{MLKEM768, MLKEM1024}, which))
		secret, err := k.Decapsulate(ML_KEM, ct)
		if err != nil {
			if Exception(err) != ExceptionInvalidCiphertext {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if len(secret) != 32 {
			t.Fatalf("secret of %d bytes", len(secret))
		}
	})
}
