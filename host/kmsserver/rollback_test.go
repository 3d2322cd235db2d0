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
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
	"github.com/enclavekit/enclavekit/internal/pgtest"
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
	// As a replica of this version started after that release wrote it
	// (this one has verified the newer record, and refuses the old).
	env.srv.marks.forget(id)
}

// forget drops id's mark, as a replica that has not seen the key since it
// started.
func (ms *seqMarks) forget(id string) { ms.m.Delete(id) }

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

// snapshot is a copy of key id's record as whoever can read the store
// keeps it (a copy of the row, a backup).
func snapshot(t *testing.T, store keystore.Store, id string) *keystore.Key {
	t.Helper()
	k, err := store.GetKey(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// replay puts old back as key id's record (the store sets the revision:
// only what the server reads goes back in time).
func replay(t *testing.T, store keystore.Store, old *keystore.Key) {
	t.Helper()
	if _, err := store.UpdateKey(context.Background(), old.ID, func(k *keystore.Key) error {
		rev := k.Revision
		*k = *old.Clone()
		k.Revision = rev
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// replica is a second server on env's store (the same directory store,
// or the same PostgreSQL schema), with mod applied to its configuration.
func (env *testEnv) replica(t *testing.T, mod func(*Config)) *testEnv {
	t.Helper()
	return newEnv(t, func(c *Config) {
		if env.dbURL != "" {
			c.Store = openPostgres(t, &postgres.Config{URL: env.dbURL})
		} else {
			c.Store = env.srv.store
		}
		if mod != nil {
			mod(c)
		}
	})
}

// wantRollback checks that err is the refusal of a replayed record:
// KMSInternalException, logged as "rollback detected" with the key, and
// counted.
func wantRollback(t *testing.T, env *testEnv, logs *syncBuffer, err error, id string) {
	t.Helper()
	wantCode(t, err, CodeInternal)
	if !strings.Contains(logs.String(), "rollback detected") || !strings.Contains(logs.String(), id) {
		t.Errorf("no ERROR log of the rollback naming the key:\n%s", logs.String())
	}
	if !strings.Contains(env.metricsText(t), "kms_key_rollbacks_detected_total ") ||
		strings.Contains(env.metricsText(t), "kms_key_rollbacks_detected_total 0") {
		t.Error("the rollback is not counted in kms_key_rollbacks_detected_total")
	}
}

// TestReplayedRecordDoesNotReenableDisabledKey (store writer, or a
// restored backup): DisableKey, then the record copied while the key was
// enabled is put back. The replica refuses the older record instead of
// encrypting with the key.
func TestReplayedRecordDoesNotReenableDisabledKey(t *testing.T) {
	logs := &syncBuffer{}
	env := newEnv(t, logTo(logs))
	ctx := context.Background()
	id := env.createKey(t)
	enabled := snapshot(t, env.srv.store, id)
	if _, err := env.client.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, CodeDisabled)

	replay(t, env.srv.store, enabled)
	_, err = env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantRollback(t, env, logs, err, id)
	// Nor can a write launder the old record into a new one.
	_, err = env.client.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id), Tags: sdkTags("k", "v")})
	wantCode(t, err, CodeInternal)
}

// TestReplayedRecordDoesNotRestoreRevokedGrant: a grant of Decrypt to
// another account's principal is revoked; the record from before the
// revocation, put back, is refused rather than giving the grantee Decrypt.
func TestReplayedRecordDoesNotRestoreRevokedGrant(t *testing.T) {
	logs := &syncBuffer{}
	env := newEnv(t, logTo(logs))
	ctx := context.Background()
	stranger := env.clientFor(strangerAKID, strangerSecret)
	id := env.createKey(t)
	blob := env.encrypt(t, id, []byte("secret"), nil)
	g, err := env.client.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err != nil {
		t.Fatal(err)
	}
	granted := snapshot(t, env.srv.store, id)
	if _, err := env.client.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: aws.String(id), GrantId: g.GrantId}); err != nil {
		t.Fatal(err)
	}
	_, err = stranger.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeAccessDenied)

	replay(t, env.srv.store, granted)
	out, err := stranger.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	if err == nil {
		t.Fatalf("a revoked grant came back with the old record: the grantee decrypted %q", out.Plaintext)
	}
	wantRollback(t, env, logs, err, id)
}

// TestReplayedRecordDoesNotRestoreOldEnclaveImage: the key policy
// released data keys to enclave image A; PutKeyPolicy moved it to image
// B. The record from before PutKeyPolicy, put back, is refused: image A
// gets no data key.
func TestReplayedRecordDoesNotRestoreOldEnclaveImage(t *testing.T) {
	logs := &syncBuffer{}
	e := newRecipientEnv(t, logTo(logs))
	ctx := context.Background()
	imageA := attestationtest.PCRs()[0]
	imageB := bytes.Repeat([]byte{0xbb}, len(imageA))
	ck, err := e.client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(enclavePolicy(imageA))})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	gdk := func() error { // with a document of image A
		_, err := e.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(32),
			Recipient: e.recipient(e.doc(t))})
		return err
	}
	if err := gdk(); err != nil {
		t.Fatal(err)
	}
	trustsA := snapshot(t, e.srv.store, id)
	if _, err := e.client.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"),
		Policy: aws.String(enclavePolicy(imageB))}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, gdk(), CodeAccessDenied)

	replay(t, e.srv.store, trustsA)
	err = gdk()
	if err == nil {
		t.Fatal("the record from before PutKeyPolicy released a data key to image A again")
	}
	wantRollback(t, e.testEnv, logs, err, id)
}

// TestRestoredRecordOfDestroyedKeyIsRefused: a key the deletion sweep
// destroyed is put back from a backup. The replica that destroyed it, and
// a replica that saw it vanish, refuse it; neither decrypts with it (nor
// cancels its deletion).
func TestRestoredRecordOfDestroyedKeyIsRefused(t *testing.T) {
	logs := &syncBuffer{}
	later := func(c *Config) {
		c.Clock = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
		c.MaxClockSkew = 30 * 24 * time.Hour
	}
	env := newEnv(t, logTo(logs))
	ctx := context.Background()
	id := env.createKey(t)
	blob := env.encrypt(t, id, []byte("shredded?"), nil)
	enabled := snapshot(t, env.srv.store, id)
	if _, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	// The latest record there was: pending deletion.
	backup := snapshot(t, env.srv.store, id)
	sweeperLogs := &syncBuffer{}
	sweeper := env.replica(t, func(c *Config) { later(c); logTo(sweeperLogs)(c) })
	if n := sweeper.srv.sweepDeletions(ctx); n != 1 {
		t.Fatalf("sweep destroyed %d keys", n)
	}
	// env sees the key gone.
	_, err := env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeNotFound)

	if err := env.srv.store.CreateKey(ctx, backup); err != nil {
		t.Fatal(err)
	}
	_, err = env.client.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	wantRollback(t, env, logs, err, id)
	if _, err := env.srv.store.GetKey(ctx, id); err != nil {
		t.Fatalf("the restored record was changed: %v", err)
	}
	// An older backup, from before the deletion was scheduled.
	replay(t, env.srv.store, enabled)
	_, err = sweeper.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantRollback(t, sweeper, sweeperLogs, err, id)
	_, err = env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeInternal)
}

// TestReplayedRecordOfOldLabelIsRefusedAfterUpgrade: a record sealed by a
// release without sequence numbers (here label v1) opens, as sequence 0;
// its next change seals it with sequence 1 under the new label; the old
// record put back is then refused. A replica started afterwards accepts
// the current record.
func TestReplayedRecordOfOldLabelIsRefusedAfterUpgrade(t *testing.T) {
	logs := &syncBuffer{}
	env := newEnv(t, logTo(logs))
	ctx := context.Background()
	id := env.createKey(t)
	makeV1Record(t, env, id)
	old := snapshot(t, env.srv.store, id)
	env.encrypt(t, id, []byte("old label opens"), nil)
	if _, err := env.client.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if k := snapshot(t, env.srv.store, id); k.Seq != 1 {
		t.Fatalf("sequence %d after the first sealed write of an old record, want 1", k.Seq)
	}
	if _, err := env.client.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	env.encrypt(t, id, []byte("new label opens"), nil)
	fresh := env.replica(t, nil)
	fresh.encrypt(t, id, []byte("a replica started later accepts the current record"), nil)

	replay(t, env.srv.store, old)
	_, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantRollback(t, env, logs, err, id)
	// The old record's stored seq is not sealed: raising it changes nothing.
	old.Seq = 1 << 40
	replay(t, env.srv.store, old)
	_, err = env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, CodeInternal)
}

// TestRollbackDetectionAcceptsAnotherReplicasWrites: two replicas on one
// store change a key in turns, each reading the other's records (higher
// sequence numbers than its own last): no record is refused.
func TestRollbackDetectionAcceptsAnotherReplicasWrites(t *testing.T) {
	logs := &syncBuffer{}
	a := newEnv(t, logTo(logs))
	b := a.replica(t, logTo(logs))
	ctx := context.Background()
	id := a.createKey(t)
	for i := range 4 {
		w, r := a, b
		if i%2 == 1 {
			w, r = b, a
		}
		if _, err := w.client.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id), Tags: sdkTags("round", fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
		r.encrypt(t, id, []byte("x"), nil)
		w.encrypt(t, id, []byte("x"), nil)
	}
	if strings.Contains(logs.String(), "rollback detected") {
		t.Fatalf("a valid record was refused:\n%s", logs.String())
	}
}

// TestRollbackDetectionAcceptsConcurrentReads: requests that read a key's
// record while another request on the same replica (or another replica)
// writes a newer one may verify the older record after the newer one
// raised the mark; they are concurrent with the write, not replays, and
// are served, never refused.
func TestRollbackDetectionAcceptsConcurrentReads(t *testing.T) {
	logs := &syncBuffer{}
	a := newEnv(t, logTo(logs))
	b := a.replica(t, logTo(logs))
	ctx := context.Background()
	id := a.createKey(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w, env := range []*testEnv{a, b} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 15 {
				if _, err := env.client.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id), Tags: sdkTags(fmt.Sprint("w", w), fmt.Sprint(i))}); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 30 {
				if _, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if strings.Contains(logs.String(), "rollback detected") {
		t.Fatalf("a valid record was refused:\n%s", logs.String())
	}
}

// getHookStore runs afterGet once, after GetKey has read a record and
// before it returns it.
type getHookStore struct {
	keystore.Store
	mu       sync.Mutex
	afterGet func()
}

func (h *getHookStore) GetKey(ctx context.Context, id string) (*keystore.Key, error) {
	k, err := h.Store.GetKey(ctx, id)
	h.mu.Lock()
	f := h.afterGet
	h.afterGet = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return k, err
}

// TestRollbackDetectionAcceptsReadOvertakenByWrite: an Encrypt reads the
// key's record; before it verifies it, a TagResource through the same
// replica commits a newer record (and raises the mark). The Encrypt was
// concurrent with the write, not a replay: it is served.
func TestRollbackDetectionAcceptsReadOvertakenByWrite(t *testing.T) {
	logs := &syncBuffer{}
	hs := &getHookStore{}
	env := newEnv(t, func(c *Config) {
		logTo(logs)(c)
		if testBackend == backendPostgres {
			c.Store = openPostgres(t, &postgres.Config{URL: pgtest.URL(t)})
		} else {
			c.Store = openDir(t, t.TempDir())
		}
		hs.Store = c.Store
		c.Store = hs
	})
	ctx := context.Background()
	id := env.createKey(t)
	env.encrypt(t, id, []byte("x"), nil) // the mark: sequence 1
	hs.mu.Lock()
	hs.afterGet = func() {
		if _, err := env.client.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id), Tags: sdkTags("k", "v")}); err != nil {
			t.Error(err)
		}
	}
	hs.mu.Unlock()
	env.encrypt(t, id, []byte("read before the TagResource, verified after"), nil)
	if k := snapshot(t, hs.Store, id); k.Seq != 2 {
		t.Fatalf("the TagResource did not run in between: sequence %d", k.Seq)
	}
	if strings.Contains(logs.String(), "rollback detected") {
		t.Fatalf("a valid record was refused:\n%s", logs.String())
	}
}

// TestSweepDoesNotDestroyReplayedPendingRecord (store writer): a key's
// deletion is scheduled, then cancelled; the record from while it was
// pending, put back once its date has passed, is refused by the sweep of
// a replica that saw the cancellation: the key is not destroyed.
func TestSweepDoesNotDestroyReplayedPendingRecord(t *testing.T) {
	logs := &syncBuffer{}
	var ahead atomic.Int64 // the clock's offset
	env := newEnv(t, func(c *Config) {
		logTo(logs)(c)
		c.Clock = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
		c.MaxClockSkew = 30 * 24 * time.Hour
	})
	ctx := context.Background()
	id := env.createKey(t)
	if _, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	pending := snapshot(t, env.srv.store, id)
	if _, err := env.client.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	replay(t, env.srv.store, pending)
	ahead.Store(int64(8 * 24 * time.Hour)) // the replayed deletion date has passed
	if n := env.srv.sweepDeletions(ctx); n != 0 {
		t.Fatalf("the sweep destroyed %d key(s) on a replayed pending deletion that had been cancelled", n)
	}
	if _, err := env.srv.store.GetKey(ctx, id); err != nil {
		t.Fatalf("the key is gone: %v", err)
	}
	if !strings.Contains(logs.String(), "rollback detected") {
		t.Fatalf("the refusal is not logged as a rollback:\n%s", logs.String())
	}
	if !strings.Contains(env.metricsText(t), `kms_key_deletions_total{result="failed"} 1`) {
		t.Error("the refusal is not counted as a failed deletion")
	}
}

// TestListRetirableGrantsOmitsReplayedGrant: a grant retired, then the
// record from before put back: ListRetirableGrants does not list the
// grant again (the record is refused and logged).
func TestListRetirableGrantsOmitsReplayedGrant(t *testing.T) {
	logs := &syncBuffer{}
	env := newEnv(t, logTo(logs))
	ctx := context.Background()
	id := env.createKey(t)
	env.encrypt(t, id, []byte("x"), nil)
	g, err := env.client.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
		RetiringPrincipal: aws.String(strangerPrincipal), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err != nil {
		t.Fatal(err)
	}
	granted := snapshot(t, env.srv.store, id)
	if _, err := env.client.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: aws.String(id), GrantId: g.GrantId}); err != nil {
		t.Fatal(err)
	}
	replay(t, env.srv.store, granted)
	out, err := env.client.ListRetirableGrants(ctx, &awskms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(strangerPrincipal)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Grants) != 0 {
		t.Fatalf("a revoked grant is listed again from a replayed record: %+v", out.Grants)
	}
	if !strings.Contains(logs.String(), "rollback detected") {
		t.Fatalf("the refusal is not logged as a rollback:\n%s", logs.String())
	}
}
