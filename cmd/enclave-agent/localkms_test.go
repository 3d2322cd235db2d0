// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

// TestServeKMSListen: serve --kms-listen answers an unmodified SDK client
// with data keys obtained with Recipient.
func TestServeKMSListen(t *testing.T) {
	e := startKMS(t)
	// A kernel-assigned port, read from the start line (a port found free
	// and released first may be taken by another test before serve binds
	// it).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	stderr := newLogWatch()
	var code int
	go func() {
		defer close(done)
		code = run(ctx, append(e.globalArgs(pcr0Hex), "serve", "--listen", "tcp://127.0.0.1:0", "--kms-listen", "tcp://127.0.0.1:0"),
			strings.NewReader(""), &bytes.Buffer{}, stderr, func(k string) string { return e.env[k] })
	}()
	kmsAddr := stderr.waitFor(t, `local KMS endpoint listening.* local=(\S+)`, done)
	app := awskms.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("any", "any", ""),
		HTTPClient: sdkhttp.New(nil), Retryer: func() aws.Retryer { return aws.NopRetryer{} }}, func(o *awskms.Options) { o.BaseEndpoint = aws.String("http://" + kmsAddr) })
	dk, err := app.GenerateDataKey(context.Background(), &awskms.GenerateDataKeyInput{KeyId: aws.String(e.keyID), KeySpec: "AES_256"})
	if err != nil {
		t.Fatalf("local KMS endpoint on %s: %v\n%s", kmsAddr, err, stderr.String())
	}
	plain, err := e.admin.Decrypt(context.Background(), &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	if err != nil || len(dk.Plaintext) != 32 || !bytes.Equal(plain.Plaintext, dk.Plaintext) {
		t.Fatalf("data key from the local endpoint: %v", err)
	}
	cancel()
	<-done
	if code != 0 {
		t.Fatalf("serve exit %d: %s", code, stderr.String())
	}
}

func TestServeKMSListenNotLoopback(t *testing.T) {
	e := startKMS(t)
	for _, addr := range []string{"vsock://any:5000", "0.0.0.0:5000", "unix:///tmp/kms.sock"} {
		code, _, stderr := e.run(t, context.Background(), append(e.globalArgs(pcr0Hex), "serve", "--listen", "tcp://127.0.0.1:0", "--kms-listen", addr)...)
		if code != 2 || !strings.Contains(stderr, "enclave-agent: error: serve: --kms-listen") {
			t.Errorf("--kms-listen %s: exit %d: %s", addr, code, stderr)
		}
	}
}

// TestServeMaxConcurrentAttestations: serve passes
// --max-concurrent-attestations to the attestation endpoint (its start line
// reports the bound in force), and 0 leaves the default.
func TestServeMaxConcurrentAttestations(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{{"1", "max_concurrent=1"}, {"0", "max_concurrent=4"}, {"", "max_concurrent=4"}} {
		args := []string{"--nsm", "emulator", "--debug-mode", "serve", "--listen", "tcp://127.0.0.1:0"}
		if tc.arg != "" {
			args = append(args, "--max-concurrent-attestations", tc.arg)
		}
		ctx, cancel := context.WithCancel(context.Background())
		stderr := newLogWatch()
		exited := make(chan struct{})
		var code int
		go func() {
			defer close(exited)
			code = run(ctx, args, strings.NewReader(""), &bytes.Buffer{}, stderr, func(string) string { return "" })
		}()
		addr := stderr.waitFor(t, `attestation endpoint listening.* local=(\S+)`, exited)
		if err := waitHealth(addr, waitLimit); err != nil {
			cancel()
			t.Fatalf("--max-concurrent-attestations %q: serve did not answer: %v", tc.arg, err)
		}
		cancel()
		<-exited
		if code != 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Fatalf("--max-concurrent-attestations %q: exit %d, want 0 and %q in:\n%s", tc.arg, code, tc.want, stderr.String())
		}
	}
}

// waitHealth polls the attestation endpoint's health route on addr until it
// answers, or returns the last error after limit.
func waitHealth(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get("http://" + addr + agent.HealthPath)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
