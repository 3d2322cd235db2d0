// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Security review findings (see the review report). These tests fail until
// host/kms fixes them.

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// TestReviewTargetMustBeSigned: X-Amz-Target chooses the operation, so a
// signature that does not cover it does not authenticate what is done. A
// request signed (e.g. by curl --aws-sigv4, which signs only host and
// x-amz-date) as DescribeKey {"KeyId":K} can be replayed within the clock
// skew as DisableKey or ScheduleKeyDeletion of K. Expected: refused with
// InvalidSignatureException (or IncompleteSignatureException) whenever
// x-amz-target is not in SignedHeaders.
func TestReviewTargetMustBeSigned(t *testing.T) {
	env := newEnv(t, nil)
	key := env.createKey(t)
	body := []byte(`{"KeyId":"` + key + `"}`)

	req, _ := http.NewRequest("POST", env.ts.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	// The operation is chosen after signing.
	req.Header.Set("X-Amz-Target", "TrentService.DisableKey")
	hdr := map[string]string{}
	for k := range req.Header {
		hdr[k] = req.Header.Get(k)
	}
	status, code, resp := rawPost(t, env.ts.URL+"/", hdr, body)

	out, err := env.client.DescribeKey(context.Background(), &awskms.DescribeKeyInput{KeyId: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if !out.KeyMetadata.Enabled {
		t.Errorf("an operation outside the signature (X-Amz-Target unsigned) disabled the key: %d %s %s", status, code, resp)
	}
	if code != CodeInvalidSignature && code != CodeIncompleteSignature {
		t.Errorf("unsigned X-Amz-Target: %d %q, want %s or %s", status, code, CodeInvalidSignature, CodeIncompleteSignature)
	}
}

// TestReviewRecipientKeyRejectedAsValidation: checkRecipient (keys.go)
// accepts any RSA key of 2048 to 4096 bits, but recipient.Seal also refuses
// an even modulus or an exponent below 65537; such a caller-supplied key
// then surfaces as KMSInternalException (HTTP 500, logged as a server
// error) after the operation ran. A bad Recipient key is the caller's
// error: expected ValidationException, before any key is used.
func TestReviewRecipientKeyRejectedAsValidation(t *testing.T) {
	e := newRecipientEnv(t, nil)
	weak := &rsa.PublicKey{N: e.priv.N, E: 3}
	spki, err := x509.MarshalPKIXPublicKey(weak)
	if err != nil {
		t.Fatal(err)
	}
	doc := e.doc(t, func(d *attestation.Document) { d.PublicKey = spki })
	_, err = e.client.GenerateRandom(context.Background(), &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(32), Recipient: e.recipient(doc)})
	wantCode(t, err, CodeValidation)
}

// TestReviewAliasRecordIntegrity: wrapAAD binds a key record's ID, spec,
// usage and policy, so a key-store writer without the root key cannot
// loosen a key (TestRecordIntegrity). Alias records are not bound at all:
// the same writer can repoint alias/app at another key (one whose policy it
// controls), and every GenerateDataKey or Encrypt by alias then encrypts
// under that key, whose CiphertextBlobs the writer can decrypt. Expected:
// an alias whose record was not written by the server is refused (e.g.
// KMSInternalException, as for a tampered key record) — or, if that is
// accepted as out of scope, the wrapAAD comment should say aliases are not
// protected and this test be dropped.
func TestReviewAliasRecordIntegrity(t *testing.T) {
	store, err := keystore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	env := newEnv(t, func(c *Config) { c.Store = store })
	ctx := context.Background()
	app, other := env.createKey(t), env.createKey(t)
	if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(app)}); err != nil {
		t.Fatal(err)
	}

	// Behind the server's back.
	if err := store.DeleteAlias(ctx, "alias/app"); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateAlias(ctx, keystore.Alias{Name: "alias/app", KeyID: other, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	out, err := env.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String("alias/app"), NumberOfBytes: aws.Int32(32)})
	if err == nil {
		t.Fatalf("GenerateDataKey by a repointed alias succeeded under key %s (alias/app was created for %s)", aws.ToString(out.KeyId), app)
	}
	wantCode(t, err, CodeInternal)
}

// TestReviewForeignPrincipalCannotCreateKeysOrAliases: CreateKey
// (ops_admin.go createKey) authorizes nobody, and CreateAlias authorizes
// only against the target key's policy, which the caller wrote. A
// principal of another account (arn:aws:iam::444455556666:user/stranger)
// can therefore create a key in this server's account (111122223333) whose
// policy lets everyone use it, and claim a free alias name such as
// alias/prod: every GenerateDataKey by that alias then encrypts under the
// stranger's key, and the stranger decrypts the CiphertextBlobs. In AWS,
// CreateKey and CreateAlias are IAM actions of the key's own account and
// cannot be called cross-account. Expected: AccessDeniedException for a
// principal outside Config.AccountID (at least for CreateAlias).
func TestReviewForeignPrincipalCannotCreateKeysOrAliases(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	stranger := env.clientFor("AKIAOTHERPRINCIPAL01", "other-secret")
	open := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`
	ck, err := stranger.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(open)})
	if err == nil {
		_, err = stranger.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/prod"), TargetKeyId: ck.KeyMetadata.KeyId})
		if err == nil {
			out, gerr := env.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String("alias/prod"), NumberOfBytes: aws.Int32(32)})
			if gerr == nil {
				t.Errorf("a principal of another account claimed alias/prod: this account's GenerateDataKey now uses its key %s", aws.ToString(out.KeyId))
			}
		}
	}
	wantCode(t, err, CodeAccessDenied)
}

// TestForeignPrincipalCannotDeleteAlias: DeleteAlias is refused to a
// principal of another account even when the key's policy would allow it.
func TestForeignPrincipalCannotDeleteAlias(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	open := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`
	ck, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(open)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/prod"), TargetKeyId: ck.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	stranger := env.clientFor("AKIAOTHERPRINCIPAL01", "other-secret")
	_, err = stranger.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/prod")})
	wantCode(t, err, CodeAccessDenied)
}

func TestPrincipalAccount(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:iam::111122223333:user/dev":                      "111122223333",
		"arn:aws:iam::111122223333:root":                          "111122223333",
		"arn:aws:sts::444455556666:assumed-role/r/session":        "444455556666",
		"arn:aws-cn:iam::111122223333:role/x":                     "111122223333",
		"arn:aws:kms:us-east-1:111122223333:key/x":                "",
		"arn:aws:iam:us-east-1:111122223333:user/regional-is-bad": "",
		"111122223333": "",
		"":             "",
	} {
		if got := principalAccount(in); got != want {
			t.Errorf("principalAccount(%q) = %q, want %q", in, got, want)
		}
	}
}
