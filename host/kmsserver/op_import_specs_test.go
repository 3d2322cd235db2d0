// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// opensslKey makes a private key with `openssl genpkey` and returns it as
// DER PKCS #8 (OpenSSL's form, with the public key for EC keys) and its
// DER SubjectPublicKeyInfo.
func opensslKey(t *testing.T, args ...string) (pkcs8, spki []byte) {
	t.Helper()
	dir := t.TempDir()
	run := func(a ...string) { mustOSSL(t, dir, a...) }
	run(append([]string{"genpkey", "-out", "key.pem"}, args...)...)
	// As AWS's instructions convert a private key for import.
	run("pkcs8", "-topk8", "-inform", "PEM", "-in", "key.pem", "-outform", "DER", "-nocrypt", "-out", "key.der")
	run("pkey", "-in", "key.pem", "-pubout", "-outform", "DER", "-out", "pub.der")
	var err error
	if pkcs8, err = os.ReadFile(filepath.Join(dir, "key.der")); err != nil {
		t.Fatal(err)
	}
	if spki, err = os.ReadFile(filepath.Join(dir, "pub.der")); err != nil {
		t.Fatal(err)
	}
	return pkcs8, spki
}

// importInto creates a key of spec and usage with Origin EXTERNAL and
// imports material wrapped as AWS's instructions wrap it with OpenSSL
// (RSA_AES_KEY_WRAP_SHA_256 unless alg says otherwise).
func importInto(t *testing.T, env *testEnv, spec types.KeySpec, usage types.KeyUsageType, alg types.AlgorithmSpec, material []byte) string {
	t.Helper()
	ctx := context.Background()
	out, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("CreateKey %s EXTERNAL: %v", spec, err)
	}
	id := *out.KeyMetadata.KeyId
	if err := importWith(t, env, id, alg, material); err != nil {
		t.Fatalf("ImportKeyMaterial %s: %v", spec, err)
	}
	return id
}

func importWith(t *testing.T, env *testEnv, id string, alg types.AlgorithmSpec, material []byte) error {
	t.Helper()
	p := importParams(t, env.client, id, alg)
	var enc []byte
	switch alg {
	case types.AlgorithmSpecRsaAesKeyWrapSha256:
		enc = opensslRSAAES(t, p.PublicKey, material, "sha256")
	case types.AlgorithmSpecRsaAesKeyWrapSha1:
		enc = opensslRSAAES(t, p.PublicKey, material, "sha1")
	default:
		enc = wrapMaterial(t, p.PublicKey, material)
	}
	_, err := env.client.ImportKeyMaterial(context.Background(), &awskms.ImportKeyMaterialInput{KeyId: aws.String(id),
		ImportToken: p.ImportToken, EncryptedKeyMaterial: enc})
	return err
}

// TestImportHMAC: HMAC keys take imported material of the hash output's
// length up to the block size (RSAES_OAEP_SHA_256: AWS wraps HMAC material
// with RSAES_OAEP only, and 128 bytes fit one RSA_2048 block);
// GenerateMac is HMAC under that material, computed here with crypto/hmac,
// and VerifyMac takes a MAC made here.
func TestImportHMAC(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	msg := []byte("MAC under imported material")
	for _, tc := range []struct {
		spec types.KeySpec
		alg  types.MacAlgorithmSpec
		n    int
		wrap types.AlgorithmSpec
	}{
		{types.KeySpecHmac256, types.MacAlgorithmSpecHmacSha256, 32, types.AlgorithmSpecRsaesOaepSha256},
		{types.KeySpecHmac256, types.MacAlgorithmSpecHmacSha256, 64, types.AlgorithmSpecRsaesOaepSha256},
		{types.KeySpecHmac512, types.MacAlgorithmSpecHmacSha512, 128, types.AlgorithmSpecRsaesOaepSha256},
	} {
		material := make([]byte, tc.n)
		rand.Read(material)
		id := importInto(t, env, tc.spec, types.KeyUsageTypeGenerateVerifyMac, tc.wrap, material)
		out, err := env.client.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String(id), MacAlgorithm: tc.alg, Message: msg})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New
		if tc.spec == types.KeySpecHmac512 {
			h = sha512.New
		}
		mac := hmac.New(h, material)
		mac.Write(msg)
		local := mac.Sum(nil)
		if !bytes.Equal(out.Mac, local) {
			t.Fatalf("%s with %d-byte material: GenerateMac differs from HMAC under the material", tc.spec, tc.n)
		}
		local[0] ^= 1
		if _, err := env.client.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: aws.String(id), MacAlgorithm: tc.alg, Message: msg, Mac: out.Mac}); err != nil {
			t.Fatal(err)
		}
		_, err = env.client.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: aws.String(id), MacAlgorithm: tc.alg, Message: msg, Mac: local})
		wantCode(t, err, CodeKMSInvalidMac)
	}
}

// TestImportAsymmetric: RSA and ECC private keys made by OpenSSL import
// (RSA_AES_KEY_WRAP); GetPublicKey is OpenSSL's public key; signatures of
// the server verify here, a signature made here verifies through Verify,
// and an RSA key imported for ENCRYPT_DECRYPT decrypts what is encrypted
// here. The same key reimports in Go's PKCS #8 form.
func TestImportAsymmetric(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	msg := []byte("signed with imported material")
	for _, tc := range []struct {
		spec    types.KeySpec
		genpkey []string
		alg     types.SigningAlgorithmSpec
		wrap    types.AlgorithmSpec
	}{
		{types.KeySpecEccNistP256, []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}, types.SigningAlgorithmSpecEcdsaSha256, types.AlgorithmSpecRsaAesKeyWrapSha256},
		{types.KeySpecEccNistP521, []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"}, types.SigningAlgorithmSpecEcdsaSha512, types.AlgorithmSpecRsaAesKeyWrapSha1},
		{types.KeySpecEccSecgP256k1, []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"}, types.SigningAlgorithmSpecEcdsaSha256, types.AlgorithmSpecRsaAesKeyWrapSha256},
		{types.KeySpecRsa2048, []string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"}, types.SigningAlgorithmSpecRsassaPssSha256, types.AlgorithmSpecRsaAesKeyWrapSha256},
		{types.KeySpecEccNistP384, []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"}, types.SigningAlgorithmSpecEcdsaSha384, types.AlgorithmSpecRsaesOaepSha256},
	} {
		t.Run(string(tc.spec), func(t *testing.T) {
			der, spki := opensslKey(t, tc.genpkey...)
			id := importInto(t, env, tc.spec, types.KeyUsageTypeSignVerify, tc.wrap, der)
			gp, err := env.client.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
			if err != nil || !bytes.Equal(gp.PublicKey, spki) {
				t.Fatalf("GetPublicKey is not OpenSSL's public key: %v", err)
			}
			out, err := env.client.Sign(ctx, &awskms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: tc.alg})
			if err != nil {
				t.Fatal(err)
			}
			if tc.spec != types.KeySpecEccSecgP256k1 { // Go's x509 has no secp256k1: Verify below covers it
				pub, err := x509.ParsePKIXPublicKey(spki)
				if err != nil {
					t.Fatal(err)
				}
				h := crypto.SHA256
				if tc.alg == types.SigningAlgorithmSpecEcdsaSha384 {
					h = crypto.SHA384
				} else if tc.alg == types.SigningAlgorithmSpecEcdsaSha512 {
					h = crypto.SHA512
				}
				d := h.New()
				d.Write(msg)
				ok := false
				switch p := pub.(type) {
				case *ecdsa.PublicKey:
					ok = ecdsa.VerifyASN1(p, d.Sum(nil), out.Signature)
				case *rsa.PublicKey:
					ok = rsa.VerifyPSS(p, h, d.Sum(nil), out.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
				}
				if !ok {
					t.Fatal("the server's signature does not verify under OpenSSL's public key")
				}
				// A signature made here with the original key.
				priv, err := x509.ParsePKCS8PrivateKey(der)
				if err != nil {
					t.Fatal(err)
				}
				var local []byte
				switch k := priv.(type) {
				case *ecdsa.PrivateKey:
					local, err = ecdsa.SignASN1(rand.Reader, k, d.Sum(nil))
				case *rsa.PrivateKey:
					local, err = rsa.SignPSS(rand.Reader, k, h, d.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
				}
				if err != nil {
					t.Fatal(err)
				}
				if v, err := env.client.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(id), Message: msg, Signature: local, SigningAlgorithm: tc.alg}); err != nil || !v.SignatureValid {
					t.Fatalf("Verify of a local signature: %v", err)
				}
			}
			if v, err := env.client.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(id), Message: msg, Signature: out.Signature, SigningAlgorithm: tc.alg}); err != nil || !v.SignatureValid {
				t.Fatalf("Verify: %v", err)
			}

			// Deleted, the key cannot sign; the same key in Go's PKCS #8
			// form brings it back with the same public key.
			if _, err := env.client.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)}); err != nil {
				t.Fatal(err)
			}
			_, err = env.client.Sign(ctx, &awskms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: tc.alg})
			wantCode(t, err, CodeInvalidState)
			_, err = env.client.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
			wantCode(t, err, CodeInvalidState)
			if tc.spec != types.KeySpecEccSecgP256k1 {
				priv, _ := x509.ParsePKCS8PrivateKey(der)
				goDER, err := x509.MarshalPKCS8PrivateKey(priv)
				if err != nil {
					t.Fatal(err)
				}
				if err := importWith(t, env, id, types.AlgorithmSpecRsaAesKeyWrapSha256, goDER); err != nil {
					t.Fatalf("reimport in Go's PKCS #8 form: %v", err)
				}
			} else if err := importWith(t, env, id, types.AlgorithmSpecRsaAesKeyWrapSha256, der); err != nil {
				t.Fatalf("reimport: %v", err)
			}
			gp2, err := env.client.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
			if err != nil || !bytes.Equal(gp2.PublicKey, spki) {
				t.Fatalf("GetPublicKey after the reimport: %v", err)
			}
		})
	}

	// RSA for ENCRYPT_DECRYPT: what is encrypted here decrypts there.
	der, spki := opensslKey(t, "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
	id := importInto(t, env, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt, types.AlgorithmSpecRsaAesKeyWrapSha256, der)
	pub, _ := x509.ParsePKIXPublicKey(spki)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), []byte("for the imported RSA key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := env.client.Decrypt(ctx, &awskms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil || string(dec.Plaintext) != "for the imported RSA key" {
		t.Fatalf("Decrypt: %q %v", dec.Plaintext, err)
	}
}

// TestImportSpecRefusals: material of the wrong spec, curve, size or form,
// or whose embedded public key is not its own (OpenSSL's `pkey -check`
// refuses such a key; crypto/x509 alone would import it, dropping the
// public key), is IncorrectKeyMaterialException; another key is refused on reimport;
// specs this server does not import are refused at CreateKey.
func TestImportSpecRefusals(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	p256, _ := opensslKey(t, "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	p384, _ := opensslKey(t, "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")
	k1, _ := opensslKey(t, "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1")
	ed, _ := opensslKey(t, "-algorithm", "ED25519")
	rsaDER, _ := opensslKey(t, "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
	priv, err := x509.ParsePKCS8PrivateKey(rsaDER)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(priv.(*rsa.PrivateKey))
	// OpenSSL's P-256 PKCS #8 with the embedded public key replaced:
	// another key's, and a point off the curve.
	withPub := func(pub []byte) []byte {
		k, err := x509.ParsePKCS8PrivateKey(p256)
		if err != nil {
			t.Fatal(err)
		}
		own, err := k.(*ecdsa.PrivateKey).PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out := bytes.Clone(p256)
		at := bytes.Index(out, own)
		if at < 0 {
			t.Fatal("no public key in OpenSSL's P-256 PKCS #8")
		}
		copy(out[at:], pub)
		return out
	}
	_, otherSPKI := opensslKey(t, "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	otherPub, err := x509.ParsePKIXPublicKey(otherSPKI)
	if err != nil {
		t.Fatal(err)
	}
	otherPoint, err := otherPub.(*ecdsa.PublicKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	external := func(spec types.KeySpec, usage types.KeyUsageType) string {
		out, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: spec, KeyUsage: usage})
		if err != nil {
			t.Fatalf("CreateKey %s EXTERNAL: %v", spec, err)
		}
		return *out.KeyMetadata.KeyId
	}
	ecKey := external(types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	rsaKey := external(types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	hmac224 := external(types.KeySpecHmac224, types.KeyUsageTypeGenerateVerifyMac)
	hmac512 := external(types.KeySpecHmac512, types.KeyUsageTypeGenerateVerifyMac)
	for name, tc := range map[string]struct {
		id       string
		material []byte
	}{
		"P-384 into P-256":                    {ecKey, p384},
		"secp256k1 into P-256":                {ecKey, k1},
		"Ed25519 into P-256":                  {ecKey, ed},
		"P-256 into RSA_2048":                 {rsaKey, p256},
		"RSA in PKCS #1 form":                 {rsaKey, pkcs1},
		"garbage into P-256":                  {ecKey, bytes.Repeat([]byte{0x30}, 100)},
		"P-256 with another key's public key": {ecKey, withPub(otherPoint)},
		"P-256 with a point off the curve":    {ecKey, withPub(append([]byte{4}, make([]byte, 64)...))},
		"27 bytes into HMAC_224":              {hmac224, make([]byte, 27)},
		"65 bytes into HMAC_224":              {hmac224, make([]byte, 65)},
		"129 bytes into HMAC_512":             {hmac512, make([]byte, 129)},
		"63 bytes into HMAC_512":              {hmac512, make([]byte, 63)},
	} {
		t.Run(name, func(t *testing.T) {
			alg := types.AlgorithmSpecRsaAesKeyWrapSha256
			if tc.id == hmac224 || tc.id == hmac512 { // RSA_AES wraps RSA and ECC material only
				alg = types.AlgorithmSpecRsaesOaepSha256
			}
			wantCode(t, importWith(t, env, tc.id, alg, tc.material), CodeIncorrectKeyMaterial)
		})
	}
	if err := importWith(t, env, ecKey, types.AlgorithmSpecRsaAesKeyWrapSha256, p256); err != nil {
		t.Fatal(err)
	}
	other, _ := opensslKey(t, "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	wantCode(t, importWith(t, env, ecKey, types.AlgorithmSpecRsaAesKeyWrapSha256, other), CodeIncorrectKeyMaterial)

	for _, tc := range []struct {
		spec  types.KeySpec
		usage types.KeyUsageType
	}{
		{types.KeySpecEccNistEdwards25519, types.KeyUsageTypeSignVerify},
		{types.KeySpecMlDsa65, types.KeyUsageTypeSignVerify},
		{types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate},
	} {
		_, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: tc.spec, KeyUsage: tc.usage})
		wantCode(t, err, CodeUnsupportedOperation)
	}
}
