// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestKeyARNOtherPartitionNotFound: a key or alias ARN names the key only
// in the server's own partition (the one its ARNs are built in, "aws"): an
// ARN in aws-cn, aws-us-gov or a partition that does not exist is
// NotFoundException, as an ARN of another region or account is, never the
// server's key of the same ID.
func TestKeyARNOtherPartitionNotFound(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	id := env.createKey(t)
	if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	keyARN, aliasARN := env.srv.keyARN(id), env.srv.aliasARN("alias/app")
	for _, own := range []string{keyARN, aliasARN} {
		if !strings.HasPrefix(own, "arn:aws:kms:") {
			t.Fatalf("the server's ARN %s is not in partition aws", own)
		}
		if _, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(own)}); err != nil {
			t.Fatalf("DescribeKey(%s): %v", own, err)
		}
	}
	for _, partition := range []string{"aws-cn", "aws-us-gov", "aws-iso", "nonsense", "AWS", ""} {
		for _, own := range []string{keyARN, aliasARN} {
			ref := "arn:" + partition + strings.TrimPrefix(own, "arn:aws")
			_, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(ref)})
			wantCode(t, err, CodeNotFound)
			_, err = env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(ref), Plaintext: []byte("x")})
			wantCode(t, err, CodeNotFound)
		}
	}
}
