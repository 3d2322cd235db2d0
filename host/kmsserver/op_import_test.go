// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func createExternalKey(t *testing.T, client *awskms.Client) string {
	t.Helper()
	out, err := client.CreateKey(context.Background(), &awskms.CreateKeyInput{Origin: types.OriginTypeExternal})
	if err != nil {
		t.Fatalf("CreateKey Origin EXTERNAL: %v", err)
	}
	if out.KeyMetadata.KeyState != types.KeyStatePendingImport || out.KeyMetadata.Origin != types.OriginTypeExternal {
		t.Fatalf("new EXTERNAL key: state %s origin %s", out.KeyMetadata.KeyState, out.KeyMetadata.Origin)
	}
	return *out.KeyMetadata.KeyId
}

func importParams(t *testing.T, client *awskms.Client, key string, alg types.AlgorithmSpec) *awskms.GetParametersForImportOutput {
	t.Helper()
	p, err := client.GetParametersForImport(context.Background(), &awskms.GetParametersForImportInput{KeyId: aws.String(key),
		WrappingAlgorithm: alg, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		t.Fatalf("GetParametersForImport: %v", err)
	}
	return p
}

func wrapMaterial(t *testing.T, pubDER, material []byte) []byte {
	t.Helper()
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), material, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// TestImportKeyMaterialOpenSSL: key material wrapped by OpenSSL (OAEP with
// SHA-256) against GetParametersForImport's public key imports; the key
// then encrypts and decrypts, and its ciphertext is the material's: after
// DeleteImportedKeyMaterial (PendingImport, Encrypt refused) and a
// reimport of the same material, the old ciphertext opens again.
func TestImportKeyMaterialOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	env := newEnv(t, nil)
	ctx := context.Background()
	key := createExternalKey(t, env.client)
	_, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x")})
	wantCode(t, err, CodeInvalidState)

	p := importParams(t, env.client, key, types.AlgorithmSpecRsaesOaepSha256)
	if until := time.Until(*p.ParametersValidTo); until < 23*time.Hour || until > 25*time.Hour {
		t.Errorf("ParametersValidTo in %v, want 24 h", until)
	}
	dir := t.TempDir()
	material := bytes.Repeat([]byte{0x5a}, 32)
	for name, b := range map[string][]byte{"pub.der": p.PublicKey, "material.bin": material} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("openssl", "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", "pub.der",
		"-in", "material.bin", "-out", "wrapped.bin",
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	wrapped, err := os.ReadFile(filepath.Join(dir, "wrapped.bin"))
	if err != nil {
		t.Fatal(err)
	}
	imp, err := env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(key),
		ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	if err != nil {
		t.Fatalf("ImportKeyMaterial: %v", err)
	}
	d, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(key)})
	if err != nil || d.KeyMetadata.KeyState != types.KeyStateEnabled || d.KeyMetadata.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire ||
		aws.ToString(d.KeyMetadata.CurrentKeyMaterialId) != aws.ToString(imp.KeyMaterialId) {
		t.Fatalf("DescribeKey after import: %+v %v", d, err)
	}
	enc, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("imported")})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "imported" {
		t.Fatalf("Decrypt: %q %v", dec.Plaintext, err)
	}

	if _, err := env.client.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	_, err = env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, CodeInvalidState)

	// Different material is refused; the same material comes back.
	p2 := importParams(t, env.client, key, types.AlgorithmSpecRsaesOaepSha256)
	_, err = env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(key), ImportToken: p2.ImportToken,
		EncryptedKeyMaterial: wrapMaterial(t, p2.PublicKey, bytes.Repeat([]byte{1}, 32))})
	wantCode(t, err, CodeIncorrectKeyMaterial)
	validTo := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	if _, err := env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(key), ImportToken: p2.ImportToken,
		EncryptedKeyMaterial: wrapMaterial(t, p2.PublicKey, material), ValidTo: &validTo}); err != nil {
		t.Fatalf("reimport: %v", err)
	}
	dec, err = env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "imported" {
		t.Fatalf("Decrypt after reimport: %q %v", dec.Plaintext, err)
	}
	d, _ = env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(key)})
	if d.KeyMetadata.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || d.KeyMetadata.ValidTo == nil || !d.KeyMetadata.ValidTo.Equal(validTo) {
		t.Fatalf("ValidTo: %+v", d.KeyMetadata)
	}
}

// TestImportAttacks: a token for key A does not import into key B; an
// expired token, an edited token, material wrapped under another key and
// imports into AWS_KMS keys are refused; imported material past ValidTo
// is unusable.
func TestImportAttacks(t *testing.T) {
	now := time.Now()
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	// The clock moves past the token's life; SigV4 is signed at real time.
	env := newEnv(t, func(c *Config) { c.Clock = func() time.Time { return *clock.Load() }; c.MaxClockSkew = 72 * time.Hour })
	ctx := context.Background()
	a, b := createExternalKey(t, env.client), createExternalKey(t, env.client)
	material := bytes.Repeat([]byte{7}, 32)
	pa := importParams(t, env.client, a, types.AlgorithmSpecRsaesOaepSha256)

	_, err := env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(b), ImportToken: pa.ImportToken,
		EncryptedKeyMaterial: wrapMaterial(t, pa.PublicKey, material)})
	wantCode(t, err, CodeInvalidImportToken)

	// An edited expiry or key ID does not open.
	var tok importToken
	if err := json.Unmarshal(pa.ImportToken, &tok); err != nil {
		t.Fatal(err)
	}
	for _, edit := range []func(*importToken){
		func(x *importToken) { x.Expires += 3600 },
		func(x *importToken) { x.KeyID = b },
		func(x *importToken) { x.Alg = "RSAES_OAEP_SHA_1" },
	} {
		x := tok
		edit(&x)
		forged, _ := json.Marshal(x)
		_, err = env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(a), ImportToken: forged,
			EncryptedKeyMaterial: wrapMaterial(t, pa.PublicKey, material)})
		wantCode(t, err, CodeInvalidImportToken)
	}
	_, err = env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(a), ImportToken: []byte("garbage"),
		EncryptedKeyMaterial: wrapMaterial(t, pa.PublicKey, material)})
	wantCode(t, err, CodeInvalidImportToken)

	// Material wrapped under another public key.
	pb := importParams(t, env.client, b, types.AlgorithmSpecRsaesOaepSha256)
	_, err = env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(a), ImportToken: pa.ImportToken,
		EncryptedKeyMaterial: wrapMaterial(t, pb.PublicKey, material)})
	wantCode(t, err, CodeInvalidCiphertext)

	// Expired token.
	later := now.Add(24*time.Hour + time.Second)
	clock.Store(&later)
	_, err = env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(a), ImportToken: pa.ImportToken,
		EncryptedKeyMaterial: wrapMaterial(t, pa.PublicKey, material)})
	wantCode(t, err, CodeExpiredImportToken)
	clock.Store(&now)

	// AWS_KMS keys take no import.
	own, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.client.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: own.KeyMetadata.KeyId,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	wantCode(t, err, CodeUnsupportedOperation)
	_, err = env.client.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: aws.String(a),
		WrappingAlgorithm: types.AlgorithmSpecRsaesPkcs1V15, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	wantCode(t, err, CodeUnsupportedOperation)
	_, err = env.client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: types.KeySpecEccNistEdwards25519, KeyUsage: types.KeyUsageTypeSignVerify})
	wantCode(t, err, CodeUnsupportedOperation)

	// Imported material expires at ValidTo.
	validTo := now.Add(time.Hour).Truncate(time.Second)
	if _, err := env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(a), ImportToken: pa.ImportToken,
		EncryptedKeyMaterial: wrapMaterial(t, pa.PublicKey, material), ValidTo: &validTo, ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(a), Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	expired := validTo.Add(time.Second)
	clock.Store(&expired)
	_, err = env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(a), Plaintext: []byte("x")})
	wantCode(t, err, CodeInvalidState)
	_, err = env.client.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(a)})
	wantCode(t, err, CodeUnsupportedOperation)
}

// TestImportPendingStates: a key without material stays unusable whatever
// EnableKey or CancelKeyDeletion does to its state.
func TestImportPendingStates(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	key := createExternalKey(t, env.client)
	env.client.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(key)})
	if _, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(key), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	env.client.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(key)})
	_, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x")})
	wantCode(t, err, CodeInvalidState)
	_, err = env.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(key), KeySpec: types.DataKeySpecAes256})
	wantCode(t, err, CodeInvalidState)
	d, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(key)})
	if err != nil || d.KeyMetadata.KeyState != types.KeyStatePendingImport {
		t.Fatalf("DescribeKey: %+v %v", d, err)
	}
}

// TestImportKeyMaterialLengths: an ImportToken or EncryptedKeyMaterial
// longer than KMS's 6144 bytes is ValidationException with KMS's
// constraint message naming the member (the API reference's Length
// Constraints), before the key or the token is looked at; a token one byte
// shorter is just an invalid token.
func TestImportKeyMaterialLengths(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	key := createExternalKey(t, env.client)
	p := importParams(t, env.client, key, types.AlgorithmSpecRsaesOaepSha256)
	enc := wrapMaterial(t, p.PublicKey, bytes.Repeat([]byte{7}, 32))
	for _, tc := range []struct {
		member     string
		token, enc []byte
	}{
		{"importToken", make([]byte, 6145), enc},
		{"encryptedKeyMaterial", p.ImportToken, make([]byte, 6145)},
	} {
		_, err := env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(key),
			ImportToken: tc.token, EncryptedKeyMaterial: tc.enc})
		e := wantCode(t, err, CodeValidation)
		want := "1 validation error detected: Value at '" + tc.member + "' failed to satisfy constraint: Member must have length less than or equal to 6144"
		if e.Message != want {
			t.Errorf("%s: message %q, want %q", tc.member, e.Message, want)
		}
	}
	_, err := env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(key),
		ImportToken: make([]byte, 6144), EncryptedKeyMaterial: enc})
	wantCode(t, err, CodeInvalidImportToken)
}

// tagReadingPolicy is a key policy with a statement that reads
// aws:ResourceTag, so that authorization verifies the key's tags.
const tagReadingPolicy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
 {"Sid":"NoQuarantined","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
  "Condition":{"StringEquals":{"aws:ResourceTag/quarantine":"yes"}}}]}`

// TestImportExpiredWithResourceTagPolicy: an imported key whose material
// has passed its ValidTo is PendingImport for every request, also when a
// policy reads aws:ResourceTag (which verifies the record once more): it
// is described as PendingImport, refused for use with
// KMSInvalidStateException, and the same material imported again makes it
// usable. The record's own state (Enabled) is what it was sealed with.
func TestImportExpiredWithResourceTagPolicy(t *testing.T) {
	now := time.Now()
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	env := newEnv(t, func(c *Config) { c.Clock = func() time.Time { return *clock.Load() }; c.MaxClockSkew = 72 * time.Hour })
	ctx := context.Background()
	out, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, Policy: aws.String(tagReadingPolicy),
		Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	id := *out.KeyMetadata.KeyId
	material := bytes.Repeat([]byte{9}, 32)
	imp := func(validTo time.Time) error {
		p := importParams(t, env.client, id, types.AlgorithmSpecRsaesOaepSha256)
		_, err := env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken,
			EncryptedKeyMaterial: wrapMaterial(t, p.PublicKey, material),
			ExpirationModel:      types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(validTo)})
		return err
	}
	if err := imp(now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	blob := env.encrypt(t, id, []byte("secret"), nil)

	later := now.Add(2 * time.Hour) // the material has expired
	clock.Store(&later)
	d, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeKey of a key whose imported material expired: %v", err)
	}
	if d.KeyMetadata.KeyState != types.KeyStatePendingImport || d.KeyMetadata.Enabled {
		t.Errorf("KeyState %s, Enabled %v; want PendingImport, false", d.KeyMetadata.KeyState, d.KeyMetadata.Enabled)
	}
	_, err = env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeInvalidState)
	_, err = env.client.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, CodeInvalidState)
	if err := imp(later.Add(time.Hour)); err != nil {
		t.Fatalf("re-importing the same material after expiry: %v", err)
	}
	dec, err := env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	if err != nil || string(dec.Plaintext) != "secret" {
		t.Fatalf("Decrypt after re-import: %v", err)
	}
}

// TestEnableKeyPendingImport: EnableKey on a key without imported material
// (never imported, deleted with DeleteImportedKeyMaterial, or back from a
// cancelled deletion) is KMSInvalidStateException, as in AWS, and the key
// stays PendingImport and describable, also under a policy that reads
// aws:ResourceTag.
func TestEnableKeyPendingImport(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	out, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, Policy: aws.String(tagReadingPolicy)})
	if err != nil {
		t.Fatal(err)
	}
	id := *out.KeyMetadata.KeyId
	check := func(when string) {
		t.Helper()
		_, err := env.client.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(id)})
		if ae := wantCode(t, err, CodeInvalidState); !strings.Contains(ae.Message, "pending import") {
			t.Errorf("%s: EnableKey message %q does not say the key is pending import", when, ae.Message)
		}
		d, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
		if err != nil {
			t.Fatalf("%s: DescribeKey after EnableKey: %v", when, err)
		}
		if d.KeyMetadata.KeyState != types.KeyStatePendingImport {
			t.Errorf("%s: KeyState %s, want PendingImport", when, d.KeyMetadata.KeyState)
		}
	}
	check("never imported")
	if _, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	check("deletion cancelled")
	p := importParams(t, env.client, id, types.AlgorithmSpecRsaesOaepSha256)
	if _, err := env.client.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapMaterial(t, p.PublicKey, bytes.Repeat([]byte{7}, 32)),
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	check("material deleted")
}
