// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

// hungStore is a key store whose GetKey (with hangGet) and UpdateKey (with
// hangUpdate) never answer: they return only when their context is done,
// as a database behind a network partition does when its driver honours
// the context. Without a deadline they block until the test ends.
type hungStore struct {
	*keystore.Dir
	hangGet, hangUpdate atomic.Bool
	inFlight            atomic.Int64 // hung calls not yet returned
	hung                atomic.Int64 // hung calls made
	release             chan struct{}
	once                sync.Once
}

func newHungStore(t *testing.T) *hungStore {
	h := &hungStore{Dir: openDir(t, t.TempDir()), release: make(chan struct{})}
	return h
}

// unblock releases every call still hung (a test cleanup: registered after
// the server, it runs before the server shuts down).
func (h *hungStore) unblock() { h.once.Do(func() { close(h.release) }) }

func (h *hungStore) hang(ctx context.Context) error {
	h.hung.Add(1)
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-h.release:
		return errors.New("hungStore: released at the end of the test")
	}
}

func (h *hungStore) GetKey(ctx context.Context, id string) (*keystore.Key, error) {
	if h.hangGet.Load() {
		return nil, h.hang(ctx)
	}
	return h.Dir.GetKey(ctx, id)
}

func (h *hungStore) UpdateKey(ctx context.Context, id string, fn func(*keystore.Key) error) (*keystore.Key, error) {
	if h.hangUpdate.Load() {
		return nil, h.hang(ctx)
	}
	return h.Dir.UpdateKey(ctx, id, fn)
}

// TestRequestTimeout: a key store that never answers holds no request past
// Config.RequestTimeout. The client gets DependencyTimeoutException (HTTP
// 503, the answer for an unavailable store) soon after the deadline, the
// store call has returned, and the failure is counted and logged as an
// unavailable store's is.
func TestRequestTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	hs := newHungStore(t)
	logs := &syncBuffer{}
	srv, _ := newServing(t, func(c *Config) {
		c.Store = hs
		c.RequestTimeout = timeout
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	t.Cleanup(hs.unblock)
	client := awskms.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: sdkhttp.New(nil),
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} }},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String("http://" + srv.Addr("kms").String()) })
	ck, err := client.CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := ck.KeyMetadata.KeyId

	for _, tc := range []struct {
		op   string
		hang *atomic.Bool
		call func(ctx context.Context) error
	}{
		{"GenerateDataKey", &hs.hangGet, func(ctx context.Context) error {
			_, err := client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256})
			return err
		}},
		{"Encrypt", &hs.hangGet, func(ctx context.Context) error {
			_, err := client.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
			return err
		}},
		{"DisableKey", &hs.hangUpdate, func(ctx context.Context) error { // GetKey answers, UpdateKey hangs
			_, err := client.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: id})
			return err
		}},
	} {
		before := hs.hung.Load()
		tc.hang.Store(true)
		// The client waits far longer than the server's deadline: without
		// one, this is where the request would stay.
		ctx, cancel := context.WithTimeout(context.Background(), 20*timeout)
		start := time.Now()
		err := tc.call(ctx)
		elapsed := time.Since(start)
		cancel()
		tc.hang.Store(false)
		if hs.hung.Load() == before {
			t.Fatalf("%s: the store was not asked", tc.op)
		}
		wantCode(t, err, CodeDependencyTimeout)
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
			t.Errorf("%s: %v, want HTTP 503", tc.op, err)
		}
		if elapsed < timeout {
			t.Errorf("%s: answered after %v, before the deadline of %v", tc.op, elapsed, timeout)
		}
		// The answer is written after the operation returned: the store
		// call, and the handler with it, let go at the deadline.
		if n := hs.inFlight.Load(); n != 0 {
			t.Errorf("%s: %d store calls still hung after the answer", tc.op, n)
		}
		if !strings.Contains(logs.String(), "operation="+tc.op) {
			t.Errorf("%s: the failure was not logged:\n%s", tc.op, logs)
		}
	}
	_, metrics := httpGet(t, "http://"+srv.Addr("metrics").String()+"/metrics")
	for _, op := range []string{"GenerateDataKey", "Encrypt", "DisableKey"} {
		if want := fmt.Sprintf(`kms_requests_total{code="DependencyTimeoutException",operation=%q} 1`, op); !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The store back, the same requests succeed.
	if _, err := client.Encrypt(context.Background(), &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
}
