// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
	"github.com/enclavekit/enclavekit/internal/pgtest"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

// TestDeletionTakesEffect: after the waiting period a key is gone.
func TestDeletionTakesEffect(t *testing.T) {
	var now atomic.Pointer[time.Time]
	t0 := time.Now()
	now.Store(&t0)
	env := newEnv(t, func(c *Config) { c.Clock = func() time.Time { return *now.Load() } })
	ctx := context.Background()
	id := env.createKey(t)
	if _, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(7*24*time.Hour + time.Second)
	now.Store(&later)
	// Requests are signed with the real clock; widen the skew for this test.
	env.srv.cfg.MaxClockSkew = 8 * 24 * time.Hour
	_, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, CodeNotFound)
}

// TestKeyStateIsBound (issue 12, finding 7): the key state is bound to the
// wrapped material, so a store writer without the root key cannot bring a
// key scheduled for deletion (or disabled) back into use by editing its
// record: the record then fails its integrity check.
func TestKeyStateIsBound(t *testing.T) {
	store := openDir(t, t.TempDir())
	env := newEnv(t, func(c *Config) { c.Store = store })
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(id string) error
	}{
		{"pending deletion", func(id string) error {
			_, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
			return err
		}},
		{"disabled", func(id string) error {
			_, err := env.client.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(id)})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := env.createKey(t)
			if err := tc.setup(id); err != nil {
				t.Fatal(err)
			}
			if _, err := store.UpdateKey(ctx, id, func(k *keystore.Key) error {
				k.State, k.DeletionDate, k.PendingWindowInDays = keystore.StateEnabled, time.Time{}, 0
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			_, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
			wantCode(t, err, CodeInternal)
		})
	}
	// Changes made through the server keep the key usable.
	id := env.createKey(t)
	for _, step := range []func() error{
		func() error {
			_, err := env.client.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(id)})
			return err
		},
		func() error {
			_, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
			return err
		},
		func() error {
			_, err := env.client.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: aws.String(id)})
			return err
		},
		func() error {
			_, err := env.client.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(id)})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	env.encrypt(t, id, []byte("still usable"), nil)
}

// TestDeletedKeyIsDestroyed (issue 12, finding 7): once the waiting period
// is over, the serving server removes the key's record (and its sealed
// material) and its aliases from the store, so nobody who can write to the
// store can bring it back by editing the record.
func TestDeletedKeyIsDestroyed(t *testing.T) {
	var now atomic.Pointer[time.Time]
	t0 := time.Now()
	now.Store(&t0)
	store := openDir(t, t.TempDir())
	var sw *sweeps
	srv, _ := newServing(t, func(c *Config) {
		sw = watchSweeps(c)
		c.Store = store
		c.Clock = func() time.Time { return *now.Load() }
		c.MaxClockSkew = 30 * 24 * time.Hour // requests are signed with the real clock
		c.DeletionSweepInterval = 20 * time.Millisecond
	})
	client := awskms.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: sdkhttp.New(nil),
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String("http://" + srv.Addr("kms").String()) })
	ctx := context.Background()
	var ids []string
	for range 2 {
		out, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *out.KeyMetadata.KeyId)
	}
	doomed, kept := ids[0], ids[1]
	if _, err := client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/doomed"), TargetKeyId: aws.String(doomed)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(doomed), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(7*24*time.Hour + time.Minute)
	now.Store(&later)
	sw.waitFresh("deletion")
	if _, err := store.GetKey(ctx, doomed); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("the key's record is still in the store after a sweep past its deletion date: %v", err)
	}
	if _, err := store.GetAlias(ctx, "alias/doomed"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("the deleted key's alias is still in the store: %v", err)
	}
	if _, err := store.GetKey(ctx, kept); err != nil {
		t.Errorf("the other key: %v", err)
	}
	// The sweep counts the key before it ends.
	if code, body := httpGet(t, "http://"+srv.Addr("metrics").String()+"/metrics"); code != 200 || !strings.Contains(body, `kms_key_deletions_total{result="destroyed"} 1`) {
		t.Fatalf("metrics: %d %s", code, body)
	}
}

// TestSweepSkipsTamperedRecords: a record a store writer marked as past
// its deletion date (the state is bound, so it fails its integrity check)
// is not destroyed; the failure is counted, and the sweep goes on.
func TestSweepSkipsTamperedRecords(t *testing.T) {
	store := openDir(t, t.TempDir())
	env := newEnv(t, func(c *Config) { c.Store = store })
	ctx := context.Background()
	victim := env.createKey(t)
	if _, err := store.UpdateKey(ctx, victim, func(k *keystore.Key) error {
		k.State, k.DeletionDate = keystore.StatePendingDeletion, time.Now().Add(-time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := env.srv.sweepDeletions(ctx); n != 0 {
		t.Fatalf("sweep destroyed %d keys", n)
	}
	if _, err := store.GetKey(ctx, victim); err != nil {
		t.Fatalf("a tampered record was destroyed: %v", err)
	}
	w := httptest.NewRecorder()
	env.srv.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(w.Body.String(), `kms_key_deletions_total{result="failed"} 1`) {
		t.Fatalf("the failure was not counted:\n%s", w.Body.String())
	}
}

// listHookStore runs afterList once, after ListKeys has taken its listing
// and before it returns it.
type listHookStore struct {
	keystore.Store
	afterList func()
}

func (h *listHookStore) ListKeys(ctx context.Context) ([]*keystore.Key, error) {
	ks, err := h.Store.ListKeys(ctx)
	if f := h.afterList; f != nil {
		h.afterList = nil
		f()
	}
	return ks, err
}

// TestCancelKeyDeletionRacingSweep: a CancelKeyDeletion received before
// the deletion date that commits after the deletion sweep listed the keys
// (the sweep's listing still says PendingDeletion, past its date) keeps
// the key: the sweep deletes a key only if the record it deletes, read
// under the store's lock, is still pending deletion and due. A success
// answered to CancelKeyDeletion is never lost.
func TestCancelKeyDeletionRacingSweep(t *testing.T) {
	ctx := context.Background()
	var now atomic.Pointer[time.Time]
	set := func(t time.Time) { now.Store(&t) }
	set(time.Now())
	hs := &listHookStore{}
	env := newEnv(t, func(c *Config) {
		if testBackend == backendPostgres {
			hs.Store = openPostgres(t, &postgres.Config{URL: pgtest.URL(t)})
		} else {
			hs.Store = openDir(t, t.TempDir())
		}
		c.Store = hs
		c.Clock = func() time.Time { return *now.Load() }
		c.MaxClockSkew = 30 * 24 * time.Hour
	})
	id := env.createKey(t)
	sk, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	due := *sk.DeletionDate
	var cancelErr error
	hs.afterList = func() {
		set(due.Add(-time.Second))
		_, cancelErr = env.client.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: aws.String(id)})
		set(due.Add(time.Second))
	}
	set(due.Add(time.Second))
	if n := env.srv.sweepDeletions(ctx); n != 0 {
		t.Errorf("the sweep destroyed %d keys", n)
	}
	if cancelErr != nil {
		t.Fatalf("CancelKeyDeletion: %v", cancelErr)
	}
	set(due.Add(time.Hour))
	d, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatalf("CancelKeyDeletion succeeded, yet the key is gone: %v", err)
	}
	if d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Errorf("KeyState %s, want Disabled", d.KeyMetadata.KeyState)
	}
	if n := env.srv.sweepDeletions(ctx); n != 0 {
		t.Errorf("a later sweep destroyed %d keys", n)
	}
}
