// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/enclave/emulator"
)

// accountAgent is an agent on env (the parent's own kms-server, account
// 111122223333) configured with KMSAccount account.
func accountAgent(t *testing.T, env *e2eEnv, account string) *Client {
	t.Helper()
	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: image("app")}, Root: env.root, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	c, err := New(&Config{
		NSM: emu, Region: "us-east-1", Endpoint: env.endpoint, Proxy: env.proxy, InsecureHTTPUnsafe: true, KMSAccount: account,
		Credentials: EnvCredentials{Getenv: envMap{"AWS_ACCESS_KEY_ID": enclaveAKID, "AWS_SECRET_ACCESS_KEY": enclaveSecret}.get},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestKMSAccountPinned: the parent supplies the credentials, so it can hand
// in credentials for its own account, where alias/app names a key it can
// decrypt with (here the parent's own kms-server, account 111122223333).
// With KMSAccount set to the application's account the agent refuses the
// answer: no data key, and nothing the parent could decrypt is used.
func TestKMSAccountPinned(t *testing.T) {
	env := startKMSServer(t, "tcp")
	ctx := context.Background()
	admin := env.admin(t)
	ck, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(ck.KeyMetadata.Arn)
	if _, err := admin.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: ck.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	// The parent's account: refused, for an alias, a bare key ID and Decrypt.
	c := accountAgent(t, env, "444455556666")
	for _, id := range []string{"alias/app", aws.ToString(ck.KeyMetadata.KeyId)} {
		dk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: "AES_256"})
		var ke *KeyAccountError
		if !errors.As(err, &ke) || !errors.Is(err, ErrKeyAccount) || dk != nil || ke.Account != "444455556666" || ke.Got != arn {
			t.Fatalf("GenerateDataKey(%s) in the parent's account: %+v, %v; want a KeyAccountError", id, dk, err)
		}
	}
	blob, err := admin.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob.CiphertextBlob, KeyId: aws.String("alias/app")}); !errors.Is(err, ErrKeyAccount) || d != nil {
		t.Fatalf("Decrypt in the parent's account: %+v, %v", d, err)
	}
	// The local KMS endpoint refuses the same answers, and a pass-through
	// Encrypt whose key is the parent's.
	app := sdkClient(serveLocalKMS(t, &KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)}))
	if _, err := app.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String("alias/app"), KeySpec: "AES_256"}); err == nil || !strings.Contains(err.Error(), "444455556666") {
		t.Fatalf("local endpoint GenerateDataKey in the parent's account: %v", err)
	}
	if _, err := app.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("secret")}); err == nil || !strings.Contains(err.Error(), "444455556666") {
		t.Fatalf("local endpoint Encrypt in the parent's account: %v", err)
	}

	// The right account: answered, by alias and by full key ARN.
	ok := accountAgent(t, env, "111122223333")
	for _, id := range []string{"alias/app", arn} {
		if dk, err := ok.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: "AES_256"}); err != nil || len(dk.Plaintext) != 32 {
			t.Fatalf("GenerateDataKey(%s) in the configured account: %v", id, err)
		}
	}
	app = sdkClient(serveLocalKMS(t, &KMSEndpointConfig{Client: ok, Logger: slog.New(slog.DiscardHandler)}))
	if _, err := app.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("secret")}); err != nil {
		t.Fatalf("local endpoint Encrypt in the configured account: %v", err)
	}
}

// TestKMSAccountPinnedSign: Sign is held to Config.KMSAccount as the
// other operations are. The parent supplies the credentials, so alias/NAME
// or a bare key ID resolves in an account of its choosing; a signature by
// a key of the parent's account, returned as a success, would be one the
// parent can make whenever it likes.
func TestKMSAccountPinnedSign(t *testing.T) {
	env := startKMSServer(t, "tcp")
	ctx := context.Background()
	admin := env.admin(t)
	ck, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY"})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(ck.KeyMetadata.Arn)
	if _, err := admin.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/signer"), TargetKeyId: ck.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	sign := func(c *Client, id string) (*Signature, error) {
		return c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(id), Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"})
	}
	c := accountAgent(t, env, "444455556666")
	for _, id := range []string{"alias/signer", aws.ToString(ck.KeyMetadata.KeyId)} {
		sig, err := sign(c, id)
		var ke *KeyAccountError
		if !errors.As(err, &ke) || !errors.Is(err, ErrKeyAccount) || sig != nil || ke.Account != "444455556666" || ke.Got != arn {
			t.Fatalf("Sign(%s) in another account: %+v, %v; want a KeyAccountError", id, sig, err)
		}
	}
	ok := accountAgent(t, env, "111122223333")
	for _, id := range []string{"alias/signer", arn} {
		if sig, err := sign(ok, id); err != nil || sig.KeyID != arn || len(sig.Signature) == 0 {
			t.Fatalf("Sign(%s) in the configured account: %+v, %v", id, sig, err)
		}
	}
}

func TestCheckKeyAccount(t *testing.T) {
	const acct = "111122223333"
	const arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, tc := range []struct {
		requested, got string
		ok             bool
	}{
		{"alias/app", arn, true},
		{arn, arn, true},
		{"", arn, true},
		{"arn:aws:kms:us-east-1:111122223333:alias/app", arn, true},
		{"alias/app", "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab", false},
		{"alias/app", "1234abcd-12ab-34cd-56ef-1234567890ab", false},
		{"alias/app", "", false},
		{"alias/app", "arn:aws:kms:us-east-1:111122223333:alias/app", false},
		{"alias/app", "arn:aws:s3:us-east-1:111122223333:key/x", false},
		{"alias/app", "arn:aws:kms:us-east-1:111122223333:key/", false},
		// A full key ARN requested: the answer must be that key.
		{arn, "arn:aws:kms:us-east-1:111122223333:key/other", false},
		{arn, "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", false},
	} {
		err := checkKeyAccount(acct, "GenerateDataKey", tc.requested, tc.got)
		var ke *KeyAccountError
		if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &ke) || ke.Got != tc.got || ke.Requested != tc.requested)) {
			t.Errorf("requested %q, got %q: %v", tc.requested, tc.got, err)
		}
	}
	if err := checkKeyAccount("", "Decrypt", "alias/app", "anything"); err != nil {
		t.Errorf("no account configured: %v", err)
	}
}

func TestKMSAccountConfig(t *testing.T) {
	e := newEmulator(t)
	for _, a := range []string{"12345", "1111222233334", "11112222333x", "arn:aws:iam::111122223333:root"} {
		_, err := New(&Config{NSM: e, Region: "us-east-1", Credentials: EnvCredentials{Getenv: envMap{}.get}, KMSAccount: a})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("KMSAccount %q: %v, want ErrConfig", a, err)
		}
	}
}

// TestEndpointCredentialsNeedKMSAccount: credentials from the parent
// instance (EndpointCredentials) without KMSAccount are refused, since the
// parent could hand in credentials for an account of its own, where an
// alias names a key it can Decrypt with; with the account they are taken.
func TestEndpointCredentialsNeedKMSAccount(t *testing.T) {
	e := newEmulator(t)
	const want = "agent: invalid configuration: EndpointCredentials without KMSAccount: the parent instance supplies those credentials, " +
		"so an alias or a bare key ID resolves in an account of its choosing"
	_, err := New(&Config{NSM: e, Region: "us-east-1", Credentials: &EndpointCredentials{Addr: "vsock://3:8003"}})
	if !errors.Is(err, ErrConfig) || err.Error() != want {
		t.Errorf("without KMSAccount: %v, want %q", err, want)
	}
	c, err := New(&Config{NSM: e, Region: "us-east-1", Credentials: &EndpointCredentials{Addr: "vsock://3:8003"}, KMSAccount: "111122223333"})
	if err != nil {
		t.Fatalf("with KMSAccount: %v", err)
	}
	c.Close()
}
