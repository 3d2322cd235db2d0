// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Store writers without the root key: old alias records replayed (the
// alias then names the key it named before, whose policy may still let
// the parent decrypt).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
	"github.com/enclavekit/enclavekit/internal/pgtest"
)

// snapshotAlias is a copy of alias name's record as whoever can read the
// store keeps it (a copy of the row, a backup).
func snapshotAlias(t *testing.T, store keystore.Store, name string) keystore.Alias {
	t.Helper()
	a, err := store.GetAlias(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	a.MAC = append([]byte(nil), a.MAC...)
	return a
}

// replayAlias puts old back, verbatim, as its alias's record (whether
// the alias is there now or not).
func replayAlias(t *testing.T, store keystore.Store, old keystore.Alias) {
	t.Helper()
	ctx := context.Background()
	if err := store.DeleteAlias(ctx, old.Name); err != nil && !errors.Is(err, keystore.ErrNotFound) {
		t.Fatal(err)
	}
	if err := store.CreateAlias(ctx, old); err != nil {
		t.Fatal(err)
	}
}

// createAlias points name at key id through env's server.
func (env *testEnv) createAlias(t *testing.T, name, id string) {
	t.Helper()
	if _, err := env.client.CreateAlias(context.Background(), &awskms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
}

// updateAlias points name at key id through env's server.
func (env *testEnv) updateAlias(t *testing.T, name, id string) {
	t.Helper()
	if _, err := env.client.UpdateAlias(context.Background(), &awskms.UpdateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
}

// encryptTo encrypts through env's server by ref and returns the key the
// blob was made under, or the error.
func (env *testEnv) encryptTo(ref string) (string, error) {
	out, err := env.client.Encrypt(context.Background(), &awskms.EncryptInput{KeyId: aws.String(ref), Plaintext: []byte("x")})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.KeyId), nil
}

// wantAliasRollback checks that err is the refusal of a replayed alias
// record: KMSInternalException, logged as "rollback detected" with the
// alias, and counted in kms_alias_rollbacks_detected_total.
func wantAliasRollback(t *testing.T, env *testEnv, logs *syncBuffer, err error, name string) {
	t.Helper()
	wantCode(t, err, CodeInternal)
	if !strings.Contains(logs.String(), "rollback detected") || !strings.Contains(logs.String(), name) {
		t.Errorf("no ERROR log of the rollback naming the alias:\n%s", logs.String())
	}
	m := env.metricsText(t)
	if !strings.Contains(m, "kms_alias_rollbacks_detected_total ") || strings.Contains(m, "kms_alias_rollbacks_detected_total 0") {
		t.Error("the rollback is not counted in kms_alias_rollbacks_detected_total")
	}
}

// TestReplayedAliasRecordIsRefused (store writer, or a restored backup):
// alias/app is moved from K1 to K2 (whose policy may exclude the parent);
// the record from while it named K1 is put back. Requests naming
// alias/app fail closed instead of encrypting under K1 again; nor does
// an UpdateAlias launder the old record.
func TestReplayedAliasRecordIsRefused(t *testing.T) {
	logs := &syncBuffer{}
	env := newEnv(t, logTo(logs))
	ctx := context.Background()
	k1, k2 := env.createKey(t), env.createKey(t)
	env.createAlias(t, "alias/app", k1)
	if got, err := env.encryptTo("alias/app"); err != nil || got != env.srv.keyARN(k1) {
		t.Fatalf("alias/app before the move: %s, %v", got, err)
	}
	naming1 := snapshotAlias(t, env.srv.store, "alias/app")
	env.updateAlias(t, "alias/app", k2)
	if got, err := env.encryptTo("alias/app"); err != nil || got != env.srv.keyARN(k2) {
		t.Fatalf("alias/app after the move: %s, %v", got, err)
	}

	replayAlias(t, env.srv.store, naming1)
	got, err := env.encryptTo("alias/app")
	if err == nil {
		t.Fatalf("the replayed alias record was taken: alias/app encrypted under %s (moved to %s)", got, k2)
	}
	wantAliasRollback(t, env, logs, err, "alias/app")
	_, err = env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	wantCode(t, err, CodeInternal)
	_, err = env.client.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(k1)})
	wantCode(t, err, CodeInternal)
	// Keys named by ID are not affected.
	if _, err := env.encryptTo(k1); err != nil {
		t.Fatal(err)
	}
}

// TestReplayedAliasRecordIsRefusedByAnotherReplica: the replica that did
// not make the move, but has read alias/app since, refuses the old record
// too.
func TestReplayedAliasRecordIsRefusedByAnotherReplica(t *testing.T) {
	logs := &syncBuffer{}
	a := newEnv(t, nil)
	b := a.replica(t, logTo(logs))
	k1, k2 := a.createKey(t), a.createKey(t)
	a.createAlias(t, "alias/app", k1)
	naming1 := snapshotAlias(t, a.srv.store, "alias/app")
	a.updateAlias(t, "alias/app", k2)
	if got, err := b.encryptTo("alias/app"); err != nil || got != b.srv.keyARN(k2) {
		t.Fatalf("alias/app on the other replica: %s, %v", got, err)
	}
	replayAlias(t, a.srv.store, naming1)
	_, err := b.encryptTo("alias/app")
	wantAliasRollback(t, b, logs, err, "alias/app")
}

// TestReplayedAliasRecordFromBeforeDeletionIsRefused: alias/app named K1,
// was deleted and created again for K2; the record from before the
// deletion, put back, is refused. So it is while the alias is deleted,
// by the replica that deleted it and by one that saw it gone.
func TestReplayedAliasRecordFromBeforeDeletionIsRefused(t *testing.T) {
	logs, otherLogs := &syncBuffer{}, &syncBuffer{}
	env := newEnv(t, logTo(logs))
	other := env.replica(t, logTo(otherLogs))
	ctx := context.Background()
	k1, k2 := env.createKey(t), env.createKey(t)
	env.createAlias(t, "alias/app", k1)
	if _, err := other.encryptTo("alias/app"); err != nil {
		t.Fatal(err)
	}
	naming1 := snapshotAlias(t, env.srv.store, "alias/app")

	// Deleted: the old record back while the alias is gone.
	if _, err := env.client.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/app")}); err != nil {
		t.Fatal(err)
	}
	_, err := other.encryptTo("alias/app")
	wantCode(t, err, CodeNotFound)
	replayAlias(t, env.srv.store, naming1)
	_, err = env.encryptTo("alias/app")
	wantAliasRollback(t, env, logs, err, "alias/app")
	_, err = other.encryptTo("alias/app")
	wantAliasRollback(t, other, otherLogs, err, "alias/app")

	// Created again, for K2, through the other replica: both replicas
	// take the new alias, and refuse the old record after it.
	if err := env.srv.store.DeleteAlias(ctx, "alias/app"); err != nil {
		t.Fatal(err)
	}
	other.createAlias(t, "alias/app", k2)
	for _, r := range []*testEnv{env, other} {
		if got, err := r.encryptTo("alias/app"); err != nil || got != r.srv.keyARN(k2) {
			t.Fatalf("alias/app created again: %s, %v", got, err)
		}
	}
	replayAlias(t, env.srv.store, naming1)
	_, err = env.encryptTo("alias/app")
	wantAliasRollback(t, env, logs, err, "alias/app")
	_, err = other.encryptTo("alias/app")
	wantAliasRollback(t, other, otherLogs, err, "alias/app")
}

// TestReplayedAliasRecordOfRecreatedAliasIsRefused: alias/app named K1,
// was deleted and created again for K2 through the same replica; the
// record from before the deletion, put back, is refused.
func TestReplayedAliasRecordOfRecreatedAliasIsRefused(t *testing.T) {
	logs := &syncBuffer{}
	env := newEnv(t, logTo(logs))
	ctx := context.Background()
	k1, k2 := env.createKey(t), env.createKey(t)
	env.createAlias(t, "alias/app", k1)
	naming1 := snapshotAlias(t, env.srv.store, "alias/app")
	if _, err := env.client.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/app")}); err != nil {
		t.Fatal(err)
	}
	env.createAlias(t, "alias/app", k2)
	if got, err := env.encryptTo("alias/app"); err != nil || got != env.srv.keyARN(k2) {
		t.Fatalf("alias/app created again: %s, %v", got, err)
	}
	replayAlias(t, env.srv.store, naming1)
	_, err := env.encryptTo("alias/app")
	wantAliasRollback(t, env, logs, err, "alias/app")
}

// forget drops name's mark, as a replica that has not seen the alias
// since it started.
func (ms *aliasMarks) forget(name string) { ms.m.Delete(name) }

// TestReplayedAliasRecordOfOldFormatIsRefusedAfterUpgrade: an alias record
// written before alias records carried a sequence number (its MAC binds
// the name and key ID only) is taken, as sequence 0; its next UpdateAlias
// seals sequence 1; the old record put back is then refused. A replica
// started afterwards takes the current record.
func TestReplayedAliasRecordOfOldFormatIsRefusedAfterUpgrade(t *testing.T) {
	logs := &syncBuffer{}
	env := newEnv(t, logTo(logs))
	k1, k2 := env.createKey(t), env.createKey(t)
	env.createAlias(t, "alias/app", k1)
	legacy := snapshotAlias(t, env.srv.store, "alias/app")
	legacy.Seq, legacy.MAC = 0, env.srv.root.AliasMAC("alias/app", k1)
	replayAlias(t, env.srv.store, legacy)
	env.srv.aliasMarks.forget("alias/app") // as a replica started after the old release wrote it

	if got, err := env.encryptTo("alias/app"); err != nil || got != env.srv.keyARN(k1) {
		t.Fatalf("an alias record of the old format: %s, %v", got, err)
	}
	env.updateAlias(t, "alias/app", k2)
	a := snapshotAlias(t, env.srv.store, "alias/app")
	if a.Seq != 1 || !env.srv.root.AliasRecordValid(a.Name, a.KeyID, a.CreatedAt, 1, a.MAC) || !a.CreatedAt.Equal(legacy.CreatedAt) {
		t.Fatalf("the first UpdateAlias of an old record wrote %+v, want sequence 1 sealed with its creation time", a)
	}
	fresh := env.replica(t, nil)
	if got, err := fresh.encryptTo("alias/app"); err != nil || got != fresh.srv.keyARN(k2) {
		t.Fatalf("a replica started later: %s, %v", got, err)
	}

	replayAlias(t, env.srv.store, legacy)
	_, err := env.encryptTo("alias/app")
	wantAliasRollback(t, env, logs, err, "alias/app")
}

// TestAliasRecordSeqIsSealed: the sequence number and creation time of an
// old record, raised in the store to pass the marks, break its MAC: the
// record fails its integrity check (KMSInternalException), as any edited
// alias record.
func TestAliasRecordSeqIsSealed(t *testing.T) {
	logs := &syncBuffer{}
	env := newEnv(t, logTo(logs))
	k1, k2 := env.createKey(t), env.createKey(t)
	env.createAlias(t, "alias/app", k1)
	naming1 := snapshotAlias(t, env.srv.store, "alias/app")
	env.updateAlias(t, "alias/app", k2)
	if _, err := env.encryptTo("alias/app"); err != nil {
		t.Fatal(err)
	}
	for _, edit := range []func(*keystore.Alias){
		func(a *keystore.Alias) { a.Seq = 1 << 40 },
		func(a *keystore.Alias) { a.CreatedAt = a.CreatedAt.Add(time.Hour) },
		func(a *keystore.Alias) { a.Seq, a.MAC = 0, env.srv.root.AliasMAC("grant-token/x", k1) },
	} {
		forged := naming1.Clone()
		edit(&forged)
		replayAlias(t, env.srv.store, forged)
		_, err := env.encryptTo("alias/app")
		wantCode(t, err, CodeInternal)
		if strings.Contains(logs.String(), "rollback detected") {
			t.Fatalf("an edited record is reported as a rollback, not as failing its integrity check:\n%s", logs.String())
		}
	}
}

// TestAliasRollbackDetectionAcceptsAnotherReplicasWrites: two replicas
// on one store move an alias in turns, each reading the other's records,
// and delete and create it again in turns: no record is refused.
func TestAliasRollbackDetectionAcceptsAnotherReplicasWrites(t *testing.T) {
	logs := &syncBuffer{}
	a := newEnv(t, logTo(logs))
	b := a.replica(t, logTo(logs))
	ctx := context.Background()
	keys := []string{a.createKey(t), a.createKey(t)}
	a.createAlias(t, "alias/app", keys[0])
	for i := range 6 {
		w, r := a, b
		if i%2 == 1 {
			w, r = b, a
		}
		want := keys[(i+1)%2]
		if i%3 == 2 {
			if _, err := w.client.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/app")}); err != nil {
				t.Fatal(err)
			}
			w.createAlias(t, "alias/app", want)
		} else {
			w.updateAlias(t, "alias/app", want)
		}
		for _, e := range []*testEnv{r, w} {
			if got, err := e.encryptTo("alias/app"); err != nil || got != e.srv.keyARN(want) {
				t.Fatalf("round %d: alias/app gave %s, %v; want %s", i, got, err, want)
			}
		}
	}
	if strings.Contains(logs.String(), "rollback detected") {
		t.Fatalf("a valid record was refused:\n%s", logs.String())
	}
}

// TestConcurrentUpdateAliasWritesEverySequenceOnce: two replicas move one
// alias concurrently; each update is written on top of the record before
// it (the store's UpdateAlias is conditional), so the sequence numbers
// count every update, and neither replica refuses the other's records.
func TestConcurrentUpdateAliasWritesEverySequenceOnce(t *testing.T) {
	logs := &syncBuffer{}
	a := newEnv(t, logTo(logs))
	b := a.replica(t, logTo(logs))
	ctx := context.Background()
	keys := []string{a.createKey(t), a.createKey(t)}
	a.createAlias(t, "alias/app", keys[0])
	const each = 10
	var wg sync.WaitGroup
	var ok atomic.Int64
	errs := make(chan error, 2*each)
	for w, env := range []*testEnv{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := env.client.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(keys[(i+w)%2])})
				if err != nil {
					errs <- err
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		// Throttling when the alias moved under an update three times
		// running; nothing else.
		wantCode(t, err, CodeThrottling)
	}
	if rec := snapshotAlias(t, a.srv.store, "alias/app"); rec.Seq != uint64(1+ok.Load()) {
		t.Fatalf("after %d acknowledged updates the record has sequence %d, want %d", ok.Load(), rec.Seq, 1+ok.Load())
	}
	for _, e := range []*testEnv{a, b} {
		if _, err := e.encryptTo("alias/app"); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(logs.String(), "rollback detected") {
		t.Fatalf("a valid record was refused:\n%s", logs.String())
	}
}

// TestReplayedAliasRecordDoesNotRestoreResourceAliases: key K1 serves
// Encrypt only while alias/app names it (kms:ResourceAliases); the alias
// moves to K2, and the record from before, put back, does not give K1
// back its alias: Encrypt by K1's ID stays denied.
func TestReplayedAliasRecordDoesNotRestoreResourceAliases(t *testing.T) {
	env := newEnv(t, nil)
	k1 := keyWithDeny(t, env.client, `{"ForAllValues:StringNotEquals":{"kms:ResourceAliases":"alias/app"}}`)
	k2 := env.createKey(t)
	wantCode(t, encryptWith(env.client, k1), CodeAccessDenied)
	env.createAlias(t, "alias/app", k1)
	if err := encryptWith(env.client, k1); err != nil {
		t.Fatalf("Encrypt by K1 while alias/app names it: %v", err)
	}
	naming1 := snapshotAlias(t, env.srv.store, "alias/app")
	env.updateAlias(t, "alias/app", k2)
	wantCode(t, encryptWith(env.client, k1), CodeAccessDenied)
	replayAlias(t, env.srv.store, naming1)
	if err := encryptWith(env.client, k1); err == nil {
		t.Fatal("the replayed alias record gave K1 its alias back in kms:ResourceAliases: Encrypt allowed")
	}
}

// aliasMovingStore moves the alias, once, to another key just before the
// server's UpdateAlias runs (another replica's UpdateAlias that won the
// race).
type aliasMovingStore struct {
	keystore.Store
	mu   sync.Mutex
	move func()
}

func (s *aliasMovingStore) UpdateAlias(ctx context.Context, name string, fn func(*keystore.Alias) error) error {
	s.mu.Lock()
	f := s.move
	s.move = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return s.Store.UpdateAlias(ctx, name, fn)
}

// TestUpdateAliasAuthorizesTheKeyTheAliasNamesWhenWritten: between
// UpdateAlias's authorization on the key alias/app named (K1) and its
// write, another replica moves the alias to K3, whose policy denies the
// caller kms:UpdateAlias. The update is not written on top of K3's
// record: it starts again, and is denied on K3.
func TestUpdateAliasAuthorizesTheKeyTheAliasNamesWhenWritten(t *testing.T) {
	ms := &aliasMovingStore{}
	env := newEnv(t, func(c *Config) {
		if testBackend == backendPostgres {
			c.Store = openPostgres(t, &postgres.Config{URL: pgtest.URL(t)})
		} else {
			c.Store = openDir(t, t.TempDir())
		}
		ms.Store = c.Store
		c.Store = ms
	})
	ctx := context.Background()
	k1, k2 := env.createKey(t), env.createKey(t)
	locked, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":%q},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Deny","Principal":"*","Action":"kms:UpdateAlias","Resource":"*"}]}`, testPrincipal))})
	if err != nil {
		t.Fatal(err)
	}
	k3 := *locked.KeyMetadata.KeyId
	env.createAlias(t, "alias/app", k1)
	ms.mu.Lock()
	ms.move = func() {
		// The other replica's write: a valid record naming K3.
		if err := ms.Store.UpdateAlias(ctx, "alias/app", func(a *keystore.Alias) error {
			a.KeyID = k3
			env.srv.sealAlias(a, a.Seq+1)
			return nil
		}); err != nil {
			t.Error(err)
		}
	}
	ms.mu.Unlock()
	_, err = env.client.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(k2)})
	wantCode(t, err, CodeAccessDenied)
	if a := snapshotAlias(t, ms.Store, "alias/app"); a.KeyID != k3 {
		t.Fatalf("alias/app names %s after the refused update, want K3 %s", a.KeyID, k3)
	}
}

// TestAliasMarks: the marks' rules, with the specific error.
func TestAliasMarks(t *testing.T) {
	var ms aliasMarks
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Second)
	v := func(c time.Time, seq uint64) aliasVersion { return aliasVersion{created: c, seq: seq} }
	check := func(name string, rec aliasVersion) error { return ms.checkFrom(name, rec, ms.get(name)) }
	for _, rec := range []aliasVersion{v(time.Time{}, 0), v(t0, 1), v(t0, 3), v(t0, 3)} {
		if err := check("alias/a", rec); err != nil {
			t.Fatalf("%+v: %v", rec, err)
		}
	}
	err := check("alias/a", v(t0, 2))
	var rb *AliasRollbackError
	if !errors.As(err, &rb) || rb.Alias != "alias/a" || rb.Seq != 2 || !rb.Created.Equal(t0) || rb.SeenSeq != 3 || !rb.SeenCreated.Equal(t0) {
		t.Fatalf("an older sequence: %#v", err)
	}
	if err := check("alias/a", v(time.Time{}, 0)); !errors.As(err, &rb) || rb.Seq != 0 || !rb.Created.IsZero() {
		t.Fatalf("a record of the old format after a sealed one: %v", err)
	}
	// Deleted: no record of that alias, nor of one created before it.
	ms.bury("alias/a", t0)
	for _, rec := range []aliasVersion{v(t0, 3), v(t0, 4), v(t0.Add(-time.Hour), 9)} {
		if err := check("alias/a", rec); !errors.As(err, &rb) || rb.SeenSeq != tombstone || !strings.Contains(err.Error(), "was deleted") {
			t.Fatalf("%+v after the deletion: %v", rec, err)
		}
	}
	// Created again, later: taken; its mark replaces the tombstone.
	if err := check("alias/a", v(t1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := check("alias/a", v(t0, 4)); !errors.As(err, &rb) || rb.SeenSeq != 1 || !rb.SeenCreated.Equal(t1) {
		t.Fatalf("the deleted alias's record after the new one: %v", err)
	}
	// A late bury of the old alias does not tombstone the new one.
	ms.bury("alias/a", t0)
	if err := check("alias/a", v(t1, 1)); err != nil {
		t.Fatalf("the new alias after a late bury of the old: %v", err)
	}
	// A record overtaken in flight (floor taken before the read) is
	// accepted, and does not lower the mark.
	floor := ms.get("alias/a")
	ms.raise("alias/a", v(t1, 5))
	if err := ms.checkFrom("alias/a", v(t1, 1), floor); err != nil {
		t.Fatal(err)
	}
	if m := ms.get("alias/a"); m.seq != 5 {
		t.Fatalf("the mark went back to %d", m.seq)
	}
	// Names are apart.
	if err := check("alias/b", v(t0, 1)); err != nil {
		t.Fatal(err)
	}
}
