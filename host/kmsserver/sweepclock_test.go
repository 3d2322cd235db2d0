// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
)

// skewedReplica is a second replica on a's database whose clock runs ahead
// by ahead; its log is returned.
func skewedReplica(t *testing.T, a *testEnv, ahead time.Duration) (*testEnv, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	b := newEnv(t, func(c *Config) {
		c.Store = openPostgres(t, &postgres.Config{URL: a.dbURL})
		c.Clock = func() time.Time { return time.Now().Add(ahead) }
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	return b, logs
}

// TestSkewedReplicaDoesNotDestroyKeysEarly (skewed clock): replica A
// schedules a key's deletion in 30 days. Replica B, whose clock is 31 days
// ahead (it cannot serve a request, SigV4 refuses every X-Amz-Date), runs
// its deletion sweep: it must destroy nothing, since its clock disagrees
// with the database's, and say so in its log and metrics. The key stays
// pending deletion and a correct replica can still cancel its deletion.
func TestSkewedReplicaDoesNotDestroyKeysEarly(t *testing.T) {
	if testBackend != backendPostgres {
		t.Skip("PostgreSQL backend only")
	}
	a := newEnv(t, nil)
	ctx := context.Background()
	id := a.createKey(t)
	if _, err := a.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(30)}); err != nil {
		t.Fatal(err)
	}
	b, logs := skewedReplica(t, a, 31*24*time.Hour)
	if n := b.srv.sweepDeletions(ctx); n != 0 {
		t.Errorf("the skewed replica's sweep destroyed %d key(s) 30 days before the deletion date", n)
	}
	if v := metricValue(t, b.srv, "kms_key_deletions_total", resultClockSkew); v != 1 {
		t.Errorf(`kms_key_deletions_total{result="clock_skew"} = %v, want 1`, v)
	}
	if !strings.Contains(logs.String(), "key deletion sweep skipped: this replica's clock disagrees with the key store's") {
		t.Errorf("no log line for the skipped sweep: %s", logs.String())
	}
	if _, err := a.client.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: aws.String(id)}); err != nil {
		t.Fatalf("CancelKeyDeletion on a correct replica after the skewed replica's sweep: %v", err)
	}
}

// TestSkewedReplicaDoesNotRotateEarly (skewed clock): a key rotates every
// 365 days. A replica whose clock is a year and a day ahead must neither
// rotate it nor move its next rotation date (two years out, so that the
// correct replicas would not rotate it when it is really due).
func TestSkewedReplicaDoesNotRotateEarly(t *testing.T) {
	if testBackend != backendPostgres {
		t.Skip("PostgreSQL backend only")
	}
	a := newEnv(t, nil)
	ctx := context.Background()
	id := a.createKey(t)
	if _, err := a.client.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(365)}); err != nil {
		t.Fatal(err)
	}
	before, err := a.client.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	b, logs := skewedReplica(t, a, 366*24*time.Hour)
	if n := b.srv.sweepRotations(ctx, b.srv.cfg.Clock()); n != 0 {
		t.Errorf("a replica a year ahead rotated %d key(s) 365 days early", n)
	}
	if v := metricValue(t, b.srv, "kms_key_rotations_total", resultClockSkew); v != 1 {
		t.Errorf(`kms_key_rotations_total{result="clock_skew"} = %v, want 1`, v)
	}
	if !strings.Contains(logs.String(), "key rotation sweep skipped: this replica's clock disagrees with the key store's") {
		t.Errorf("no log line for the skipped sweep: %s", logs.String())
	}
	after, err := a.client.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if !after.NextRotationDate.Equal(*before.NextRotationDate) {
		t.Fatalf("next rotation moved from %v to %v", *before.NextRotationDate, *after.NextRotationDate)
	}
}

// TestSweepRunsWithinClockSkew: a replica whose clock is ahead of the
// database's by less than MaxClockSkew sweeps as usual (the check refuses
// disagreement, not every replica): a key due by its clock is destroyed.
func TestSweepRunsWithinClockSkew(t *testing.T) {
	if testBackend != backendPostgres {
		t.Skip("PostgreSQL backend only")
	}
	a := newEnv(t, nil)
	ctx := context.Background()
	id := a.createKey(t)
	if _, err := a.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	b := newEnv(t, func(c *Config) {
		c.Store = openPostgres(t, &postgres.Config{URL: a.dbURL})
		c.Clock = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
		c.MaxClockSkew = 9 * 24 * time.Hour
	})
	if n := b.srv.sweepDeletions(ctx); n != 1 {
		t.Fatalf("sweep within the clock skew destroyed %d keys, want 1", n)
	}
	if v := metricValue(t, b.srv, "kms_key_deletions_total", resultClockSkew); v != 0 {
		t.Fatalf(`kms_key_deletions_total{result="clock_skew"} = %v, want 0`, v)
	}
}

// clockStore gives a store the shared clock now.
type clockStore struct {
	keystore.Store
	now func(ctx context.Context) (time.Time, error)
}

func (s *clockStore) Now(ctx context.Context) (time.Time, error) { return s.now(ctx) }

// TestSweepSkippedWhenStoreClockUnreadable: when the store's clock cannot
// be read (an outage), the sweeps destroy and rotate nothing and count a
// failure, with a log line that says why.
func TestSweepSkippedWhenStoreClockUnreadable(t *testing.T) {
	cs := &clockStore{Store: openDir(t, t.TempDir())}
	cs.now = func(context.Context) (time.Time, error) { return time.Now(), nil }
	logs := &syncBuffer{}
	var ahead atomic.Int64
	env := newEnv(t, func(c *Config) {
		c.Store = cs
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.Clock = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
		c.MaxClockSkew = 92 * 24 * time.Hour // requests are signed with the real clock
	})
	ctx := context.Background()
	del, rot := env.createKey(t), env.createKey(t)
	if _, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(del), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(rot), RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	ahead.Store(int64(91 * 24 * time.Hour)) // both keys are due by the replica's clock
	cs.now = func(context.Context) (time.Time, error) { return time.Time{}, keystore.ErrUnavailable }
	if n := env.srv.sweepDeletions(ctx); n != 0 {
		t.Errorf("sweep with the store's clock unreadable destroyed %d keys", n)
	}
	if n := env.srv.sweepRotations(ctx, env.srv.cfg.Clock()); n != 0 {
		t.Errorf("sweep with the store's clock unreadable rotated %d keys", n)
	}
	if d, r := metricValue(t, env.srv, "kms_key_deletions_total", "failed"), metricValue(t, env.srv, "kms_key_rotations_total", "failed"); d != 1 || r != 1 {
		t.Errorf(`failed sweeps counted: deletions %v, rotations %v; want 1 and 1`, d, r)
	}
	for _, want := range []string{"key deletion sweep: cannot read the key store's clock", "key rotation sweep: cannot read the key store's clock"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no log line %q: %s", want, logs.String())
		}
	}
	// The same store, its clock readable and 91 days on: both sweeps act.
	cs.now = func(context.Context) (time.Time, error) { return env.srv.cfg.Clock(), nil }
	if n := env.srv.sweepDeletions(ctx); n != 1 {
		t.Errorf("sweep with the clocks agreeing destroyed %d keys, want 1", n)
	}
	if n := env.srv.sweepRotations(ctx, env.srv.cfg.Clock()); n != 1 {
		t.Errorf("sweep with the clocks agreeing rotated %d keys, want 1", n)
	}
}

// TestSweepClockRoundTripByInjectedClock: the time the store takes to
// read its clock widens the tolerance, and is measured with the server's
// clock (Config.Clock), not the wall clock: a store whose answer took 10
// minutes by the server's clock may be up to MaxClockSkew + 10 minutes
// ahead; one that took a minute may not be MaxClockSkew + 5 minutes ahead.
func TestSweepClockRoundTripByInjectedClock(t *testing.T) {
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var now atomic.Pointer[time.Time]
	now.Store(&base)
	clock := func() time.Time { return *now.Load() }
	cs := &clockStore{Store: openDir(t, t.TempDir())}
	env := newEnv(t, func(c *Config) {
		c.Store = cs
		c.Clock = clock
		c.MaxClockSkew = time.Hour
	})
	ctx := context.Background()
	for _, tc := range []struct {
		roundTrip, ahead time.Duration
		agrees           bool
	}{
		{0, time.Hour, true},
		{0, time.Hour + time.Second, false},
		{10 * time.Minute, time.Hour + 5*time.Minute, true},
		{10 * time.Minute, -(time.Hour + 5*time.Minute), true},
		{time.Minute, time.Hour + 5*time.Minute, false},
		{10 * time.Minute, time.Hour + 11*time.Minute, false},
	} {
		start := clock()
		cs.now = func(context.Context) (time.Time, error) {
			end := start.Add(tc.roundTrip) // the store answers tc.roundTrip later
			now.Store(&end)
			return start.Add(tc.ahead), nil
		}
		if got := env.srv.sweepClockAgrees(ctx, start, "key deletion", env.srv.metrics.deletions); got != tc.agrees {
			t.Errorf("store %v ahead, round trip %v: sweepClockAgrees = %v, want %v", tc.ahead, tc.roundTrip, got, tc.agrees)
		}
	}
	if v := metricValue(t, env.srv, "kms_key_deletions_total", resultClockSkew); v != 3 {
		t.Errorf(`kms_key_deletions_total{result="clock_skew"} = %v, want 3`, v)
	}
}
