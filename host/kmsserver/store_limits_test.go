// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// tooLargeStore refuses every key update and alias creation as a backend
// refuses a record over its bound.
type tooLargeStore struct{ keystore.Store }

func (tooLargeStore) UpdateKey(_ context.Context, id string, _ func(*keystore.Key) error) (*keystore.Key, error) {
	return nil, &keystore.TooLargeError{Record: "key " + id, Size: keystore.MaxKeyRecordBytes + 1, Limit: keystore.MaxKeyRecordBytes}
}

func (tooLargeStore) CreateAlias(context.Context, keystore.Alias) error {
	return &keystore.TooLargeError{Record: "aliases.json", Size: 17 << 20, Limit: 16 << 20}
}

// TestStoreRecordTooLarge: a write the key store refuses as too large
// (keystore.ErrTooLarge) is answered LimitExceededException, not
// KMSInternalException, and says so.
func TestStoreRecordTooLarge(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, func(c *Config) { c.Store = tooLargeStore{openDir(t, t.TempDir())} })
	id := env.createKey(t)
	_, err := env.client.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	ae := wantCode(t, err, CodeLimitExceeded)
	if !strings.Contains(ae.Message, "too large") {
		t.Fatalf("message %q", ae.Message)
	}
	_, err = env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/one-too-many"), TargetKeyId: aws.String(id)})
	wantCode(t, err, CodeLimitExceeded)
}
