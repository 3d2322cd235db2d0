// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// flakyStore fails GetKey with ErrUnavailable while down, unless the
// context allows cached reads.
type flakyStore struct {
	*keystore.Dir
	down         atomic.Bool
	cachedAsked  atomic.Int64
	unavailables atomic.Int64
}

func (f *flakyStore) GetKey(ctx context.Context, id string) (*keystore.Key, error) {
	if keystore.CachedReadsAllowed(ctx) {
		f.cachedAsked.Add(1)
		return f.Dir.GetKey(ctx, id)
	}
	if f.down.Load() {
		f.unavailables.Add(1)
		return nil, keystore.ErrUnavailable
	}
	return f.Dir.GetKey(ctx, id)
}

func TestStoreUnavailable(t *testing.T) {
	d, err := keystore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fs := &flakyStore{Dir: d}
	env := newEnv(t, func(c *Config) { c.Store = fs })
	ctx := context.Background()
	id := env.createKey(t)
	blob := env.encrypt(t, id, []byte("x"), nil)
	fs.down.Store(true)

	_, err = env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, CodeDependencyTimeout)
	if fs.unavailables.Load() == 0 {
		t.Fatal("store was not asked")
	}
	// Decrypt and GenerateDataKey allow a backend's cached reads.
	if pt := env.decrypt(t, blob, nil); string(pt) != "x" {
		t.Fatal("decrypt with cached reads")
	}
	if _, err := env.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256}); err != nil {
		t.Fatal(err)
	}
	if fs.cachedAsked.Load() < 2 {
		t.Fatalf("cached reads asked %d times", fs.cachedAsked.Load())
	}
}
