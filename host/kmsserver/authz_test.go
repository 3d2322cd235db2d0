// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
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
