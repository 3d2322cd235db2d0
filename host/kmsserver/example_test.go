// SPDX-License-Identifier: Apache-2.0

package kmsserver_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"net/http/httptest"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// A key service on a loopback port, used with the official AWS SDK.
func ExampleNewServer() {
	dir, _ := os.MkdirTemp("", "kms-example")
	defer os.RemoveAll(dir)
	store, err := keystore.OpenDir(dir) // or keystore/postgres.Open
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rootKey := make([]byte, 32)
	rand.Read(rootKey) // in production: from a file or the environment, kept safe

	srv, err := kmsserver.NewServer(&kmsserver.Config{
		Store:   store,
		RootKey: rootKey,
		AccessKeys: map[string]kmsserver.AccessKey{
			"AKIAEXAMPLE000000000": {Secret: "example-secret", PrincipalARN: "arn:aws:iam::111122223333:user/dev", Policy: kmsserver.FullAccessPolicy},
		},
		// AttestationRoots: nil trusts the AWS Nitro Enclaves root only.
	})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler()) // production: srv.Listen() and srv.Serve(ctx)
	defer ts.Close()

	client := awskms.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE000000000", "example-secret", ""),
	}, func(o *awskms.Options) { o.BaseEndpoint = aws.String(ts.URL) })
	out, err := client.CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.KeyMetadata.KeyState, out.KeyMetadata.KeySpec)
	// Output: Enabled SYMMETRIC_DEFAULT
}
