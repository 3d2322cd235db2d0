// SPDX-License-Identifier: Apache-2.0

package kms

// Security review findings (see the review report). These tests fail until
// host/kms fixes them.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
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
