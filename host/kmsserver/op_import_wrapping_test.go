// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestImportWrappingRules: the wrapping algorithm and wrapping key spec
// combinations AWS KMS documents as unsupported (GetParametersForImport's
// WrappingAlgorithm and WrappingKeySpec in the API reference, and the
// developer guide's "Encrypt the key material") are refused by
// GetParametersForImport with ValidationException, before a wrapping key
// is generated, through the official client:
//
//   - RSA private key material needs an RSA_AES wrapping algorithm;
//   - RSA_AES wrapping algorithms wrap RSA and ECC key material only;
//   - RSAES_OAEP with an RSA_2048 wrapping key cannot wrap ECC_NIST_P521;
//   - in China Regions RSA_AES is not supported (UnsupportedOperation),
//     and SM2 wrapping is China-only and not implemented here.
//
// The combinations that remain are accepted.
func TestImportWrappingRules(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	key := func(spec types.KeySpec, usage types.KeyUsageType) string {
		out, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: spec, KeyUsage: usage})
		if err != nil {
			t.Fatalf("CreateKey %s EXTERNAL: %v", spec, err)
		}
		return *out.KeyMetadata.KeyId
	}
	params := func(c *awskms.Client, id string, alg types.AlgorithmSpec, ws types.WrappingKeySpec) error {
		_, err := c.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: aws.String(id), WrappingAlgorithm: alg, WrappingKeySpec: ws})
		return err
	}
	ids := map[types.KeySpec]string{
		types.KeySpecSymmetricDefault: key(types.KeySpecSymmetricDefault, ""),
		types.KeySpecHmac256:          key(types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac),
		types.KeySpecRsa2048:          key(types.KeySpecRsa2048, types.KeyUsageTypeSignVerify),
		types.KeySpecRsa4096:          key(types.KeySpecRsa4096, types.KeyUsageTypeEncryptDecrypt),
		types.KeySpecEccNistP256:      key(types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify),
		types.KeySpecEccNistP521:      key(types.KeySpecEccNistP521, types.KeyUsageTypeSignVerify),
		types.KeySpecEccSecgP256k1:    key(types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify),
	}
	refused := []struct {
		spec types.KeySpec
		alg  types.AlgorithmSpec
		ws   types.WrappingKeySpec
		msg  []string // what the message must say
	}{
		{types.KeySpecRsa2048, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa4096, []string{"RSA_2048", "RSA_AES_KEY_WRAP_SHA_256"}},
		{types.KeySpecRsa4096, types.AlgorithmSpecRsaesOaepSha1, types.WrappingKeySpecRsa3072, []string{"RSA_4096", "RSA_AES_KEY_WRAP_SHA_256"}},
		{types.KeySpecSymmetricDefault, types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa3072, []string{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256"}},
		{types.KeySpecSymmetricDefault, types.AlgorithmSpecRsaAesKeyWrapSha1, types.WrappingKeySpecRsa2048, []string{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256"}},
		{types.KeySpecHmac256, types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa4096, []string{"HMAC_256", "RSAES_OAEP_SHA_256"}},
		{types.KeySpecEccNistP521, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048, []string{"ECC_NIST_P521", "RSA_2048", "RSA_3072", "RSA_AES_KEY_WRAP_SHA_256"}},
		{types.KeySpecEccNistP521, types.AlgorithmSpecRsaesOaepSha1, types.WrappingKeySpecRsa2048, []string{"ECC_NIST_P521", "RSA_2048"}},
	}
	for _, r := range refused {
		e := wantCode(t, params(env.client, ids[r.spec], r.alg, r.ws), CodeValidation)
		for _, m := range r.msg {
			if !strings.Contains(e.Message, m) {
				t.Errorf("%s with %s under %s: the message does not say %s: %s", r.spec, r.alg, r.ws, m, e.Message)
			}
		}
	}
	accepted := []struct {
		spec types.KeySpec
		alg  types.AlgorithmSpec
		ws   types.WrappingKeySpec
	}{
		{types.KeySpecSymmetricDefault, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048},
		{types.KeySpecHmac256, types.AlgorithmSpecRsaesOaepSha1, types.WrappingKeySpecRsa2048},
		{types.KeySpecRsa2048, types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa2048},
		{types.KeySpecRsa4096, types.AlgorithmSpecRsaAesKeyWrapSha1, types.WrappingKeySpecRsa2048},
		{types.KeySpecEccNistP256, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048},
		{types.KeySpecEccNistP256, types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa2048},
		{types.KeySpecEccSecgP256k1, types.AlgorithmSpecRsaesOaepSha1, types.WrappingKeySpecRsa2048},
		{types.KeySpecEccNistP521, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa3072},
		{types.KeySpecEccNistP521, types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa2048},
	}
	for _, a := range accepted {
		if err := params(env.client, ids[a.spec], a.alg, a.ws); err != nil {
			t.Errorf("%s with %s under %s: %v", a.spec, a.alg, a.ws, err)
		}
	}

	// SM2 wrapping is China-only in AWS and not implemented here.
	wantCode(t, params(env.client, ids[types.KeySpecSymmetricDefault], types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpec("SM2")), CodeUnsupportedOperation)
	wantCode(t, params(env.client, ids[types.KeySpecSymmetricDefault], types.AlgorithmSpec("SM2PKE"), types.WrappingKeySpecRsa2048), CodeUnsupportedOperation)

	// China Regions: RSA_AES is not supported.
	cnEnv := newEnv(t, func(c *Config) { c.Region = "cn-north-1" })
	opts := cnEnv.client.Options()
	opts.Region = "cn-north-1"
	cn := struct{ client *awskms.Client }{awskms.New(opts)}
	out, err := cn.client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	e := wantCode(t, params(cn.client, *out.KeyMetadata.KeyId, types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa2048), CodeUnsupportedOperation)
	if !strings.Contains(e.Message, "China") {
		t.Errorf("the refusal does not say why: %s", e.Message)
	}
	if err := params(cn.client, *out.KeyMetadata.KeyId, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048); err != nil {
		t.Errorf("RSAES_OAEP_SHA_256 in cn-north-1: %v", err)
	}
}

// TestImportWrappingRulesToken: ImportKeyMaterial checks the combination
// again, so a token minted for one that is refused (by a server from before
// the rules) does not import.
func TestImportWrappingRulesToken(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	id := createExternalKey(t, env.client)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	const alg = "RSA_AES_KEY_WRAP_SHA_256"
	expires := time.Now().Add(time.Hour).Unix()
	wrapped, err := env.srv.root.Wrap(rand.Reader, tokenBinding(id, alg, "RSA_2048", expires), der)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := json.Marshal(importToken{KeyID: id, Alg: alg, Spec: "RSA_2048", Expires: expires, Wrapped: wrapped})
	pub, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	material := make([]byte, 32)
	_, err = env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: tok,
		EncryptedKeyMaterial: opensslRSAAES(t, pub, material, "sha256"), ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	wantCode(t, err, CodeValidation)
	d, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if d.KeyMetadata.KeyState != types.KeyStatePendingImport {
		t.Fatalf("key state %s after a refused import", d.KeyMetadata.KeyState)
	}
}
