// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Store writers without the root key: records of old labels, and old
// records replayed (review F).

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// logTo makes the server log to buf (text, every level).
func logTo(buf *syncBuffer) func(*Config) {
	return func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// metricsText is the server's /metrics page.
func (env *testEnv) metricsText(t *testing.T) string {
	t.Helper()
	w := httptest.NewRecorder()
	env.srv.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}

// makeV1Record rewrites key id's record as a release before the state was
// bound wrote it (label v1: key ID, spec, usage and policy only), with the
// test's root key, as that release would have.
func makeV1Record(t *testing.T, env *testEnv, id string) {
	t.Helper()
	ctx := context.Background()
	k, err := env.srv.store.GetKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	m, err := env.srv.material(k)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := aes.NewCipher(bytes.Repeat([]byte{7}, 32))
	gcm, _ := cipher.NewGCM(blk)
	h := sha256.Sum256([]byte(k.Policy))
	aad := []byte("enclavekit/kms key material v1\x00" + k.ID + "\x00" + k.KeySpec + "\x00" + k.KeyUsage + "\x00" + string(h[:]))
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	v1 := gcm.Seal(bytes.Clone(nonce), nonce, m.Raw, aad)
	if _, err := env.srv.store.UpdateKey(ctx, id, func(k *keystore.Key) error {
		k.MaterialID, k.Tags, k.WrappedMaterial = "", nil, v1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSweepKeepsRecordWhoseStateIsNotSealed (store writer): a key record
// written before the state was bound (label v1, which still opens) is
// marked PendingDeletion, due an hour ago, by whoever can write to the
// store. The sweep must not destroy it (nor write a DeleteKey audit line):
// nothing vouches that the deletion was scheduled through the server. The
// refusal is logged and counted; the key still works.
func TestSweepKeepsRecordWhoseStateIsNotSealed(t *testing.T) {
	logs := &syncBuffer{}
	env := newEnv(t, logTo(logs))
	ctx := context.Background()
	id := env.createKey(t)
	makeV1Record(t, env, id)
	env.encrypt(t, id, []byte("legacy record opens"), nil)
	// The store writer's edit.
	if _, err := env.srv.store.UpdateKey(ctx, id, func(k *keystore.Key) error {
		k.State, k.DeletionDate = keystore.StatePendingDeletion, time.Now().Add(-time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := env.srv.sweepDeletions(ctx); n != 0 {
		t.Fatalf("the sweep destroyed %d key(s) on a deletion only the store writer asked for", n)
	}
	if _, err := env.srv.store.GetKey(ctx, id); err != nil {
		t.Fatalf("the record is gone: %v", err)
	}
	if strings.Contains(env.audit.String(), `"DeleteKey"`) {
		t.Fatalf("a DeleteKey audit line for a deletion nobody scheduled:\n%s", env.audit.String())
	}
	if !strings.Contains(logs.String(), "state is not sealed") || !strings.Contains(logs.String(), id) {
		t.Fatalf("the refusal is not logged with the key:\n%s", logs.String())
	}
	if !strings.Contains(env.metricsText(t), `kms_key_deletions_total{result="failed"} 1`) {
		t.Fatal("the refusal is not counted as a failed deletion")
	}
}

// TestSweepDestroysV1RecordScheduledThroughServer: a record of label v1
// whose deletion is scheduled through the server (ScheduleKeyDeletion
// rewraps it with its state bound) is destroyed when due.
func TestSweepDestroysV1RecordScheduledThroughServer(t *testing.T) {
	env := newEnv(t, func(c *Config) {
		c.Clock = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
		c.MaxClockSkew = 30 * 24 * time.Hour
	})
	ctx := context.Background()
	id := env.createKey(t)
	makeV1Record(t, env, id)
	if _, err := env.srv.store.UpdateKey(ctx, id, env.srv.rebind(func(k *keystore.Key) error {
		k.State, k.DeletionDate = keystore.StatePendingDeletion, time.Now().Add(7*24*time.Hour)
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	if n := env.srv.sweepDeletions(ctx); n != 1 {
		t.Fatalf("the sweep destroyed %d keys, want 1", n)
	}
}
