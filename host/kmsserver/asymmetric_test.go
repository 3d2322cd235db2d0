// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
)

// Every operation of the asymmetric, HMAC and ML-KEM key specs through the
// official aws-sdk-go-v2 client, against the key store of the run (the
// directory store, then PostgreSQL: see TestMain), with OpenSSL as the
// independent check of what the server signs, encrypts and derives.

// osslBin finds OpenSSL, required under CI.
func osslBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is required for the cross-checks under CI")
		}
		t.Skip("openssl not found: the OpenSSL cross-checks need it")
	}
	return bin
}

// ossl runs OpenSSL in dir and returns its stdout; ok reports exit 0.
func ossl(t *testing.T, dir string, args ...string) (out []byte, ok bool) {
	t.Helper()
	cmd := exec.Command(osslBin(t), args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return append(stdout.Bytes(), stderr.Bytes()...), err == nil
}

func mustOSSL(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	out, ok := ossl(t, dir, args...)
	if !ok {
		t.Fatalf("openssl %v:\n%s", args, out)
	}
	return out
}

func (env *testEnv) createSpecKey(t testing.TB, spec types.KeySpec, usage types.KeyUsageType, policy *string) string {
	t.Helper()
	out, err := env.client.CreateKey(context.Background(), &awskms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Policy: policy})
	if err != nil {
		t.Fatalf("CreateKey %s %s: %v", spec, usage, err)
	}
	if out.KeyMetadata.KeySpec != spec || out.KeyMetadata.KeyUsage != usage {
		t.Fatalf("CreateKey metadata: %s %s", out.KeyMetadata.KeySpec, out.KeyMetadata.KeyUsage)
	}
	return *out.KeyMetadata.KeyId
}

func writeTemp(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func digestOf(alg types.SigningAlgorithmSpec, msg []byte) ([]byte, string) {
	switch {
	case strings.HasSuffix(string(alg), "SHA_256"):
		d := sha256.Sum256(msg)
		return d[:], "sha256"
	case strings.HasSuffix(string(alg), "SHA_384"):
		d := sha512.Sum384(msg)
		return d[:], "sha384"
	default:
		d := sha512.Sum512(msg)
		return d[:], "sha512"
	}
}

func TestSignVerifySDK(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	msg := []byte("signed by kms-server, verified by OpenSSL")
	for _, spec := range []types.KeySpec{types.KeySpecRsa2048, types.KeySpecEccNistP256, types.KeySpecEccNistP384,
		types.KeySpecEccNistP521, types.KeySpecEccSecgP256k1} {
		t.Run(string(spec), func(t *testing.T) {
			id := env.createSpecKey(t, spec, types.KeyUsageTypeSignVerify, nil)
			pk, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			if pk.KeySpec != spec || pk.KeyUsage != types.KeyUsageTypeSignVerify || len(pk.SigningAlgorithms) == 0 ||
				pk.EncryptionAlgorithms != nil || *pk.KeyId != env.srv.keyARN(id) {
				t.Fatalf("GetPublicKey: %+v", pk)
			}
			d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
			if err != nil || !slices.Equal(d.KeyMetadata.SigningAlgorithms, pk.SigningAlgorithms) {
				t.Fatalf("DescribeKey signing algorithms %v, GetPublicKey %v (%v)", d.KeyMetadata.SigningAlgorithms, pk.SigningAlgorithms, err)
			}
			dir := t.TempDir()
			pub := writeTemp(t, dir, "pub.der", pk.PublicKey)
			writeTemp(t, dir, "msg", msg)
			for _, alg := range pk.SigningAlgorithms {
				digest, md := digestOf(alg, msg)
				pss := strings.HasPrefix(string(alg), "RSASSA_PSS_")
				for _, mt := range []types.MessageType{types.MessageTypeRaw, types.MessageTypeDigest} {
					m := msg
					if mt == types.MessageTypeDigest {
						m = digest
					}
					s, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(id), Message: m, MessageType: mt, SigningAlgorithm: alg})
					if err != nil {
						t.Fatalf("Sign %s %s: %v", alg, mt, err)
					}
					if s.SigningAlgorithm != alg || *s.KeyId != env.srv.keyARN(id) {
						t.Fatalf("Sign output: %+v", s)
					}
					v, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(id), Message: m, MessageType: mt, SigningAlgorithm: alg, Signature: s.Signature})
					if err != nil || !v.SignatureValid {
						t.Fatalf("Verify %s %s: %v", alg, mt, err)
					}
					// OpenSSL verifies the signature against GetPublicKey's key.
					writeTemp(t, dir, "sig", s.Signature)
					args := []string{"dgst", "-" + md, "-verify", pub, "-keyform", "DER", "-signature", "sig"}
					if pss {
						args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest")
					}
					if out := mustOSSL(t, dir, append(args, "msg")...); !bytes.Contains(out, []byte("Verified OK")) {
						t.Fatalf("openssl dgst -verify %s %s: %s", alg, mt, out)
					}
					// A changed signature is KMSInvalidSignatureException.
					bad := bytes.Clone(s.Signature)
					bad[len(bad)/2] ^= 1
					_, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(id), Message: m, MessageType: mt, SigningAlgorithm: alg, Signature: bad})
					wantCode(t, err, CodeKMSInvalidSignature)
				}
			}
		})
	}
}

func TestAsymmetricRefusalsSDK(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	// CreateKey validates KeySpec and KeyUsage as AWS does.
	for _, tc := range []struct {
		spec  types.KeySpec
		usage types.KeyUsageType
		code  string
	}{
		{types.KeySpecEccNistP256, types.KeyUsageTypeEncryptDecrypt, CodeValidation},
		{types.KeySpecEccNistP256, "", CodeValidation}, // the default usage, ENCRYPT_DECRYPT, is not one of ECC's
		{types.KeySpecEccSecgP256k1, types.KeyUsageTypeKeyAgreement, CodeValidation},
		{types.KeySpecRsa2048, types.KeyUsageTypeKeyAgreement, CodeValidation},
		{types.KeySpecRsa2048, types.KeyUsageTypeGenerateVerifyMac, CodeValidation},
		{types.KeySpecHmac256, types.KeyUsageTypeSignVerify, CodeValidation},
		{types.KeySpecMlKem768, types.KeyUsageTypeSignVerify, CodeValidation},
		{"RSA_1024", types.KeyUsageTypeSignVerify, CodeValidation},
		{types.KeySpecEccNistP256, "SIGN", CodeValidation},
		{types.KeySpecSm2, types.KeyUsageTypeSignVerify, CodeUnsupportedOperation},
		{types.KeySpecMlDsa65, types.KeyUsageTypeEncryptDecrypt, CodeValidation},
		{types.KeySpecEccNistEdwards25519, types.KeyUsageTypeKeyAgreement, CodeValidation},
		{types.KeySpecMlKem512, types.KeyUsageTypeEncapsulateDecapsulate, CodeUnsupportedOperation},
	} {
		_, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: tc.spec, KeyUsage: tc.usage})
		wantCode(t, err, tc.code)
	}
	// An RSA key without KeyUsage is an ENCRYPT_DECRYPT key, as in AWS.
	ck, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048})
	if err != nil || ck.KeyMetadata.KeyUsage != types.KeyUsageTypeEncryptDecrypt ||
		!slices.Equal(ck.KeyMetadata.EncryptionAlgorithms, []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecRsaesOaepSha1, types.EncryptionAlgorithmSpecRsaesOaepSha256}) {
		t.Fatalf("CreateKey RSA_2048 without usage: %+v, %v", ck, err)
	}
	rsaEnc := *ck.KeyMetadata.KeyId

	p256 := env.createSpecKey(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, nil)
	agree := env.createSpecKey(t, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement, nil)
	sym := env.createKey(t)
	hmacKey := env.createSpecKey(t, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac, nil)
	msg := []byte("m")
	sign := func(id string, alg types.SigningAlgorithmSpec, mt types.MessageType, m []byte) error {
		_, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(id), Message: m, MessageType: mt, SigningAlgorithm: alg})
		return err
	}
	wantCode(t, sign(p256, types.SigningAlgorithmSpecEcdsaSha384, "", msg), CodeInvalidKeyUsage)
	wantCode(t, sign(p256, types.SigningAlgorithmSpecRsassaPssSha256, "", msg), CodeInvalidKeyUsage)
	wantCode(t, sign(p256, "ECDSA_SHA_1", "", msg), CodeValidation)
	wantCode(t, sign(p256, types.SigningAlgorithmSpecEcdsaSha256, "", make([]byte, 4097)), CodeValidation)
	wantCode(t, sign(p256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest, make([]byte, 31)), CodeValidation)
	wantCode(t, sign(p256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeExternalMu, make([]byte, 64)), CodeValidation)
	wantCode(t, sign(p256, types.SigningAlgorithmSpecEcdsaSha256, "raw", msg), CodeValidation)
	// Keys of other usages cannot sign.
	for _, id := range []string{rsaEnc, agree, sym, hmacKey} {
		ae := wantCode(t, sign(id, types.SigningAlgorithmSpecEcdsaSha256, "", msg), CodeInvalidKeyUsage)
		if !strings.Contains(ae.Message, "not valid for Sign") {
			t.Errorf("message: %s", ae.Message)
		}
	}
	// GetPublicKey: none for symmetric and HMAC keys.
	for _, id := range []string{sym, hmacKey} {
		_, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
		wantCode(t, err, CodeUnsupportedOperation)
	}
	// RSA encryption algorithms on a symmetric key, the symmetric one on an
	// RSA key, an encryption context with an RSA key.
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(sym), Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantCode(t, err, CodeInvalidKeyUsage)
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(rsaEnc), Plaintext: msg})
	wantCode(t, err, CodeInvalidKeyUsage)
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(rsaEnc), Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256,
		EncryptionContext: map[string]string{"a": "b"}})
	wantCode(t, err, CodeValidation)
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(p256), Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantCode(t, err, CodeInvalidKeyUsage)
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(rsaEnc), Plaintext: make([]byte, 191), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantCode(t, err, CodeValidation)
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: make([]byte, 256), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantCode(t, err, CodeValidation) // KeyId is required with an RSA algorithm
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{KeyId: aws.String(rsaEnc), CiphertextBlob: make([]byte, 256), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantCode(t, err, CodeInvalidCiphertext)
	// A disabled key signs nothing.
	if _, err := c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(p256)}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, sign(p256, types.SigningAlgorithmSpecEcdsaSha256, "", msg), CodeDisabled)
	// DryRun stops before the answer.
	_, err = c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(agree), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, DryRun: aws.Bool(true)})
	wantCode(t, err, CodeInvalidKeyUsage)
}

func TestRSAEncryptionSDK(t *testing.T) {
	e := newRecipientEnv(t, nil)
	ctx := context.Background()
	c := e.client
	id := e.createSpecKey(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt, nil)
	pk, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if pk.SigningAlgorithms != nil || len(pk.EncryptionAlgorithms) != 2 {
		t.Fatalf("GetPublicKey of an ENCRYPT_DECRYPT RSA key: %+v", pk)
	}
	dir := t.TempDir()
	writeTemp(t, dir, "pub.der", pk.PublicKey)
	for _, alg := range pk.EncryptionAlgorithms {
		md := map[types.EncryptionAlgorithmSpec]string{types.EncryptionAlgorithmSpecRsaesOaepSha1: "sha1", types.EncryptionAlgorithmSpecRsaesOaepSha256: "sha256"}[alg]
		pt := []byte("plaintext for " + string(alg))
		enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: pt, EncryptionAlgorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		if len(enc.CiphertextBlob) != 256 || enc.EncryptionAlgorithm != alg {
			t.Fatalf("Encrypt: %d-byte ciphertext, %s", len(enc.CiphertextBlob), enc.EncryptionAlgorithm)
		}
		dec, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: alg})
		if err != nil || !bytes.Equal(dec.Plaintext, pt) || dec.EncryptionAlgorithm != alg {
			t.Fatalf("Decrypt: %+v, %v", dec, err)
		}
		// OpenSSL encrypts to GetPublicKey's key; the server decrypts.
		writeTemp(t, dir, "pt", pt)
		mustOSSL(t, dir, "pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.der", "-keyform", "DER", "-in", "pt", "-out", "ct",
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
		ct, err := os.ReadFile(filepath.Join(dir, "ct"))
		if err != nil {
			t.Fatal(err)
		}
		dec, err = c.Decrypt(ctx, &awskms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct, EncryptionAlgorithm: alg})
		if err != nil || !bytes.Equal(dec.Plaintext, pt) {
			t.Fatalf("Decrypt of OpenSSL's ciphertext: %+v, %v", dec, err)
		}
		// With Recipient, the plaintext comes back only for the enclave.
		dec, err = c.Decrypt(ctx, &awskms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct, EncryptionAlgorithm: alg, Recipient: e.recipient(e.doc(t))})
		if err != nil || dec.Plaintext != nil || !bytes.Equal(e.open(t, dec.CiphertextForRecipient), pt) {
			t.Fatalf("Decrypt with Recipient: %+v, %v", dec, err)
		}
		// The other algorithm does not decrypt it.
		other := types.EncryptionAlgorithmSpecRsaesOaepSha1
		if alg == other {
			other = types.EncryptionAlgorithmSpecRsaesOaepSha256
		}
		_, err = c.Decrypt(ctx, &awskms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct, EncryptionAlgorithm: other})
		wantCode(t, err, CodeInvalidCiphertext)
	}
}

func TestMacSDK(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	for _, tc := range []struct {
		spec types.KeySpec
		alg  types.MacAlgorithmSpec
		size int
	}{
		{types.KeySpecHmac224, types.MacAlgorithmSpecHmacSha224, 28},
		{types.KeySpecHmac256, types.MacAlgorithmSpecHmacSha256, 32},
		{types.KeySpecHmac384, types.MacAlgorithmSpecHmacSha384, 48},
		{types.KeySpecHmac512, types.MacAlgorithmSpecHmacSha512, 64},
	} {
		id := env.createSpecKey(t, tc.spec, types.KeyUsageTypeGenerateVerifyMac, nil)
		msg := []byte("mac me")
		g, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String(id), MacAlgorithm: tc.alg, Message: msg})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Mac) != tc.size || g.MacAlgorithm != tc.alg {
			t.Fatalf("%s: %d-byte MAC, %s", tc.spec, len(g.Mac), g.MacAlgorithm)
		}
		// The MAC is HMAC under the stored material: OpenSSL computes the
		// same from the unwrapped key (the test reads it from the server).
		k, err := env.srv.store.GetKey(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		m, err := env.srv.material(k)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		writeTemp(t, dir, "msg", msg)
		md := strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(string(tc.alg), "HMAC_"), "_", "")) // SHA224 ...
		out := mustOSSL(t, dir, "mac", "-digest", md, "-macopt", "hexkey:"+hex.EncodeToString(m.Raw), "-in", "msg", "HMAC")
		if want := strings.ToLower(strings.TrimSpace(string(out))); hex.EncodeToString(g.Mac) != want {
			t.Fatalf("%s: GenerateMac %x, openssl mac %s", tc.spec, g.Mac, want)
		}
		v, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: aws.String(id), MacAlgorithm: tc.alg, Message: msg, Mac: g.Mac})
		if err != nil || !v.MacValid {
			t.Fatalf("VerifyMac: %+v, %v", v, err)
		}
		bad := bytes.Clone(g.Mac)
		bad[0] ^= 1
		_, err = c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: aws.String(id), MacAlgorithm: tc.alg, Message: msg, Mac: bad})
		wantCode(t, err, CodeKMSInvalidMac)
		_, err = c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: aws.String(id), MacAlgorithm: tc.alg, Message: msg, Mac: g.Mac[:len(g.Mac)-1]})
		wantCode(t, err, CodeKMSInvalidMac)
	}
	id := env.createSpecKey(t, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac, nil)
	_, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String(id), MacAlgorithm: types.MacAlgorithmSpecHmacSha384, Message: []byte("m")})
	wantCode(t, err, CodeInvalidKeyUsage)
	_, err = c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String(id), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: make([]byte, 4097)})
	wantCode(t, err, CodeValidation)
	_, err = c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String(env.createKey(t)), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: []byte("m")})
	wantCode(t, err, CodeInvalidKeyUsage)
}

func TestDeriveSharedSecretSDK(t *testing.T) {
	e := newRecipientEnv(t, nil)
	ctx := context.Background()
	c := e.client
	curves := map[types.KeySpec]string{types.KeySpecEccNistP256: "P-256", types.KeySpecEccNistP384: "P-384", types.KeySpecEccNistP521: "P-521"}
	for spec, curve := range curves {
		id := e.createSpecKey(t, spec, types.KeyUsageTypeKeyAgreement, nil)
		pk, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pk.KeyAgreementAlgorithms, []types.KeyAgreementAlgorithmSpec{types.KeyAgreementAlgorithmSpecEcdh}) || pk.SigningAlgorithms != nil {
			t.Fatalf("GetPublicKey of a KEY_AGREEMENT key: %+v", pk)
		}
		dir := t.TempDir()
		writeTemp(t, dir, "kms.der", pk.PublicKey)
		mustOSSL(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:"+curve, "-out", "peer.pem")
		mustOSSL(t, dir, "pkey", "-in", "peer.pem", "-pubout", "-outform", "DER", "-out", "peer.der")
		want, _ := ossl(t, dir, "pkeyutl", "-derive", "-inkey", "peer.pem", "-peerkey", "kms.der", "-peerform", "DER")
		peer, err := os.ReadFile(filepath.Join(dir, "peer.der"))
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: aws.String(id), KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peer})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.SharedSecret, want) || out.KeyAgreementAlgorithm != types.KeyAgreementAlgorithmSpecEcdh || out.KeyOrigin != types.OriginTypeAwsKms {
			t.Fatalf("%s: DeriveSharedSecret %x, openssl pkeyutl -derive %x (%+v)", spec, out.SharedSecret, want, out)
		}
		// With Recipient: no plaintext secret, the same secret for the enclave.
		rout, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: aws.String(id), KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh,
			PublicKey: peer, Recipient: e.recipient(e.doc(t))})
		if err != nil {
			t.Fatal(err)
		}
		if rout.SharedSecret != nil || !bytes.Equal(e.open(t, rout.CiphertextForRecipient), want) {
			t.Fatalf("%s: DeriveSharedSecret with Recipient returned plaintext or another secret", spec)
		}
	}
	id := e.createSpecKey(t, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement, nil)
	p384, _ := ecdh.P384().GenerateKey(rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(p384.PublicKey())
	p256, _ := ecdh.P256().GenerateKey(rand.Reader)
	p256DER, _ := x509.MarshalPKIXPublicKey(p256.PublicKey())
	derive := func(id string, alg types.KeyAgreementAlgorithmSpec, pub []byte) error {
		_, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: aws.String(id), KeyAgreementAlgorithm: alg, PublicKey: pub})
		return err
	}
	wantCode(t, derive(id, types.KeyAgreementAlgorithmSpecEcdh, p384DER), CodeValidation)
	wantCode(t, derive(id, types.KeyAgreementAlgorithmSpecEcdh, p256.PublicKey().Bytes()), CodeValidation)
	wantCode(t, derive(id, types.KeyAgreementAlgorithmSpecEcdh, append(bytes.Clone(p256DER), 0)), CodeValidation)
	wantCode(t, derive(id, "ECDHE", p256DER), CodeValidation)
	signing := e.createSpecKey(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, nil)
	wantCode(t, derive(signing, types.KeyAgreementAlgorithmSpecEcdh, p256DER), CodeInvalidKeyUsage)
	// An invalid attestation document is refused before any key is used.
	_, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: aws.String(id), KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh,
		PublicKey: p256DER, Recipient: e.recipient([]byte("not a document"))})
	wantCode(t, err, CodeValidation)
}

// TestDeriveSharedSecretRecipientPolicy: a key policy that releases the
// shared secret only to an enclave of a given image, as for data keys.
func TestDeriveSharedSecretRecipientPolicy(t *testing.T) {
	e := newRecipientEnv(t, nil)
	ctx := context.Background()
	c := e.client
	pcr0 := hex.EncodeToString(attestationtest.PCRs()[0])
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":["kms:Create*","kms:Describe*","kms:Put*","kms:GetPublicKey"],"Resource":"*"},
	 {"Sid":"Enclave","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":"kms:DeriveSharedSecret","Resource":"*",
	  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + pcr0 + `"},"StringEquals":{"kms:KeyAgreementAlgorithm":"ECDH"}}}]}`
	id := e.createSpecKey(t, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement, aws.String(pol))
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	in := func(doc []byte) *awskms.DeriveSharedSecretInput {
		i := &awskms.DeriveSharedSecretInput{KeyId: aws.String(id), KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerDER}
		if doc != nil {
			i.Recipient = e.recipient(doc)
		}
		return i
	}
	// Without a document the condition fails: no plaintext secret for the parent.
	_, err := c.DeriveSharedSecret(ctx, in(nil))
	wantCode(t, err, CodeAccessDenied)
	// Another image is denied.
	other := e.doc(t, func(d *attestation.Document) { d.PCRs[0] = bytes.Repeat([]byte{0xab}, 48) })
	_, err = c.DeriveSharedSecret(ctx, in(other))
	wantCode(t, err, CodeAccessDenied)
	out, err := c.DeriveSharedSecret(ctx, in(e.doc(t)))
	if err != nil {
		t.Fatal(err)
	}
	pk, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	kmsPub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := kmsPub.(interface {
		ECDH() (*ecdh.PublicKey, error)
	}).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := peer.ECDH(kp)
	if !bytes.Equal(e.open(t, out.CiphertextForRecipient), want) {
		t.Fatal("the enclave's secret is not the peer's")
	}
}

func TestAlgorithmConditionKeys(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	admin := `{"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":["kms:Create*","kms:Describe*","kms:Put*","kms:Get*"],"Resource":"*"}`
	withPolicy := func(use string) *string {
		return aws.String(`{"Version":"2012-10-17","Statement":[` + admin + `,` + use + `]}`)
	}
	// Sign: PSS over digests only.
	rsaID := env.createSpecKey(t, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify, withPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"`+testPrincipal+`"},"Action":["kms:Sign","kms:Verify"],"Resource":"*",
		  "Condition":{"StringEquals":{"kms:SigningAlgorithm":"RSASSA_PSS_SHA_256","kms:MessageType":"DIGEST","kms:KeySpec":"RSA_2048","kms:KeyUsage":"SIGN_VERIFY"}}}`))
	d := sha256.Sum256([]byte("m"))
	sign := func(alg types.SigningAlgorithmSpec, mt types.MessageType, m []byte) error {
		_, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(rsaID), Message: m, MessageType: mt, SigningAlgorithm: alg})
		return err
	}
	if err := sign(types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeDigest, d[:]); err != nil {
		t.Fatalf("allowed Sign: %v", err)
	}
	ae := wantCode(t, sign(types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.MessageTypeDigest, d[:]), CodeAccessDenied)
	if !strings.Contains(ae.Message, "kms:SigningAlgorithm") {
		t.Errorf("denial does not name the condition: %s", ae.Message)
	}
	wantCode(t, sign(types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeRaw, []byte("m")), CodeAccessDenied)
	wantCode(t, sign(types.SigningAlgorithmSpecRsassaPssSha256, "", []byte("m")), CodeAccessDenied) // absent MessageType is RAW

	// MAC: a Deny on one algorithm name.
	macID := env.createSpecKey(t, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac, withPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"`+testPrincipal+`"},"Action":"kms:GenerateMac","Resource":"*",
		  "Condition":{"StringEquals":{"kms:MacAlgorithm":"HMAC_SHA_256"}}}`))
	if _, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String(macID), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String(macID), MacAlgorithm: types.MacAlgorithmSpecHmacSha384, Message: []byte("m")})
	wantCode(t, err, CodeAccessDenied)

	// Encryption: only RSAES_OAEP_SHA_256, and the symmetric family presents
	// SYMMETRIC_DEFAULT.
	encID := env.createSpecKey(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt, withPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"`+testPrincipal+`"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
		  "Condition":{"StringEquals":{"kms:EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}}`))
	if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(encID), Plaintext: []byte("p"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(encID), Plaintext: []byte("p"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	wantCode(t, err, CodeAccessDenied)
	symID := *must(c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: withPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":["kms:Encrypt","kms:GenerateDataKey"],"Resource":"*",
		  "Condition":{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT","kms:KeySpec":"SYMMETRIC_DEFAULT"}}}`)})).KeyMetadata.KeyId
	if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(symID), Plaintext: []byte("p")}); err != nil {
		t.Fatalf("symmetric Encrypt under a kms:EncryptionAlgorithm condition: %v", err)
	}
	if _, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(symID), KeySpec: types.DataKeySpecAes256}); err != nil {
		t.Fatalf("GenerateDataKey under a kms:EncryptionAlgorithm condition: %v", err)
	}

	// kms:KeyUsage in a Deny: no key agreement with this key at all.
	agreeID := env.createSpecKey(t, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement, withPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"`+testPrincipal+`"},"Action":"kms:*","Resource":"*"},
		 {"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:DeriveSharedSecret","Resource":"*",
		  "Condition":{"StringEquals":{"kms:KeyUsage":"KEY_AGREEMENT"}}}`))
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	_, err = c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: aws.String(agreeID), KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerDER})
	wantCode(t, err, CodeAccessDenied)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestMLKEMSDK(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	for _, spec := range []types.KeySpec{types.KeySpecMlKem768, types.KeySpecMlKem1024} {
		id := env.createSpecKey(t, spec, types.KeyUsageTypeEncapsulateDecapsulate, nil)
		enc, err := c.Encapsulate(ctx, &awskms.EncapsulateInput{KeyId: aws.String(id), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := c.Decapsulate(ctx, &awskms.DecapsulateInput{KeyId: aws.String(id), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
			SharedSecretCiphertextBlob: enc.SharedSecretCiphertextBlob})
		if err != nil || !bytes.Equal(dec.SharedSecret, enc.SharedSecret) || len(dec.SharedSecret) != 32 {
			t.Fatalf("%s: Decapsulate %+v, %v", spec, dec, err)
		}
		pk, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
		if err != nil || !slices.Equal(pk.EncapsulationAlgorithms, []types.EncapsulationAlgorithmSpec{types.EncapsulationAlgorithmSpecMlKem}) {
			t.Fatalf("GetPublicKey: %+v, %v", pk, err)
		}
		if spec == types.KeySpecMlKem768 {
			// Encapsulate outside with the public key (the encapsulation key
			// is the last 1184 bytes of the SPKI); the server decapsulates.
			ek, err := mlkem.NewEncapsulationKey768(pk.PublicKey[len(pk.PublicKey)-1184:])
			if err != nil {
				t.Fatal(err)
			}
			secret, ct := ek.Encapsulate()
			dec, err := c.Decapsulate(ctx, &awskms.DecapsulateInput{KeyId: aws.String(id), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: ct})
			if err != nil || !bytes.Equal(dec.SharedSecret, secret) {
				t.Fatalf("Decapsulate of an outside encapsulation: %v", err)
			}
		}
		_, err = c.Decapsulate(ctx, &awskms.DecapsulateInput{KeyId: aws.String(id), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: []byte("short")})
		wantCode(t, err, CodeInvalidCiphertext)
		// DryRun answers as the real call: a ciphertext the key cannot
		// decapsulate is InvalidCiphertextException there too.
		_, err = c.Decapsulate(ctx, &awskms.DecapsulateInput{KeyId: aws.String(id), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: []byte("short"), DryRun: aws.Bool(true)})
		wantCode(t, err, CodeInvalidCiphertext)
	}
	_, err := c.Encapsulate(ctx, &awskms.EncapsulateInput{KeyId: aws.String(env.createKey(t)), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
	wantCode(t, err, CodeInvalidKeyUsage)
}

// TestAsymmetricKeyRecordBinding: the material of an asymmetric key is
// bound to its record like a symmetric key's, so a store writer cannot turn
// a KEY_AGREEMENT key into a SIGN_VERIFY one, and the key survives a
// restart of the server on the same store.
func TestAsymmetricKeyRecordBinding(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	id := env.createSpecKey(t, types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify, nil)
	k, err := env.srv.store.GetKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh server on the same store signs with the same key.
	cfg := env.srv.cfg
	srv2, err := NewServer(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := env.srv.material(k)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := srv2.material(k)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := m1.spec.PublicKey()
	p2, _ := m2.spec.PublicKey()
	if !bytes.Equal(p1, p2) {
		t.Fatal("the key's public key changed across servers")
	}
	// A store writer changes the usage in the record: the material no
	// longer unwraps, also on the server that has it cached.
	k.KeyUsage = "KEY_AGREEMENT"
	for i, srv := range []*Server{env.srv, srv2} {
		if _, err := srv.material(k); err == nil {
			t.Fatalf("server %d: a record with a changed KeyUsage unwrapped", i)
		}
	}
}

// TestAWSCLIAsymmetric drives Sign, Verify, GetPublicKey, GenerateMac and
// VerifyMac with `aws kms ... --endpoint-url` (Debian's awscli), and has
// OpenSSL verify the CLI's signature.
func TestAWSCLIAsymmetric(t *testing.T) {
	awsCLI(t)
	env := newEnv(t, nil)
	run, home := awsCLIRun(t, env)
	b64 := func(m map[string]any, k string) []byte {
		t.Helper()
		b, err := base64.StdEncoding.DecodeString(m[k].(string))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return b
	}
	ck := run("create-key", "--key-spec", "ECC_SECG_P256K1", "--key-usage", "SIGN_VERIFY")
	id := ck["KeyMetadata"].(map[string]any)["KeyId"].(string)
	writeTemp(t, home, "msg", []byte("signed through the aws cli"))
	s := run("sign", "--key-id", id, "--message", "fileb://"+filepath.Join(home, "msg"), "--message-type", "RAW", "--signing-algorithm", "ECDSA_SHA_256")
	writeTemp(t, home, "sig", b64(s, "Signature"))
	v := run("verify", "--key-id", id, "--message", "fileb://"+filepath.Join(home, "msg"), "--message-type", "RAW",
		"--signing-algorithm", "ECDSA_SHA_256", "--signature", "fileb://"+filepath.Join(home, "sig"))
	if v["SignatureValid"] != true {
		t.Fatalf("verify: %v", v)
	}
	pk := run("get-public-key", "--key-id", id)
	writeTemp(t, home, "pub.der", b64(pk, "PublicKey"))
	if out := mustOSSL(t, home, "dgst", "-sha256", "-verify", "pub.der", "-keyform", "DER", "-signature", "sig", "msg"); !bytes.Contains(out, []byte("Verified OK")) {
		t.Fatalf("openssl: %s", out)
	}
	hk := run("create-key", "--key-spec", "HMAC_384", "--key-usage", "GENERATE_VERIFY_MAC")
	hid := hk["KeyMetadata"].(map[string]any)["KeyId"].(string)
	g := run("generate-mac", "--key-id", hid, "--message", "fileb://"+filepath.Join(home, "msg"), "--mac-algorithm", "HMAC_SHA_384")
	writeTemp(t, home, "mac", b64(g, "Mac"))
	vm := run("verify-mac", "--key-id", hid, "--message", "fileb://"+filepath.Join(home, "msg"), "--mac-algorithm", "HMAC_SHA_384", "--mac", "fileb://"+filepath.Join(home, "mac"))
	if vm["MacValid"] != true {
		t.Fatalf("verify-mac: %v", vm)
	}
}

// TestReEncryptRSASDK: ReEncrypt between RSA and symmetric keys in every
// direction, with the SDK.
func TestReEncryptRSASDK(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	rsaA := env.createSpecKey(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt, nil)
	rsaB := env.createSpecKey(t, types.KeySpecRsa3072, types.KeyUsageTypeEncryptDecrypt, nil)
	sym := env.createKey(t)
	ec := map[string]string{"k": "v"}
	pt := []byte("moved between keys")
	oaep := types.EncryptionAlgorithmSpecRsaesOaepSha256
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(rsaA), Plaintext: pt, EncryptionAlgorithm: oaep})
	if err != nil {
		t.Fatal(err)
	}
	// RSA -> symmetric.
	re, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyId: aws.String(rsaA), SourceEncryptionAlgorithm: oaep,
		DestinationKeyId: aws.String(sym), DestinationEncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if re.SourceEncryptionAlgorithm != oaep || re.DestinationEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault || *re.SourceKeyId != env.srv.keyARN(rsaA) {
		t.Fatalf("ReEncrypt RSA -> symmetric: %+v", re)
	}
	if got := env.decrypt(t, re.CiphertextBlob, ec); !bytes.Equal(got, pt) {
		t.Fatalf("after RSA -> symmetric: %q", got)
	}
	// Symmetric -> RSA (another size, SHA-1).
	re, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: re.CiphertextBlob, SourceEncryptionContext: ec,
		DestinationKeyId: aws.String(rsaB), DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	if err != nil {
		t.Fatal(err)
	}
	if len(re.CiphertextBlob) != 384 || *re.KeyId != env.srv.keyARN(rsaB) {
		t.Fatalf("ReEncrypt symmetric -> RSA_3072: %d bytes, %s", len(re.CiphertextBlob), *re.KeyId)
	}
	// RSA -> RSA.
	re, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: re.CiphertextBlob, SourceKeyId: aws.String(rsaB),
		SourceEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1, DestinationKeyId: aws.String(rsaA), DestinationEncryptionAlgorithm: oaep})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: aws.String(rsaA), CiphertextBlob: re.CiphertextBlob, EncryptionAlgorithm: oaep})
	if err != nil || !bytes.Equal(dec.Plaintext, pt) {
		t.Fatalf("after RSA -> RSA: %+v, %v", dec, err)
	}
	// Refusals: no SourceKeyId, a context with an RSA side, the wrong
	// source algorithm.
	_, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: re.CiphertextBlob, SourceEncryptionAlgorithm: oaep, DestinationKeyId: aws.String(sym)})
	wantCode(t, err, CodeValidation)
	_, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: re.CiphertextBlob, SourceKeyId: aws.String(rsaA), SourceEncryptionAlgorithm: oaep,
		SourceEncryptionContext: ec, DestinationKeyId: aws.String(sym)})
	wantCode(t, err, CodeValidation)
	_, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: re.CiphertextBlob, SourceKeyId: aws.String(rsaA),
		SourceEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1, DestinationKeyId: aws.String(sym)})
	wantCode(t, err, CodeInvalidCiphertext)
	_, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: re.CiphertextBlob, SourceKeyId: aws.String(rsaA), SourceEncryptionAlgorithm: oaep,
		DestinationKeyId: aws.String(sym), DestinationEncryptionAlgorithm: oaep})
	wantCode(t, err, CodeInvalidKeyUsage)
}

// TestCreateKeyIdentityConditions: an identity policy can limit which keys a
// principal creates with kms:KeySpec and kms:KeyUsage (CreateKey's defaults
// when the request leaves them out).
func TestCreateKeyIdentityConditions(t *testing.T) {
	const akid, secret = "AKIASIGNINGKEYSONLY1", "signing-keys-only-secret"
	env := newEnv(t, func(c *Config) {
		c.AccessKeys[akid] = AccessKey{Secret: secret, PrincipalARN: "arn:aws:iam::111122223333:user/signer",
			Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*",
			 "Condition":{"StringEquals":{"kms:KeySpec":"ECC_NIST_P256","kms:KeyUsage":"SIGN_VERIFY"}}}]}`}
	})
	c := env.clientFor(akid, secret)
	ctx := context.Background()
	if _, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify}); err != nil {
		t.Fatalf("allowed CreateKey: %v", err)
	}
	for _, in := range []*awskms.CreateKeyInput{
		{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement},
		{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify},
		{}, // SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT
	} {
		_, err := c.CreateKey(ctx, in)
		ae := wantCode(t, err, CodeAccessDenied)
		if !strings.Contains(ae.Message, "kms:CreateKey") {
			t.Errorf("denial: %s", ae.Message)
		}
	}
}

// TestEd25519SDK: ECC_NIST_EDWARDS25519 keys through the SDK; OpenSSL
// verifies the pure Ed25519 signature against GetPublicKey's key.
func TestEd25519SDK(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	id := env.createSpecKey(t, types.KeySpecEccNistEdwards25519, types.KeyUsageTypeSignVerify, nil)
	pk, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pk.SigningAlgorithms, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEd25519Sha512, types.SigningAlgorithmSpecEd25519PhSha512}) {
		t.Fatalf("signing algorithms: %v", pk.SigningAlgorithms)
	}
	msg := []byte("pure Ed25519 through kms-server")
	s, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(id), Message: msg, MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEd25519Sha512})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeTemp(t, dir, "pub.der", pk.PublicKey)
	writeTemp(t, dir, "msg", msg)
	writeTemp(t, dir, "sig", s.Signature)
	if out := mustOSSL(t, dir, "pkeyutl", "-verify", "-pubin", "-inkey", "pub.der", "-keyform", "DER", "-rawin", "-in", "msg", "-sigfile", "sig"); !bytes.Contains(out, []byte("Signature Verified Successfully")) {
		t.Fatalf("openssl: %s", out)
	}
	d := sha512.Sum512(msg)
	ph, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(id), Message: d[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEd25519PhSha512})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(id), Message: d[:], MessageType: types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEd25519PhSha512, Signature: ph.Signature})
	if err != nil || !v.SignatureValid {
		t.Fatalf("Verify ED25519_PH_SHA_512: %v", err)
	}
	_, err = c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(id), Message: d[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEd25519Sha512})
	wantCode(t, err, CodeValidation)
	_, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEd25519Sha512, Signature: ph.Signature})
	wantCode(t, err, CodeKMSInvalidSignature)
}

// TestDataKeyPairSpecsSDK: GenerateDataKeyPair makes ECC_SECG_P256K1 and
// ECC_NIST_EDWARDS25519 pairs too (PKCS #8 that OpenSSL reads, the SPKI it
// derives from it), and refuses SM2 and ML-KEM pairs with the reason.
func TestDataKeyPairSpecsSDK(t *testing.T) {
	e := newRecipientEnv(t, nil)
	ctx := context.Background()
	c := e.client
	id := e.createKey(t)
	for _, spec := range []types.DataKeyPairSpec{types.DataKeyPairSpecEccSecgP256k1, types.DataKeyPairSpecEccNistEdwards25519} {
		out, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(id), KeyPairSpec: spec})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.decrypt(t, out.PrivateKeyCiphertextBlob, nil), out.PrivateKeyPlaintext) || out.KeyPairSpec != spec {
			t.Fatalf("%s: the blob does not hold the private key", spec)
		}
		dir := t.TempDir()
		writeTemp(t, dir, "priv.der", out.PrivateKeyPlaintext)
		mustOSSL(t, dir, "pkey", "-inform", "DER", "-in", "priv.der", "-pubout", "-outform", "DER", "-out", "pub.der")
		pub, err := os.ReadFile(filepath.Join(dir, "pub.der"))
		if err != nil || !bytes.Equal(pub, out.PublicKey) {
			t.Fatalf("%s: OpenSSL derives another public key from the private key", spec)
		}
		// With Recipient, the private key only for the enclave.
		rout, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(id), KeyPairSpec: spec, Recipient: e.recipient(e.doc(t))})
		if err != nil || rout.PrivateKeyPlaintext != nil {
			t.Fatalf("%s with Recipient: %v", spec, err)
		}
		if !bytes.Equal(e.open(t, rout.CiphertextForRecipient), e.decrypt(t, rout.PrivateKeyCiphertextBlob, nil)) {
			t.Fatalf("%s: CiphertextForRecipient and the blob hold different keys", spec)
		}
	}
	for _, spec := range []types.DataKeyPairSpec{types.DataKeyPairSpecSm2, types.DataKeyPairSpecMlKem512, types.DataKeyPairSpecMlKem768} {
		_, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(id), KeyPairSpec: spec})
		wantCode(t, err, CodeUnsupportedOperation)
	}
}
