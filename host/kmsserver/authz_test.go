// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestRequireOwnAccountCreate: a principal of another account
// (444455556666) cannot create a key in this account with a policy of its
// choosing and claim a free alias such as alias/prod, under which this
// account's GenerateDataKey would then encrypt. In AWS, CreateKey and
// CreateAlias cannot be called cross-account.
func TestRequireOwnAccountCreate(t *testing.T) {
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

// TestRequireOwnAccountDeleteAlias: DeleteAlias is refused to a
// principal of another account even when the key's policy would allow it.
func TestRequireOwnAccountDeleteAlias(t *testing.T) {
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

const (
	parentAKID      = "AKIAPARENTROLE000001"
	parentSecret    = "parent-secret"
	parentPrincipal = "arn:aws:iam::111122223333:role/parent-role"
	// parentPolicy is what the parent instance's role may do: data keys
	// and Decrypt, nothing else (as kms-server init writes it, without
	// the attestation Deny, which TestStarterParentRole covers).
	parentPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}]}`
)

// withParent adds the parent-role principal to a test config.
func withParent(c *Config) {
	c.AccessKeys[parentAKID] = AccessKey{Secret: parentSecret, PrincipalARN: parentPrincipal, Policy: parentPolicy}
}

// TestIdentityPolicyStopsAliasSquatting (issue 12, finding 2): the parent's
// credentials are in the server's account, so the own-account rule let them
// CreateKey and CreateAlias the alias an enclave image names whenever it was
// free, and the enclave then generated data keys under the parent's key.
// Account-level operations need an identity policy that allows them.
func TestIdentityPolicyStopsAliasSquatting(t *testing.T) {
	env := newEnv(t, withParent)
	ctx := context.Background()
	parent := env.clientFor(parentAKID, parentSecret)
	open := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`
	_, err := parent.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(open)})
	wantCode(t, err, CodeAccessDenied)

	// Not even on a key whose policy lets everyone do everything.
	ck, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(open)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = parent.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/enclave-app"), TargetKeyId: ck.KeyMetadata.KeyId})
	wantCode(t, err, CodeAccessDenied)
	if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/enclave-app"), TargetKeyId: ck.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = parent.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/enclave-app")})
	wantCode(t, err, CodeAccessDenied)
}

// TestListsNeedIdentityPolicy (issue 12, finding 3): ListKeys and
// ListAliases checked nothing, so a principal of another account listed
// every key ARN and alias, and ListAliases(KeyId) told it whether a key
// exists. They need an identity policy allowing them, and work only within
// the server's account (as in AWS).
func TestListsNeedIdentityPolicy(t *testing.T) {
	env := newEnv(t, withParent)
	ctx := context.Background()
	id := env.createKey(t)
	if _, err := env.client.ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
	stranger := env.clientFor("AKIAOTHERPRINCIPAL01", "other-secret")
	parent := env.clientFor(parentAKID, parentSecret)
	for name, c := range map[string]*awskms.Client{"another account": stranger, "parent-role": parent} {
		_, err := c.ListKeys(ctx, &awskms.ListKeysInput{})
		wantCode(t, err, CodeAccessDenied)
		_, err = c.ListAliases(ctx, &awskms.ListAliasesInput{})
		wantCode(t, err, CodeAccessDenied)
		// Existing and missing keys answer alike.
		_, err1 := c.ListAliases(ctx, &awskms.ListAliasesInput{KeyId: aws.String(id)})
		_, err2 := c.ListAliases(ctx, &awskms.ListAliasesInput{KeyId: aws.String("00000000-0000-4000-8000-000000000000")})
		e1, e2 := wantCode(t, err1, CodeAccessDenied), wantCode(t, err2, CodeAccessDenied)
		if strings.ReplaceAll(e1.Message, id, "X") != strings.ReplaceAll(e2.Message, "00000000-0000-4000-8000-000000000000", "X") {
			t.Errorf("%s: ListAliases(KeyId) tells existing from missing keys:\n%s\n%s", name, e1.Message, e2.Message)
		}
	}
}

// TestKeyPolicyDelegatesToIdentityPolicy: AWS's evaluation of key and
// identity policies together.
func TestKeyPolicyDelegatesToIdentityPolicy(t *testing.T) {
	env := newEnv(t, withParent)
	ctx := context.Background()
	parent := env.clientFor(parentAKID, parentSecret)

	// The default key policy allows the account root: a delegation, so the
	// parent's identity policy decides (it allows Decrypt, not Encrypt or
	// DescribeKey).
	def := env.createKey(t)
	_, err := parent.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(def)})
	wantCode(t, err, CodeAccessDenied)
	_, err = parent.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(def), Plaintext: []byte("x")})
	wantCode(t, err, CodeAccessDenied)
	if _, err := parent.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(def), NumberOfBytes: aws.Int32(32)}); err != nil {
		t.Fatalf("GenerateDataKey allowed by both policies: %v", err)
	}

	// A key policy that names the parent grants by itself.
	named := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"Parent","Effect":"Allow","Principal":{"AWS":"` + parentPrincipal + `"},"Action":"kms:DescribeKey","Resource":"*"}]}`
	k, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(named)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parent.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("DescribeKey granted by the key policy: %v", err)
	}

	// An explicit Deny in the identity policy wins over the key policy.
	env2 := newEnv(t, func(c *Config) {
		c.AccessKeys[testAKID] = AccessKey{Secret: testSecret, PrincipalARN: testPrincipal, Policy: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}`}
	})
	id := env2.createKey(t)
	blob := env2.encrypt(t, id, []byte("x"), nil)
	_, err = env2.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	if e := wantCode(t, err, CodeAccessDenied); !strings.Contains(e.Message, "identity policy") {
		t.Errorf("message does not say which policy denied: %s", e.Message)
	}
}
