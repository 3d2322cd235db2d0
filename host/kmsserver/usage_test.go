// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

// lastUsage calls GetKeyLastUsage through the official client.
func (env *testEnv) lastUsage(t *testing.T, key string) *awskms.GetKeyLastUsageOutput {
	t.Helper()
	out, err := env.client.GetKeyLastUsage(context.Background(), &awskms.GetKeyLastUsageInput{KeyId: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantUsage asserts that key's last usage is op, by the request of the
// latest request ID the client saw, at a time within [from, now].
func wantUsage(t *testing.T, out *awskms.GetKeyLastUsageOutput, op types.KeyLastUsageTrackingOperation, reqID string, from time.Time) {
	t.Helper()
	u := out.KeyLastUsage
	if u == nil || u.Operation != op {
		t.Fatalf("KeyLastUsage %+v, want operation %s", u, op)
	}
	if u.KmsRequestId == nil || *u.KmsRequestId != reqID {
		t.Errorf("KmsRequestId %v, want %s", u.KmsRequestId, reqID)
	}
	if u.CloudTrailEventId != nil {
		t.Errorf("CloudTrailEventId %q: this server has no CloudTrail and must leave it absent", *u.CloudTrailEventId)
	}
	if u.Timestamp == nil || u.Timestamp.Before(from.Add(-time.Second)) || u.Timestamp.After(time.Now().Add(time.Second)) {
		t.Errorf("Timestamp %v, want between %v and now", u.Timestamp, from)
	}
}

// reqIDOf is the x-amzn-RequestId of a response.
func reqIDOf(md middleware.Metadata) string {
	id, _ := awsmiddleware.GetRequestIDMetadata(md)
	return id
}

func TestGetKeyLastUsage(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	start := time.Now()
	key := env.createKey(t)

	// A fresh key: KeyLastUsage is an empty object, tracking started at
	// creation.
	out := env.lastUsage(t, key)
	if out.KeyLastUsage == nil || out.KeyLastUsage.Operation != "" || out.KeyLastUsage.Timestamp != nil || out.KeyLastUsage.KmsRequestId != nil {
		t.Fatalf("fresh key: KeyLastUsage %+v, want an empty object", out.KeyLastUsage)
	}
	if *out.KeyId != key || out.TrackingStartDate == nil || out.KeyCreationDate == nil || !out.TrackingStartDate.Equal(*out.KeyCreationDate) {
		t.Fatalf("fresh key: KeyId %v, TrackingStartDate %v, KeyCreationDate %v: want the key's ID and both the creation date", *out.KeyId, out.TrackingStartDate, out.KeyCreationDate)
	}

	enc, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	wantUsage(t, env.lastUsage(t, key), types.KeyLastUsageTrackingOperationEncrypt, reqIDOf(enc.ResultMetadata), start)

	gdk, err := env.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(key), KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	wantUsage(t, env.lastUsage(t, key), types.KeyLastUsageTrackingOperationGenerateDataKey, reqIDOf(gdk.ResultMetadata), start)

	dec, err := env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil {
		t.Fatal(err)
	}
	wantUsage(t, env.lastUsage(t, key), types.KeyLastUsageTrackingOperationDecrypt, reqIDOf(dec.ResultMetadata), start)

	// ReEncrypt counts for both keys.
	dst := env.createKey(t)
	re, err := env.client.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: aws.String(dst)})
	if err != nil {
		t.Fatal(err)
	}
	wantUsage(t, env.lastUsage(t, key), types.KeyLastUsageTrackingOperationReEncrypt, reqIDOf(re.ResultMetadata), start)
	wantUsage(t, env.lastUsage(t, dst), types.KeyLastUsageTrackingOperationReEncrypt, reqIDOf(re.ResultMetadata), start)

	// Failed operations do not count: a wrong encryption context, a
	// DryRun, a disabled key.
	if _, err := env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"a": "b"}}); err == nil {
		t.Fatal("Decrypt with the wrong encryption context succeeded")
	}
	_, err = env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	wantCode(t, err, CodeDryRunOperation)
	wantUsage(t, env.lastUsage(t, key), types.KeyLastUsageTrackingOperationReEncrypt, reqIDOf(re.ResultMetadata), start)
	if _, err := env.client.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(dst)}); err != nil {
		t.Fatal(err)
	}
	_, err = env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(dst), Plaintext: []byte("x")})
	wantCode(t, err, CodeDisabled)
	// Management operations are no use either, and GetKeyLastUsage
	// answers for a disabled key.
	wantUsage(t, env.lastUsage(t, dst), types.KeyLastUsageTrackingOperationReEncrypt, reqIDOf(re.ResultMetadata), start)

	// Sign, with an asymmetric key.
	sk, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := env.client.Sign(ctx, &awskms.SignInput{KeyId: sk.KeyMetadata.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil {
		t.Fatal(err)
	}
	wantUsage(t, env.lastUsage(t, *sk.KeyMetadata.KeyId), types.KeyLastUsageTrackingOperationSign, reqIDOf(sig.ResultMetadata), start)

	// The key ARN works; an alias does not (as in KMS).
	if _, err := env.client.GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: aws.String(env.srv.keyARN(key))}); err != nil {
		t.Fatalf("by key ARN: %v", err)
	}
	if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/usage"), TargetKeyId: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	_, err = env.client.GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: aws.String("alias/usage")})
	wantCode(t, err, CodeNotFound)
	_, err = env.client.GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: aws.String("00000000-0000-0000-0000-000000000000")})
	wantCode(t, err, CodeNotFound)
}

// TestGetKeyLastUsageAccessDenied: kms:GetKeyLastUsage is a key policy
// permission, refused to an identity policy that lacks it, to a key policy
// Deny, and across accounts.
func TestGetKeyLastUsageAccessDenied(t *testing.T) {
	const akid, secret = "AKIAUSAGEREADER00001", "usage-reader-secret"
	env := newEnv(t, func(c *Config) {
		c.AccessKeys[akid] = AccessKey{Secret: secret, PrincipalARN: "arn:aws:iam::111122223333:user/encrypter",
			Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`}
	})
	ctx := context.Background()
	key := env.createKey(t)
	enc := env.clientFor(akid, secret)
	if _, err := enc.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	_, err := enc.GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: aws.String(key)})
	wantCode(t, err, CodeAccessDenied)
	_, err = env.clientFor("AKIAOTHERPRINCIPAL01", "other-secret").GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: aws.String(env.srv.keyARN(key))})
	wantCode(t, err, CodeAccessDenied)

	deny := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"all","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"nousage","Effect":"Deny","Principal":"*","Action":"kms:GetKeyLastUsage","Resource":"*"}]}`
	if _, err := env.client.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(key), Policy: aws.String(deny), PolicyName: aws.String("default")}); err != nil {
		t.Fatal(err)
	}
	_, err = env.client.GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: aws.String(key)})
	wantCode(t, err, CodeAccessDenied)
}

// TestKeyUsagePersistence: usage reaches the store at a flush (Serve's
// loop and its stop) and survives a restart; usage not yet flushed when
// the process dies is lost, as documented; writes merge by time, so two
// servers sharing a store keep the later use whichever flushes last.
func TestKeyUsagePersistence(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	key := env.createKey(t)
	out, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	stored := func() keystore.KeyUsage {
		t.Helper()
		k, err := env.srv.store.GetKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return k.LastUsage
	}
	if u := stored(); !u.Time.IsZero() {
		t.Fatalf("usage %+v written on the request path", u)
	}
	// A second server on the same store (a restart without a flush: a
	// crash) knows nothing of the use.
	restart := func() *Server {
		t.Helper()
		cfg := env.srv.cfg
		s, err := NewServer(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if u := restart().usage.last(key); !u.Time.IsZero() {
		t.Fatalf("in-memory usage %+v on a fresh server", u)
	}
	if err := env.srv.FlushKeyUsage(ctx); err != nil {
		t.Fatal(err)
	}
	u := stored()
	if u.Operation != "Encrypt" || u.RequestID != reqIDOf(out.ResultMetadata) {
		t.Fatalf("stored usage %+v, want the Encrypt of request %s", u, reqIDOf(out.ResultMetadata))
	}
	// Nothing new: the next flush writes nothing.
	k0, _ := env.srv.store.GetKey(ctx, key)
	if err := env.srv.FlushKeyUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if k1, _ := env.srv.store.GetKey(ctx, key); k1.Revision != k0.Revision {
		t.Fatalf("a flush with nothing new wrote the record (revision %d → %d)", k0.Revision, k1.Revision)
	}

	// Merge: server b saw a later use than a; a flushes last and does not
	// overwrite it.
	a, b := restart(), restart()
	t0 := u.Time.Add(time.Minute)
	a.usage.note(key, "Decrypt", t0, "req-a")
	b.usage.note(key, "Sign", t0.Add(time.Second), "req-b")
	if err := b.FlushKeyUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.FlushKeyUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if u := stored(); u.RequestID != "req-b" {
		t.Fatalf("stored usage %+v after both flushed, want b's later use", u)
	}
	// A destroyed key is forgotten, not retried for ever.
	a.usage.note("11111111-1111-4111-8111-111111111111", "Decrypt", t0, "req-gone")
	if err := a.FlushKeyUsage(ctx); err != nil {
		t.Fatalf("flush of a key that no longer exists: %v", err)
	}
	if u := a.usage.last("11111111-1111-4111-8111-111111111111"); !u.Time.IsZero() {
		t.Fatalf("usage of a destroyed key kept: %+v", u)
	}
}

// TestKeyUsageFlushedWhenServeStops: Serve's stop writes the usage of the
// requests it served since its last flush, and the next server answers it.
func TestKeyUsageFlushedWhenServeStops(t *testing.T) {
	store := openDir(t, t.TempDir())
	srv, stop := newServing(t, func(c *Config) {
		c.Store = store
		c.AccountID = testAccount
		c.KeyUsageFlushInterval = time.Hour // only the stop flushes
	})
	client := awskms.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: sdkhttp.New(nil),
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String("http://" + srv.Addr("kms").String()) })
	ctx := context.Background()
	ck, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	gdk, err := client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(32)})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got, err := store.GetKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsage.Operation != "GenerateDataKey" || got.LastUsage.RequestID != reqIDOf(gdk.ResultMetadata) {
		t.Fatalf("stored usage %+v after Serve stopped, want the GenerateDataKey of request %s", got.LastUsage, reqIDOf(gdk.ResultMetadata))
	}
	if got.UsageTrackingStart.IsZero() || !got.UsageTrackingStart.Equal(got.CreatedAt) {
		t.Fatalf("UsageTrackingStart %v, want the creation date %v", got.UsageTrackingStart, got.CreatedAt)
	}
	// The next server (a restart) answers it through GetKeyLastUsage.
	env := newEnv(t, func(c *Config) { c.Store, c.RootKey = store, make([]byte, 32) })
	wantUsage(t, env.lastUsage(t, id), types.KeyLastUsageTrackingOperationGenerateDataKey, reqIDOf(gdk.ResultMetadata), got.CreatedAt)
}

// TestKeyUsageReplicas: two replicas sharing PostgreSQL, each with its own
// connection pool and memory. Each answers its own uses at once and the
// other's after that replica's flush; the later use wins whichever
// replica flushes last.
func TestKeyUsageReplicas(t *testing.T) {
	if testBackend != backendPostgres {
		t.Skip("PostgreSQL backend only")
	}
	a := newEnv(t, nil)
	b := newEnv(t, func(c *Config) { c.Store = openPostgres(t, &postgres.Config{URL: a.dbURL}) })
	ctx := context.Background()
	start := time.Now()
	key := a.createKey(t)
	enc, err := a.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := b.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil {
		t.Fatal(err)
	}
	wantUsage(t, a.lastUsage(t, key), types.KeyLastUsageTrackingOperationEncrypt, reqIDOf(enc.ResultMetadata), start)
	wantUsage(t, b.lastUsage(t, key), types.KeyLastUsageTrackingOperationDecrypt, reqIDOf(dec.ResultMetadata), start)
	// b (the later use) flushes first, a last: the store keeps b's.
	if err := b.srv.FlushKeyUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.srv.FlushKeyUsage(ctx); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, a.lastUsage(t, key), types.KeyLastUsageTrackingOperationDecrypt, reqIDOf(dec.ResultMetadata), start)
	// A third replica, started after both flushed, answers it too.
	c := newEnv(t, func(c *Config) { c.Store = openPostgres(t, &postgres.Config{URL: a.dbURL}) })
	wantUsage(t, c.lastUsage(t, key), types.KeyLastUsageTrackingOperationDecrypt, reqIDOf(dec.ResultMetadata), start)
}

// TestKeyUsageForgottenWhenKeyDestroyed: the deletion sweep drops a
// destroyed key's usage from memory (no entry kept for ever, no write
// retried for it).
func TestKeyUsageForgottenWhenKeyDestroyed(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	key := env.createKey(t)
	env.encrypt(t, key, []byte("x"), nil)
	if _, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(key), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	cfg := env.srv.cfg
	cfg.Clock = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	cfg.MaxClockSkew = 9 * 24 * time.Hour // the database's clock is not 8 days later
	later, err := NewServer(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	later.usage = env.srv.usage // the same process, days later
	if u := later.usage.last(key); u.Operation != "Encrypt" {
		t.Fatalf("usage before the sweep: %+v", u)
	}
	if n := later.sweepDeletions(ctx); n != 1 {
		t.Fatalf("sweep destroyed %d keys, want 1", n)
	}
	if u := later.usage.last(key); !u.Time.IsZero() {
		t.Fatalf("usage of a destroyed key kept: %+v", u)
	}
	if len(later.usage.takeDirty()) != 0 {
		t.Fatal("a destroyed key's usage is still to be written")
	}
}

// TestDestroyedKeyLeavesEveryReplica: a key destroyed by another replica's
// sweep leaves this replica's memory at its own next sweep: the unwrapped
// material, the parsed policy and the (already written) usage. Without it,
// a replica kept the material and usage of every key it had ever used that
// another replica destroyed, until it restarted: memory without bound over
// the store's churn, and key material outliving the key. A use still to be
// written is kept, for a key the sweep's listing may predate.
func TestDestroyedKeyLeavesEveryReplica(t *testing.T) {
	var bNow atomic.Pointer[time.Time]
	t0 := time.Now()
	bNow.Store(&t0)
	a := newEnv(t, nil)
	b := newEnv(t, func(c *Config) {
		c.Store = a.srv.cfg.Store // replicas sharing one store
		c.Clock = func() time.Time { return *bNow.Load() }
	})
	ctx := context.Background()
	key := a.createKey(t)
	b.encrypt(t, key, []byte("x"), nil)
	if err := b.srv.FlushKeyUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(key), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	cfg := a.srv.cfg
	cfg.Clock = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	cfg.MaxClockSkew = 9 * 24 * time.Hour // the database's clock is not 8 days later
	aLater, err := NewServer(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := aLater.sweepDeletions(ctx); n != 1 {
		t.Fatalf("replica a's sweep destroyed %d keys, want 1", n)
	}
	// A key used on b but not yet written: kept through b's sweep.
	fresh := a.createKey(t)
	b.encrypt(t, fresh, []byte("x"), nil)
	if _, ok := b.srv.materials.Load(key); !ok {
		t.Fatal("replica b has not cached the key's material: the test proves nothing")
	}
	// Retired materials are cached as ID/materialID.
	b.srv.materials.Store(key+"/retired", &material{})
	b.srv.materials.Store(fresh+"/retired", &material{})
	later := t0.Add(8 * 24 * time.Hour)
	bNow.Store(&later)
	if n := b.srv.sweepDeletions(ctx); n != 0 {
		t.Fatalf("replica b's sweep destroyed %d keys, want 0", n)
	}
	if _, ok := b.srv.materials.Load(key); ok {
		t.Error("replica b still holds the destroyed key's material after its sweep")
	}
	if _, ok := b.srv.policies.Load(key); ok {
		t.Error("replica b still holds the destroyed key's policy after its sweep")
	}
	if u := b.srv.usage.last(key); !u.Time.IsZero() {
		t.Errorf("replica b still holds the destroyed key's usage: %+v", u)
	}
	if u := b.srv.usage.last(fresh); u.Operation != "Encrypt" {
		t.Errorf("replica b lost a use not yet written: %+v", u)
	}
	if _, ok := b.srv.materials.Load(fresh); !ok {
		t.Error("replica b dropped a live key's material")
	}
	if _, ok := b.srv.materials.Load(key + "/retired"); ok {
		t.Error("replica b still holds the destroyed key's retired material")
	}
	if _, ok := b.srv.materials.Load(fresh + "/retired"); !ok {
		t.Error("replica b dropped a live key's retired material")
	}
}

// TestUsageTrackerForgetWritten: forgetWrittenExcept drops only written
// entries of keys not kept; a failed write of a dropped key's use (the
// flush took it before the sweep dropped it) is noted again, not lost.
func TestUsageTrackerForgetWritten(t *testing.T) {
	tr := newUsageTracker()
	at := time.Unix(1_700_000_000, 0)
	tr.note("written", "Encrypt", at, "r1")
	tr.note("kept", "Encrypt", at, "r2")
	taken := tr.takeDirty() // both written (as far as the tracker knows)
	tr.note("pending", "Decrypt", at, "r3")
	old := tr.entry("written")
	tr.forgetWrittenExcept(map[string]struct{}{"kept": {}})
	if !old.gone || !tr.last("written").Time.IsZero() {
		t.Fatal("a written entry of an absent key was not dropped")
	}
	if tr.last("kept").RequestID != "r2" || tr.last("pending").RequestID != "r3" {
		t.Fatal("a kept or pending entry was dropped")
	}
	// The write of "written" failed after all: noted again.
	tr.redirty("written", taken["written"])
	if got := tr.takeDirty(); got["written"].RequestID != "r1" || got["pending"].RequestID != "r3" || len(got) != 2 {
		t.Fatalf("after the failed write: %+v", got)
	}
	// A use noted through the dropped entry lands in the live one.
	tr.forgetWrittenExcept(nil)
	tr.note("written", "Sign", at.Add(time.Second), "r4")
	if u := tr.last("written"); u.RequestID != "r4" || old.last.RequestID == "r4" {
		t.Fatalf("a use after the drop: %+v", u)
	}
}

// TestUsageTrackerForgetRace: uses noted while flushes take them and sweeps
// drop written entries are never lost: each key's latest use is in the
// (simulated) store or still in memory.
func TestUsageTrackerForgetRace(t *testing.T) {
	tr := newUsageTracker()
	keys := []string{"a", "b", "c", "d"}
	stored := map[string]keystore.KeyUsage{}
	var latest [4]atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // flushes and sweeps
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for id, u := range tr.takeDirty() {
				if u.Time.After(stored[id].Time) {
					stored[id] = u
				}
			}
			tr.forgetWrittenExcept(nil)
		}
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 2000; i++ {
				n := int64(w*100000 + i)
				k := (i + w) % len(keys)
				tr.note(keys[k], "Encrypt", time.Unix(n, 0), "")
				for {
					cur := latest[k].Load()
					if n <= cur || latest[k].CompareAndSwap(cur, n) {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-done
	for k, id := range keys {
		got := max(stored[id].Time.Unix(), tr.last(id).Time.Unix())
		if got != latest[k].Load() {
			t.Errorf("key %s: latest use %d, store and memory have %d", id, latest[k].Load(), got)
		}
	}
}
