// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

// TestStarterParentRole: in the configuration `kms-server init` writes,
// the parent-role principal (the credentials an enclave's parent holds)
// can neither create keys nor aliases, nor delete or list them, nor use a
// key without an attestation document; the admin can do all of it.
func TestStarterParentRole(t *testing.T) {
	dir := t.TempDir()
	st, err := WriteStarter(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load(st.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	store, err := f.OpenStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg, err := f.ServerConfig(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := kmsserver.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	client := func(id, secret string) *awskms.Client {
		return awskms.NewFromConfig(aws.Config{Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""),
			HTTPClient:  sdkhttp.New(nil),
			Retryer:     func() aws.Retryer { return aws.NopRetryer{} }},
			func(o *awskms.Options) { o.BaseEndpoint = aws.String(ts.URL) })
	}
	admin, parent := client(st.AccessKeyID, st.Secret), client(st.ParentAccessKeyID, st.ParentSecret)
	ctx := context.Background()
	denied := func(what string, err error) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
			t.Errorf("parent-role %s: %v, want AccessDeniedException", what, err)
		}
	}

	k, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}

	_, err = parent.CreateKey(ctx, &awskms.CreateKeyInput{})
	denied("CreateKey", err)
	_, err = parent.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/squat"), TargetKeyId: k.KeyMetadata.KeyId})
	denied("CreateAlias", err)
	_, err = parent.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/app")})
	denied("DeleteAlias", err)
	_, err = parent.ListKeys(ctx, &awskms.ListKeysInput{})
	denied("ListKeys", err)
	_, err = parent.ListAliases(ctx, &awskms.ListAliasesInput{})
	denied("ListAliases", err)
	_, err = parent.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String("alias/app"), NumberOfBytes: aws.Int32(32)})
	denied("GenerateDataKey without an attestation document", err)
	_, err = parent.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")})
	denied("Encrypt", err)
	_, err = parent.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k.KeyMetadata.KeyId})
	denied("DescribeKey", err)
}
