// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keywrap"
)

// opensslRSAAES wraps material for import with RSA_AES_KEY_WRAP_SHA_1 or
// _SHA_256 exactly as AWS's import instructions do with OpenSSL: a fresh
// 256-bit AES key, `openssl enc -id-aes256-wrap-pad` of the material under
// it, `openssl pkeyutl -encrypt` of the AES key with OAEP (and MGF1) of md,
// and the two concatenated, the RSA ciphertext first.
func opensslRSAAES(t *testing.T, pubDER, material []byte, md string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "WrappingPublicKey.bin"), pubDER, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "PlaintextKeyMaterial.bin"), material, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) { mustOSSL(t, dir, args...) }
	run("rand", "-out", "aes-key.bin", "32")
	aesKey, err := os.ReadFile(filepath.Join(dir, "aes-key.bin"))
	if err != nil {
		t.Fatal(err)
	}
	run("enc", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(aesKey), "-iv", "A65959A6",
		"-in", "PlaintextKeyMaterial.bin", "-out", "key-material-wrapped.bin")
	run("pkeyutl", "-encrypt", "-in", "aes-key.bin", "-out", "aes-key-wrapped.bin",
		"-inkey", "WrappingPublicKey.bin", "-keyform", "DER", "-pubin",
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
	var out []byte
	for _, f := range []string{"aes-key-wrapped.bin", "key-material-wrapped.bin"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// goRSAAES is opensslRSAAES in Go, with the parts exposed for the attack
// tests: the AES key and the RSA-OAEP hash are the caller's.
func goRSAAES(t *testing.T, pubDER, aesKey, material []byte, h hash.Hash) []byte {
	t.Helper()
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := rsa.EncryptOAEP(h, rand.Reader, pub.(*rsa.PublicKey), aesKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	wm, err := keywrap.Wrap(aesKey, material)
	if err != nil {
		t.Fatal(err)
	}
	return append(ek, wm...)
}

// TestImportRSAAESOpenSSL: an ECC_NIST_P256 private key made and wrapped
// by OpenSSL with RSA_AES_KEY_WRAP_SHA_1 and _SHA_256, under each wrapping
// key spec, imports through the official client (RSA_AES wraps RSA and ECC
// material only); the key's public key is OpenSSL's, and its signatures
// verify under it.
func TestImportRSAAESOpenSSL(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		alg  types.AlgorithmSpec
		md   string
		spec types.WrappingKeySpec
	}{
		{types.AlgorithmSpecRsaAesKeyWrapSha256, "sha256", types.WrappingKeySpecRsa2048},
		{types.AlgorithmSpecRsaAesKeyWrapSha1, "sha1", types.WrappingKeySpecRsa3072},
		{types.AlgorithmSpecRsaAesKeyWrapSha256, "sha256", types.WrappingKeySpecRsa4096},
	} {
		t.Run(string(tc.alg)+"/"+string(tc.spec), func(t *testing.T) {
			key := createExternalKeyOf(t, env.client, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
			p, err := env.client.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: aws.String(key),
				WrappingAlgorithm: tc.alg, WrappingKeySpec: tc.spec})
			if err != nil {
				t.Fatalf("GetParametersForImport: %v", err)
			}
			material, spki := opensslKey(t, "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
			enc := opensslRSAAES(t, p.PublicKey, material, tc.md)
			if _, err := env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(key),
				ImportToken: p.ImportToken, EncryptedKeyMaterial: enc, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
				t.Fatalf("ImportKeyMaterial: %v", err)
			}
			checkImportedP256(t, env, key, spki)
		})
	}
}

// checkImportedP256 checks that ECC_NIST_P256 key id has the public key
// spki and signs under it.
func checkImportedP256(t *testing.T, env *testEnv, id string, spki []byte) {
	t.Helper()
	ctx := context.Background()
	gp, err := env.client.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
	if err != nil || !bytes.Equal(gp.PublicKey, spki) {
		t.Fatalf("GetPublicKey is not the imported key's public key: %v", err)
	}
	msg := []byte("signed with imported material")
	out, err := env.client.Sign(ctx, &awskms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], out.Signature) {
		t.Fatal("the server's signature does not verify under the imported key's public key")
	}
}

// createExternalKeyOf creates a key of spec and usage with Origin EXTERNAL.
func createExternalKeyOf(t *testing.T, client *awskms.Client, spec types.KeySpec, usage types.KeyUsageType) string {
	t.Helper()
	out, err := client.CreateKey(context.Background(), &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("CreateKey %s EXTERNAL: %v", spec, err)
	}
	return *out.KeyMetadata.KeyId
}

// TestImportRSAAESAttacks: an RSA_AES import fails with the same
// InvalidCiphertextException whichever step is wrong (the RSA part under
// another key or hash, an AES key of the wrong size, a changed or cut AES
// part, material under another AES key), so the server is no oracle for
// which; RSAES material under an RSA_AES token and the reverse fail too;
// the right material still imports afterwards.
func TestImportRSAAESAttacks(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	p256 := func() string {
		return createExternalKeyOf(t, env.client, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	}
	key, other := p256(), p256() // RSA_AES wraps RSA and ECC material only
	p := importParams(t, env.client, key, types.AlgorithmSpecRsaAesKeyWrapSha256)
	po := importParams(t, env.client, other, types.AlgorithmSpecRsaAesKeyWrapSha256)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	material, err := x509.MarshalPKCS8PrivateKey(ek)
	if err != nil {
		t.Fatal(err)
	}
	aesKey := bytes.Repeat([]byte{0x17}, 32)
	good := goRSAAES(t, p.PublicKey, aesKey, material, sha256.New())

	flipped := bytes.Clone(good)
	flipped[len(flipped)-3] ^= 1
	otherAES := goRSAAES(t, p.PublicKey, aesKey, material, sha256.New())
	copy(otherAES[256:], goRSAAES(t, p.PublicKey, bytes.Repeat([]byte{0x18}, 32), material, sha256.New())[256:])
	cases := map[string][]byte{
		"another wrapping key": goRSAAES(t, po.PublicKey, aesKey, material, sha256.New()),
		"OAEP with SHA-1":      goRSAAES(t, p.PublicKey, aesKey, material, sha1.New()),
		"128-bit AES key":      goRSAAES(t, p.PublicKey, aesKey[:16], material, sha256.New()),
		"flipped AES part":     flipped,
		"cut AES part":         good[:len(good)-8],
		"RSA part only":        good[:256],
		"AES part of another":  otherAES,
		"RSAES_OAEP_SHA_256":   wrapMaterial(t, p.PublicKey, material),
		"one byte":             good[:1],
	}
	var msg string
	for name, enc := range cases {
		_, err := env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(key),
			ImportToken: p.ImportToken, EncryptedKeyMaterial: enc})
		ae := wantCode(t, err, CodeInvalidCiphertext)
		if msg == "" {
			msg = ae.ErrorMessage()
		} else if ae.ErrorMessage() != msg {
			t.Errorf("%s: message %q differs from %q: the failures are told apart", name, ae.ErrorMessage(), msg)
		}
	}
	// RSA_AES material under an RSAES_OAEP token.
	po2 := importParams(t, env.client, key, types.AlgorithmSpecRsaesOaepSha256)
	_, err = env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(key),
		ImportToken: po2.ImportToken, EncryptedKeyMaterial: goRSAAES(t, po2.PublicKey, aesKey, material, sha256.New())})
	wantCode(t, err, CodeInvalidCiphertext)
	// Cut material, wrapped correctly.
	_, err = env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(key),
		ImportToken: p.ImportToken, EncryptedKeyMaterial: goRSAAES(t, p.PublicKey, aesKey, material[:16], sha256.New())})
	wantCode(t, err, CodeIncorrectKeyMaterial)

	if _, err := env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(key),
		ImportToken: p.ImportToken, EncryptedKeyMaterial: good}); err != nil {
		t.Fatalf("import after the failures: %v", err)
	}

	// Each failed import is audited with its code; neither the material
	// nor the AES key appears in the log, in any encoding.
	log := env.audit.String()
	if n := strings.Count(log, `"operation":"ImportKeyMaterial","principal"`); n < len(cases)+3 {
		t.Errorf("%d ImportKeyMaterial audit lines, want %d", n, len(cases)+3)
	}
	if n := strings.Count(log, `"errorCode":"InvalidCiphertextException"`); n != len(cases)+1 {
		t.Errorf("%d InvalidCiphertextException audit lines, want %d", n, len(cases)+1)
	}
	for _, secret := range [][]byte{material, aesKey} {
		for _, enc := range []string{hex.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret), string(secret)} {
			if strings.Contains(log, enc) {
				t.Fatalf("the audit log contains key material (%q)", enc)
			}
		}
	}
}

// BenchmarkUnwrapKeyMaterial measures the decryption of an import of
// 256-bit material under an RSA_2048 wrapping key: RSA_AES_KEY_WRAP_SHA_256
// (RSA-OAEP of the AES key, then AES Key Wrap with Padding) against its
// floor RSAES_OAEP_SHA_256 (RSA-OAEP of the material alone), same key
// (docs/PERFORMANCE.md).
func BenchmarkUnwrapKeyMaterial(b *testing.B) {
	der, err := os.ReadFile(filepath.Join("keyspec", "testdata", "bench-RSA_2048.der")) // fixed: same work in every run
	if err != nil {
		b.Fatal(err)
	}
	pk, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		b.Fatal(err)
	}
	priv := pk.(*rsa.PrivateKey)
	material := bytes.Repeat([]byte{0x42}, 32)
	oaep, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, material, nil)
	if err != nil {
		b.Fatal(err)
	}
	aesKey := bytes.Repeat([]byte{0x17}, 32)
	ek, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, aesKey, nil)
	if err != nil {
		b.Fatal(err)
	}
	wm, err := keywrap.Wrap(aesKey, material)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		alg string
		enc []byte
	}{{"RSAES_OAEP_SHA_256", oaep}, {"RSA_AES_KEY_WRAP_SHA_256", append(ek, wm...)}} {
		b.Run(tc.alg, func(b *testing.B) {
			for b.Loop() {
				if raw, err := unwrapKeyMaterial(priv, tc.alg, tc.enc); err != nil || !bytes.Equal(raw, material) {
					b.Fatal(err)
				}
			}
		})
	}
}
