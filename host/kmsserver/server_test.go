// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
	"github.com/enclavekit/enclavekit/internal/pgtest"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

const (
	testAKID      = "AKIAENCLAVEKITTEST01"
	testSecret    = "enclavekit-test-secret-access-key-0000000"
	testPrincipal = "arn:aws:iam::111122223333:user/test"
	testAccount   = "111122223333"
)

// syncBuffer is a concurrency-safe audit sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	srv    *Server
	ts     *httptest.Server
	client *awskms.Client
	audit  *syncBuffer
	dir    string
	dbURL  string // the PostgreSQL schema when the backend is postgres
}

func newEnv(t testing.TB, mod func(*Config)) *testEnv {
	t.Helper()
	env := &testEnv{audit: &syncBuffer{}, dir: t.TempDir()}
	cfg := &Config{
		RootKey: bytes.Repeat([]byte{7}, 32),
		AccessKeys: map[string]AccessKey{
			testAKID:               {Secret: testSecret, PrincipalARN: testPrincipal, Policy: FullAccessPolicy},
			"AKIAOTHERPRINCIPAL01": {Secret: "other-secret", PrincipalARN: "arn:aws:iam::444455556666:user/stranger", Policy: FullAccessPolicy},
		},
		AccountID: testAccount,
		AuditLog:  env.audit,
	}
	if mod != nil {
		mod(cfg)
	}
	if cfg.Store == nil { // the test did not choose its store: the backend of this run
		if testBackend == backendPostgres {
			env.dbURL = pgtest.URL(t)
			cfg.Store = openPostgres(t, &postgres.Config{URL: env.dbURL})
		} else {
			cfg.Store = openDir(t, env.dir)
		}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	env.srv = srv
	env.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(env.ts.Close)
	env.client = env.clientFor(testAKID, testSecret)
	return env
}

// openDir opens the directory store in dir, closed when the test ends.
func openDir(t testing.TB, dir string) *keystore.Dir {
	t.Helper()
	d, err := keystore.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// openPostgres opens a PostgreSQL store, closed when the test ends.
func openPostgres(t testing.TB, cfg *postgres.Config) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (env *testEnv) clientFor(akid, secret string) *awskms.Client {
	return awskms.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""),
		HTTPClient:  sdkhttp.New(env.ts.Client()),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}, func(o *awskms.Options) { o.BaseEndpoint = aws.String(env.ts.URL) })
}

// wantCode asserts err is a KMS API error with the given code.
func wantCode(t testing.TB, err error, code string) *smithy.GenericAPIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T), want API error %s", err, err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	return &smithy.GenericAPIError{Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
}

func (env *testEnv) createKey(t testing.TB) string {
	t.Helper()
	out, err := env.client.CreateKey(context.Background(), &awskms.CreateKeyInput{Description: aws.String("test")})
	if err != nil {
		t.Fatal(err)
	}
	return *out.KeyMetadata.KeyId
}

func TestKeyLifecycle(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client

	ck, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("first")})
	if err != nil {
		t.Fatal(err)
	}
	md := ck.KeyMetadata
	id := *md.KeyId
	arn := "arn:aws:kms:us-east-1:111122223333:key/" + id
	if *md.Arn != arn || md.KeyState != types.KeyStateEnabled || !md.Enabled || md.KeySpec != types.KeySpecSymmetricDefault ||
		md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || *md.AWSAccountId != testAccount || md.CreationDate == nil {
		t.Fatalf("CreateKey metadata: %+v", md)
	}

	if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(id)})
	wantCode(t, err, CodeAlreadyExists)
	_, err = c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/aws/x"), TargetKeyId: aws.String(id)})
	wantCode(t, err, CodeInvalidAliasName)

	// Every form of key identifier.
	for _, ref := range []string{id, arn, "alias/app", "arn:aws:kms:us-east-1:111122223333:alias/app"} {
		d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(ref)})
		if err != nil {
			t.Fatalf("DescribeKey(%s): %v", ref, err)
		}
		if *d.KeyMetadata.KeyId != id || *d.KeyMetadata.Description != "first" {
			t.Fatalf("DescribeKey(%s): %+v", ref, d.KeyMetadata)
		}
	}
	for _, ref := range []string{"alias/none", "11111111-2222-4333-8444-555555555555", "arn:aws:kms:eu-west-1:111122223333:key/" + id} {
		_, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(ref)})
		wantCode(t, err, CodeNotFound)
	}

	id2 := env.createKey(t)
	id3 := env.createKey(t)
	lk, err := c.ListKeys(ctx, &awskms.ListKeysInput{Limit: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(lk.Keys) != 2 || !lk.Truncated || lk.NextMarker == nil {
		t.Fatalf("ListKeys page 1: %+v", lk)
	}
	lk2, err := c.ListKeys(ctx, &awskms.ListKeysInput{Limit: aws.Int32(2), Marker: lk.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	if len(lk2.Keys) != 1 || lk2.Truncated {
		t.Fatalf("ListKeys page 2: %+v", lk2)
	}
	seen := map[string]bool{}
	for _, k := range append(lk.Keys, lk2.Keys...) {
		seen[*k.KeyId] = true
		if *k.KeyArn != "arn:aws:kms:us-east-1:111122223333:key/"+*k.KeyId {
			t.Errorf("KeyArn %s", *k.KeyArn)
		}
	}
	if !seen[id] || !seen[id2] || !seen[id3] {
		t.Fatalf("ListKeys missed keys: %v", seen)
	}
	_, err = c.ListKeys(ctx, &awskms.ListKeysInput{Marker: aws.String("bogus")})
	wantCode(t, err, CodeInvalidMarker)

	if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/other"), TargetKeyId: aws.String(id2)}); err != nil {
		t.Fatal(err)
	}
	la, err := c.ListAliases(ctx, &awskms.ListAliasesInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if len(la.Aliases) != 1 || *la.Aliases[0].AliasName != "alias/app" || *la.Aliases[0].TargetKeyId != id ||
		*la.Aliases[0].AliasArn != "arn:aws:kms:us-east-1:111122223333:alias/app" {
		t.Fatalf("ListAliases: %+v", la.Aliases)
	}
	la, _ = c.ListAliases(ctx, &awskms.ListAliasesInput{})
	if len(la.Aliases) != 2 {
		t.Fatalf("ListAliases all: %d", len(la.Aliases))
	}
	if _, err := c.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/other")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/other")})
	wantCode(t, err, CodeNotFound)

	// Disable / enable.
	blob := env.encrypt(t, id, []byte("hello"), nil)
	if _, err := c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	d, _ := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	if d.KeyMetadata.KeyState != types.KeyStateDisabled || d.KeyMetadata.Enabled {
		t.Fatalf("after DisableKey: %+v", d.KeyMetadata)
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, CodeDisabled)
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeDisabled)
	_, err = c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	wantCode(t, err, CodeDisabled)
	if _, err := c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if pt := env.decrypt(t, blob, nil); string(pt) != "hello" {
		t.Fatalf("decrypt after enable: %q", pt)
	}

	// Scheduled deletion.
	sd, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	if sd.KeyState != types.KeyStatePendingDeletion || *sd.PendingWindowInDays != 7 || sd.DeletionDate == nil || *sd.KeyId != arn {
		t.Fatalf("ScheduleKeyDeletion: %+v", sd)
	}
	_, err = c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id2), PendingWindowInDays: aws.Int32(3)})
	wantCode(t, err, CodeValidation)
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeInvalidState)
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, CodeInvalidState)
	_, err = c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, CodeInvalidState)
	d, _ = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	if d.KeyMetadata.KeyState != types.KeyStatePendingDeletion || d.KeyMetadata.DeletionDate == nil {
		t.Fatalf("DescribeKey pending deletion: %+v", d.KeyMetadata)
	}
	if _, err := c.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	d, _ = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	if d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("after CancelKeyDeletion: %s", d.KeyMetadata.KeyState)
	}

	// Key specs AWS has and this server refuses are refused clearly (the
	// others are in asymmetric_test.go); HMAC keys exist.
	_, err = c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecMlKem512, KeyUsage: types.KeyUsageTypeEncapsulateDecapsulate})
	wantCode(t, err, CodeUnsupportedOperation)
	hk, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: hk.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256})
	wantCode(t, err, CodeInvalidKeyUsage)
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: hk.KeyMetadata.KeyId, Plaintext: []byte("x")})
	wantCode(t, err, CodeInvalidKeyUsage)
}

func (env *testEnv) encrypt(t testing.TB, key string, pt []byte, ec map[string]string) []byte {
	t.Helper()
	out, err := env.client.Encrypt(context.Background(), &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	return out.CiphertextBlob
}

func (env *testEnv) decrypt(t testing.TB, blob []byte, ec map[string]string) []byte {
	t.Helper()
	out, err := env.client.Decrypt(context.Background(), &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	return out.Plaintext
}

func TestEncryptDecrypt(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	id := env.createKey(t)
	id2 := env.createKey(t)
	ec := map[string]string{"purpose": "test", "Tenant": "a"}

	out, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("secret"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if *out.KeyId != env.srv.keyARN(id) || out.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("Encrypt: %+v", out)
	}
	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec, KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if string(dec.Plaintext) != "secret" || *dec.KeyId != env.srv.keyARN(id) || dec.CiphertextForRecipient != nil {
		t.Fatalf("Decrypt: %+v", dec)
	}
	// Wrong, missing, extra or differently cased context fails.
	for _, bad := range []map[string]string{nil, {"purpose": "test"}, {"purpose": "Test", "Tenant": "a"},
		{"purpose": "test", "tenant": "a"}, {"purpose": "test", "Tenant": "a", "x": "y"}} {
		_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: bad})
		wantCode(t, err, CodeInvalidCiphertext)
	}
	// Tampered blob, foreign blob, wrong key.
	tampered := bytes.Clone(out.CiphertextBlob)
	tampered[len(tampered)-1] ^= 1
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: ec})
	wantCode(t, err, CodeInvalidCiphertext)
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: bytes.Repeat([]byte{1}, 100)})
	wantCode(t, err, CodeInvalidCiphertext)
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec, KeyId: aws.String(id2)})
	wantCode(t, err, CodeIncorrectKey)
	// Two encryptions of one plaintext differ (fresh nonces).
	if bytes.Equal(env.encrypt(t, id, []byte("same"), nil), env.encrypt(t, id, []byte("same"), nil)) {
		t.Fatal("two encryptions produced the same blob")
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: make([]byte, 4097)})
	wantCode(t, err, CodeValidation)
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	wantCode(t, err, CodeDryRunOperation)

	// ReEncrypt to another key and context.
	re, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, SourceEncryptionContext: ec,
		DestinationKeyId: aws.String(id2), DestinationEncryptionContext: map[string]string{"new": "ctx"}})
	if err != nil {
		t.Fatal(err)
	}
	if *re.SourceKeyId != env.srv.keyARN(id) || *re.KeyId != env.srv.keyARN(id2) {
		t.Fatalf("ReEncrypt: %+v", re)
	}
	if pt := env.decrypt(t, re.CiphertextBlob, map[string]string{"new": "ctx"}); string(pt) != "secret" {
		t.Fatalf("after ReEncrypt: %q", pt)
	}
	_, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, DestinationKeyId: aws.String(id2)})
	wantCode(t, err, CodeInvalidCiphertext)
}

func TestGenerateDataKey(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	id := env.createKey(t)
	ec := map[string]string{"k": "v"}

	for _, tc := range []struct {
		in   awskms.GenerateDataKeyInput
		size int
	}{
		{awskms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes256}, 32},
		{awskms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes128}, 16},
		{awskms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(1)}, 1},
		{awskms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(1024), GrantTokens: []string{"token"}}, 1024},
	} {
		in := tc.in
		in.KeyId = aws.String("alias/dk")
		in.EncryptionContext = ec
		if _, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/dk")}); err != nil {
			c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/dk"), TargetKeyId: aws.String(id)})
		}
		out, err := c.GenerateDataKey(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Plaintext) != tc.size || *out.KeyId != env.srv.keyARN(id) {
			t.Fatalf("GenerateDataKey %+v: %d bytes, key %s", tc.in, len(out.Plaintext), *out.KeyId)
		}
		if pt := env.decrypt(t, out.CiphertextBlob, ec); !bytes.Equal(pt, out.Plaintext) {
			t.Fatal("data key blob does not decrypt to the plaintext")
		}
	}
	for _, in := range []awskms.GenerateDataKeyInput{
		{KeyId: aws.String(id)}, // neither
		{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, NumberOfBytes: aws.Int32(32)}, // both
		{KeyId: aws.String(id), NumberOfBytes: aws.Int32(0)},
		{KeyId: aws.String(id), NumberOfBytes: aws.Int32(1025)},
		{KeyId: aws.String(id), KeySpec: "AES_512"},
	} {
		_, err := c.GenerateDataKey(ctx, &in)
		wantCode(t, err, CodeValidation)
	}
	_, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, DryRun: aws.Bool(true)})
	wantCode(t, err, CodeDryRunOperation)

	wp, err := c.GenerateDataKeyWithoutPlaintext(ctx, &awskms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	if pt := env.decrypt(t, wp.CiphertextBlob, nil); len(pt) != 32 {
		t.Fatalf("GenerateDataKeyWithoutPlaintext blob decrypts to %d bytes", len(pt))
	}

	r, err := c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(64)})
	if err != nil || len(r.Plaintext) != 64 {
		t.Fatalf("GenerateRandom: %v", err)
	}
	_, err = c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(1025)})
	wantCode(t, err, CodeValidation)
}

func TestGenerateDataKeyPair(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	id := env.createKey(t)
	specs := []types.DataKeyPairSpec{types.DataKeyPairSpecEccNistP256, types.DataKeyPairSpecEccNistP384,
		types.DataKeyPairSpecEccNistP521, types.DataKeyPairSpecRsa2048}
	if !testing.Short() {
		specs = append(specs, types.DataKeyPairSpecRsa3072)
	}
	for _, spec := range specs {
		out, err := env.client.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(id), KeyPairSpec: spec})
		if err != nil {
			t.Fatal(err)
		}
		checkKeyPair(t, out.PrivateKeyPlaintext, out.PublicKey)
		if pt := env.decrypt(t, out.PrivateKeyCiphertextBlob, nil); !bytes.Equal(pt, out.PrivateKeyPlaintext) {
			t.Fatalf("%s: private key blob does not decrypt to PKCS#8", spec)
		}
		if out.KeyPairSpec != spec {
			t.Fatalf("KeyPairSpec %s", out.KeyPairSpec)
		}
	}
	wp, err := env.client.GenerateDataKeyPairWithoutPlaintext(ctx, &awskms.GenerateDataKeyPairWithoutPlaintextInput{
		KeyId: aws.String(id), KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	if err != nil {
		t.Fatal(err)
	}
	checkKeyPair(t, env.decrypt(t, wp.PrivateKeyCiphertextBlob, nil), wp.PublicKey)
	_, err = env.client.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(id), KeyPairSpec: "ECC_SECG_P128K1"})
	wantCode(t, err, CodeValidation) // secp256k1 and Ed25519 pairs: TestDataKeyPairSpecsSDK
}

func TestKeyPolicies(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	id := env.createKey(t)
	gp, err := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if *gp.PolicyName != "default" || !strings.Contains(*gp.Policy, "arn:aws:iam::111122223333:root") {
		t.Fatalf("GetKeyPolicy: %+v", gp)
	}
	// A stranger from another account is denied by the default policy.
	stranger := env.clientFor("AKIAOTHERPRINCIPAL01", "other-secret")
	_, err = stranger.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	ae := wantCode(t, err, CodeAccessDenied)
	if !strings.Contains(ae.Message, "arn:aws:iam::444455556666:user/stranger") || !strings.Contains(ae.Message, "kms:Encrypt") {
		t.Fatalf("AccessDenied message: %s", ae.Message)
	}

	// A policy with an explicit Deny on Decrypt for a context value.
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"NoProd","Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"StringEquals":{"kms:EncryptionContext:stage":"prod"}}}]}`
	if _, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	prod := map[string]string{"stage": "prod"}
	blob := env.encrypt(t, id, []byte("p"), prod)
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: prod})
	ae = wantCode(t, err, CodeAccessDenied)
	if !strings.Contains(ae.Message, "NoProd") {
		t.Errorf("denial does not name the statement: %s", ae.Message)
	}
	if !strings.Contains(env.audit.String(), `"policyReason"`) {
		t.Error("audit log lacks the policy reason")
	}
	// Malformed policies and lockout.
	_, err = c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(`{"Statement":[{"Effect":"Maybe"}]}`)})
	wantCode(t, err, CodeMalformedPolicy)
	lockout := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":"kms:Decrypt","Resource":"*"}]}`
	_, err = c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(lockout)})
	wantCode(t, err, CodeMalformedPolicy)
	_, err = c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(lockout)})
	wantCode(t, err, CodeMalformedPolicy)
	_, err = c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("other")})
	wantCode(t, err, CodeNotFound)
}

// rawRequest sends a signed or unsigned raw request and returns status,
// error type and body.
func rawPost(t testing.TB, url string, hdr map[string]string, body []byte) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Error("response without x-amzn-RequestId")
	}
	var e struct {
		Type string `json:"__type"`
	}
	json.Unmarshal(b, &e)
	if e.Type != "" && resp.Header.Get("X-Amzn-ErrorType") != e.Type {
		t.Errorf("X-Amzn-ErrorType %q != __type %q", resp.Header.Get("X-Amzn-ErrorType"), e.Type)
	}
	return resp.StatusCode, e.Type, string(b)
}

func TestProtocolErrors(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.MaxBodyBytes = 8 << 10 })
	hdr := map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"}
	st, typ, _ := rawPost(t, env.ts.URL, hdr, []byte("{}"))
	if st != 400 || typ != CodeMissingAuthToken {
		t.Fatalf("unsigned: %d %s", st, typ)
	}
	hdr["Authorization"] = "AWS4-HMAC-SHA256 garbage"
	hdr["X-Amz-Date"] = "20260101T000000Z"
	st, typ, _ = rawPost(t, env.ts.URL, hdr, []byte("{}"))
	if st != 400 || typ != CodeIncompleteSignature {
		t.Fatalf("garbled Authorization: %d %s", st, typ)
	}
	hdr["Authorization"] = "Bearer x"
	st, typ, _ = rawPost(t, env.ts.URL, hdr, []byte("{}"))
	if st != 400 || typ != CodeIncompleteSignature {
		t.Fatalf("non-SigV4 Authorization: %d %s", st, typ)
	}
}

// panicStore panics in GetKey, standing in for any bug reached by a request.
type panicStore struct{ keystore.Store }

func (panicStore) GetKey(context.Context, string) (*keystore.Key, error) { panic("injected store bug") }

// TestPanicIsAuditedAsError (issue 12, finding 6): a request that panics
// is answered KMSInternalException and audited as decision "error" (the
// deferred audit used to record it as "allow").
func TestPanicIsAuditedAsError(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.Store = panicStore{openDir(t, t.TempDir())} })
	_, err := env.client.DescribeKey(context.Background(), &awskms.DescribeKeyInput{KeyId: aws.String("00000000-0000-4000-8000-000000000000")})
	wantCode(t, err, CodeInternal)
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(env.audit.String())), &ev); err != nil {
		t.Fatalf("audit: %v: %q", err, env.audit.String())
	}
	if ev["decision"] != "error" || ev["errorCode"] != CodeInternal {
		t.Fatalf("a panicking request was audited as %v / %v", ev["decision"], ev["errorCode"])
	}
}
