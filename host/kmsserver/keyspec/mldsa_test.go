// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"bytes"
	"encoding/asn1"
	"os"
	"path/filepath"
	"testing"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// circlSchemes is cloudflare/circl's ML-DSA, the independent
// implementation the ML-DSA keys are checked against.
var circlSchemes = map[Spec]sign.Scheme{MLDSA44: mldsa44.Scheme(), MLDSA65: mldsa65.Scheme(), MLDSA87: mldsa87.Scheme()}

var mldsaOIDs = map[Spec]asn1.ObjectIdentifier{
	MLDSA44: {2, 16, 840, 1, 101, 3, 4, 3, 17},
	MLDSA65: {2, 16, 840, 1, 101, 3, 4, 3, 18},
	MLDSA87: {2, 16, 840, 1, 101, 3, 4, 3, 19},
}

// circlPublic parses k's SubjectPublicKeyInfo (id-ml-dsa-*, no parameters)
// and returns the raw key and circl's public key from it.
func circlPublic(t *testing.T, k *Key) ([]byte, sign.PublicKey) {
	t.Helper()
	spki, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := parseSPKI(spki, mldsaOIDs[k.spec], nil)
	if err != nil {
		t.Fatalf("%s SubjectPublicKeyInfo: %v", k.spec, err)
	}
	if !mldsaOIDs[k.spec].Equal(circlSchemes[k.spec].(interface{ Oid() asn1.ObjectIdentifier }).Oid()) {
		t.Fatalf("%s: OID differs from circl's", k.spec)
	}
	pk, err := circlSchemes[k.spec].UnmarshalBinaryPublicKey(raw)
	if err != nil {
		t.Fatalf("circl refuses the %s public key: %v", k.spec, err)
	}
	return raw, pk
}

// TestMLDSAWithCircl: for each ML-DSA spec, the key's seed gives the same
// public key in circl; RAW and EXTERNAL_MU signatures verify with circl
// for the message (μ is the message's); circl's signatures verify here;
// signing is hedged (two signatures of one message differ).
func TestMLDSAWithCircl(t *testing.T) {
	msg := []byte("post-quantum message")
	for spec, sch := range circlSchemes {
		t.Run(string(spec), func(t *testing.T) {
			k := testKey(t, spec)
			raw, pk := circlPublic(t, k)
			seed := k.mldsa.Bytes()
			cpk, csk := sch.DeriveKey(seed)
			if !cpk.Equal(pk) {
				t.Fatal("circl derives another public key from the seed")
			}
			if got := spec.SigningAlgorithms(); len(got) != 1 || got[0] != ML_DSA_SHAKE_256 {
				t.Fatalf("SigningAlgorithms = %v", got)
			}
			s1, err := k.Sign(ML_DSA_SHAKE_256, RAW, msg)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := k.Sign(ML_DSA_SHAKE_256, "", msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(s1) != sch.SignatureSize() || bytes.Equal(s1, s2) {
				t.Fatalf("signature of %d bytes (want %d); hedged signatures equal: %v", len(s1), sch.SignatureSize(), bytes.Equal(s1, s2))
			}
			mu := MLDSAMu(raw, msg)
			s3, err := k.Sign(ML_DSA_SHAKE_256, EXTERNAL_MU, mu)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range [][]byte{s1, s2, s3} {
				if !sch.Verify(pk, msg, s, nil) {
					t.Fatalf("signature %d does not verify with circl", i)
				}
				if err := k.Verify(ML_DSA_SHAKE_256, RAW, msg, s); err != nil {
					t.Fatalf("signature %d: Verify: %v", i, err)
				}
			}
			local := sch.Sign(csk, msg, nil)
			if err := k.Verify(ML_DSA_SHAKE_256, RAW, msg, local); err != nil {
				t.Fatalf("circl's signature does not verify: %v", err)
			}
			// A signature with a context is another message.
			withCtx := sch.Sign(csk, msg, &sign.SignatureOpts{Context: "ctx"})
			wantErr[*InvalidSignatureError](t, k.Verify(ML_DSA_SHAKE_256, RAW, msg, withCtx), ErrInvalidSignature, ExceptionInvalidSignature)
		})
	}
}

// TestMLDSAMuWithOpenSSL: MLDSAMu is μ as AWS's documentation computes it
// with OpenSSL from GetPublicKey's DER (asn1parse -strparse 17, then
// SHAKE256 twice).
func TestMLDSAMuWithOpenSSL(t *testing.T) {
	dir := t.TempDir()
	msg := []byte("a message longer than AWS's RAW limit would be hashed this way")
	for _, spec := range []Spec{MLDSA44, MLDSA65, MLDSA87} {
		k := testKey(t, spec)
		spki, _ := k.PublicKey()
		raw, _ := circlPublic(t, k)
		if err := os.WriteFile(filepath.Join(dir, "public_key.der"), spki, 0o600); err != nil {
			t.Fatal(err)
		}
		pub := openssl(t, dir, "asn1parse", "-inform", "DER", "-in", "public_key.der", "-strparse", "17", "-noout", "-out", "-")
		if !bytes.Equal(pub, raw) {
			t.Fatalf("%s: asn1parse -strparse 17 gives %d bytes, not the %d-byte key", spec, len(pub), len(raw))
		}
		if err := os.WriteFile(filepath.Join(dir, "pub.raw"), pub, 0o600); err != nil {
			t.Fatal(err)
		}
		tr := openssl(t, dir, "dgst", "-shake256", "-xoflen", "64", "-binary", "pub.raw")
		if err := os.WriteFile(filepath.Join(dir, "mprime"), append(append(tr, 0, 0), msg...), 0o600); err != nil {
			t.Fatal(err)
		}
		mu := openssl(t, dir, "dgst", "-shake256", "-xoflen", "64", "-binary", "mprime")
		if got := MLDSAMu(raw, msg); !bytes.Equal(got, mu) {
			t.Fatalf("%s: MLDSAMu %x, OpenSSL %x", spec, got, mu)
		}
	}
}

// TestMLDSARefusals: the exact errors AWS gives for the wrong message
// type or length, the wrong algorithm, a bad signature, and the one
// refusal of this implementation (Verify of an EXTERNAL_MU message).
func TestMLDSARefusals(t *testing.T) {
	k, p256 := testKey(t, MLDSA44), testKey(t, ECCNISTP256)
	msg := []byte("m")
	sig, err := k.Sign(ML_DSA_SHAKE_256, RAW, msg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  *Key
		alg  SigningAlgorithm
		mt   MessageType
		msg  []byte
		want string
	}{
		{"EXTERNAL_MU of 63 bytes", k, ML_DSA_SHAKE_256, EXTERNAL_MU, make([]byte, 63), ExceptionValidation},
		{"EXTERNAL_MU of 65 bytes", k, ML_DSA_SHAKE_256, EXTERNAL_MU, make([]byte, 65), ExceptionValidation},
		{"DIGEST", k, ML_DSA_SHAKE_256, DIGEST, make([]byte, 64), ExceptionValidation},
		{"RAW of 4097 bytes", k, ML_DSA_SHAKE_256, RAW, make([]byte, 4097), ExceptionValidation},
		{"empty", k, ML_DSA_SHAKE_256, RAW, nil, ExceptionValidation},
		{"unknown message type", k, ML_DSA_SHAKE_256, "HASHED", msg, ExceptionValidation},
		{"ECDSA on ML-DSA", k, ECDSA_SHA_256, RAW, msg, ExceptionInvalidKeyUsage},
		{"ML-DSA on P-256", p256, ML_DSA_SHAKE_256, RAW, msg, ExceptionInvalidKeyUsage},
		{"EXTERNAL_MU on P-256", p256, ECDSA_SHA_256, EXTERNAL_MU, make([]byte, 64), ExceptionValidation},
	} {
		_, err := tc.key.Sign(tc.alg, tc.mt, tc.msg)
		if Exception(err) != tc.want {
			t.Errorf("Sign %s: %v, want %s", tc.name, err, tc.want)
		}
		err = tc.key.Verify(tc.alg, tc.mt, tc.msg, sig)
		if Exception(err) != tc.want {
			t.Errorf("Verify %s: %v, want %s", tc.name, err, tc.want)
		}
	}
	if v := wantErr[*ValidationError](t, k.Verify(ML_DSA_SHAKE_256, EXTERNAL_MU, make([]byte, 63), sig), ErrValidation, ExceptionValidation); v.Field != "message" {
		t.Errorf("Field %q", v.Field)
	}
	bad := bytes.Clone(sig)
	bad[100] ^= 1
	for _, s := range [][]byte{bad, sig[:len(sig)-1], append(bytes.Clone(sig), 0), testKey(t, MLDSA65).mustSign(t, msg)} {
		e := wantErr[*InvalidSignatureError](t, k.Verify(ML_DSA_SHAKE_256, RAW, msg, s), ErrInvalidSignature, ExceptionInvalidSignature)
		if e.Algorithm != ML_DSA_SHAKE_256 || e.MessageType != RAW {
			t.Errorf("%+v", e)
		}
	}
	wantErr[*InvalidSignatureError](t, k.Verify(ML_DSA_SHAKE_256, RAW, []byte("n"), sig), ErrInvalidSignature, ExceptionInvalidSignature)
	e := wantErr[*UnsupportedError](t, k.Verify(ML_DSA_SHAKE_256, EXTERNAL_MU, make([]byte, 64), sig), ErrUnsupported, ExceptionUnsupportedOperation)
	if e.Algorithm != string(EXTERNAL_MU) || e.Operation != OpVerify {
		t.Errorf("%+v", e)
	}
	// Material of another parameter set is not this spec's.
	if _, err := ParsePrivateKey(MLDSA65, k.Marshal()); err == nil {
		t.Fatal("ML_DSA_44 material parsed as ML_DSA_65")
	}
}

func (k *Key) mustSign(t *testing.T, msg []byte) []byte {
	t.Helper()
	s, err := k.Sign(ML_DSA_SHAKE_256, RAW, msg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
