// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go/middleware"
)

// TestKeyGenerationBound is the CPU exhaustion attack of a principal
// allowed to call CreateKey, GenerateDataKeyPair or GetParametersForImport:
// each of them makes an RSA key per request (1 to 2 s of CPU for
// RSA_4096), so without a bound a few callers in a loop take every core.
// With the bound's one slot taken (a generation in flight), each of them
// gets a ThrottlingException at once, without generating; elliptic-curve
// and symmetric keys, which cost microseconds, are not bounded; when the
// slot is free again the same requests succeed.
func TestKeyGenerationBound(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.MaxConcurrentKeyGenerations = 1 })
	ctx := context.Background()
	sym := env.createKey(t)
	ext, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal})
	if err != nil {
		t.Fatal(err)
	}
	rsaCalls := map[string]func() error{
		"CreateKey RSA_2048": func() error {
			_, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify})
			return err
		},
		"GenerateDataKeyPair RSA_2048": func() error {
			_, err := env.client.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(sym), KeyPairSpec: types.DataKeyPairSpecRsa2048})
			return err
		},
		"GenerateDataKeyPairWithoutPlaintext RSA_2048": func() error {
			_, err := env.client.GenerateDataKeyPairWithoutPlaintext(ctx, &awskms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: aws.String(sym), KeyPairSpec: types.DataKeyPairSpecRsa2048})
			return err
		},
		"GetParametersForImport RSA_2048": func() error {
			_, err := env.client.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: ext.KeyMetadata.KeyId,
				WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
			return err
		},
	}
	// A generation in flight holds the only slot.
	env.srv.keyGen <- struct{}{}
	for name, call := range rsaCalls {
		ae := wantCode(t, call(), CodeThrottling)
		t.Logf("%s: %s", name, ae.Message)
	}
	// Cheap key specs are not bounded.
	if _, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify}); err != nil {
		t.Fatalf("CreateKey ECC_NIST_P256 with the RSA slot taken: %v", err)
	}
	if _, err := env.client.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(sym), KeyPairSpec: types.DataKeyPairSpecEccNistP256}); err != nil {
		t.Fatalf("GenerateDataKeyPair ECC_NIST_P256 with the RSA slot taken: %v", err)
	}
	env.createKey(t)
	// The slot is free again: every call succeeds, and gives it back.
	<-env.srv.keyGen
	for name, call := range rsaCalls {
		if err := call(); err != nil {
			t.Fatalf("%s with the slot free: %v", name, err)
		}
	}
	if n := len(env.srv.keyGen); n != 0 {
		t.Fatalf("%d generation slots still taken after the calls", n)
	}
}

// TestKeyGenerationBoundShape: the refusal is KMS's throttling answer, HTTP
// 400 with X-Amzn-ErrorType ThrottlingException, which the AWS SDKs retry
// with backoff; an *APIError in the package's own terms.
func TestKeyGenerationBoundShape(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.MaxConcurrentKeyGenerations = 1 })
	env.srv.keyGen <- struct{}{}
	release, err := env.srv.startKeyGen("RSA_4096")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != CodeThrottling || ae.Status != http.StatusBadRequest || release != nil {
		t.Fatalf("startKeyGen with the slot taken: %v (%#v)", err, ae)
	}
	if release, err := env.srv.startKeyGen("ECC_NIST_P384"); err != nil || release == nil {
		t.Fatalf("startKeyGen ECC_NIST_P384: %v", err)
	} else {
		release()
	}
}

// TestKeyGenerationBoundConfig: the default is half the CPUs (at least
// one); a negative bound is a configuration error.
func TestKeyGenerationBoundConfig(t *testing.T) {
	env := newEnv(t, nil)
	if c := cap(env.srv.keyGen); c < 1 {
		t.Fatalf("default bound %d", c)
	}
	_, err := NewServer(&Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32),
		AccessKeys:                  map[string]AccessKey{testAKID: {Secret: testSecret, PrincipalARN: testPrincipal, Policy: FullAccessPolicy}},
		MaxConcurrentKeyGenerations: -1})
	var ce *ConfigError
	if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || ce.Setting != "maximum concurrent key generations" {
		t.Fatalf("negative bound: %v", err)
	}
}

// TestKeyGenerationBoundSDKRetries: the AWS SDK's standard retryer treats
// the ThrottlingException as a throttle and retries with backoff, so a
// caller that meets the bound while a generation runs gets its key once
// the slot is free, without code of its own.
func TestKeyGenerationBoundSDKRetries(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.MaxConcurrentKeyGenerations = 1 })
	var attempts atomic.Int32
	client := awskms.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, ""),
		HTTPClient:  env.ts.Client(),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 10
				o.MaxBackoff = 200 * time.Millisecond
			})
		},
	}, func(o *awskms.Options) {
		o.BaseEndpoint = aws.String(env.ts.URL)
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("count", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if attempts.Add(1) == 2 {
					// The first attempt was refused and the retryer came
					// back: the generation in flight ends now.
					<-env.srv.keyGen
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
		})
	})
	env.srv.keyGen <- struct{}{} // a generation in flight, until the first retry
	_, err := client.CreateKey(context.Background(), &awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatalf("CreateKey RSA_2048 with the SDK's standard retryer: %v", err)
	}
	if n := attempts.Load(); n < 2 {
		t.Fatalf("%d attempts: the throttled first one was not retried", n)
	}
}
