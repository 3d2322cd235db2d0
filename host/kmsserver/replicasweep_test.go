// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
)

// TestSweepCountsOnlyItsOwnDestruction: replicas A and B sweep together;
// A destroys the key after B listed it, and B's DeleteKey finds no row.
// The key was destroyed once: one replica counts it in
// kms_key_deletions_total{result="destroyed"} and writes the DeleteKey
// audit line, not both. B still drops the key from its memory.
func TestSweepCountsOnlyItsOwnDestruction(t *testing.T) {
	if testBackend != backendPostgres {
		t.Skip("PostgreSQL backend only")
	}
	ctx := context.Background()
	later := func(c *Config) {
		c.Clock = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
		c.MaxClockSkew = 30 * 24 * time.Hour // the database's clock is not 8 days later
	}
	a := newEnv(t, nil)
	id := a.createKey(t)
	if _, err := a.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	aLater := newEnv(t, func(c *Config) { c.Store = openPostgres(t, &postgres.Config{URL: a.dbURL}); later(c) })
	hs := &listHookStore{Store: openPostgres(t, &postgres.Config{URL: a.dbURL})}
	b := newEnv(t, func(c *Config) { c.Store = hs; later(c) })
	b.srv.materials.Store(id, &material{}) // as if B had used the key
	var na int
	hs.afterList = func() { na = aLater.srv.sweepDeletions(ctx) }
	nb := b.srv.sweepDeletions(ctx)
	if na != 1 || nb != 0 {
		t.Errorf("one key destroyed, by replica A; A counts %d, B counts %d", na, nb)
	}
	for _, r := range []struct {
		name string
		env  *testEnv
		want float64
	}{{"A", aLater, 1}, {"B", b, 0}} {
		if v := metricValue(t, r.env.srv, "kms_key_deletions_total", "destroyed"); v != r.want {
			t.Errorf(`replica %s: kms_key_deletions_total{result="destroyed"} = %v, want %v`, r.name, v, r.want)
		}
		if v := metricValue(t, r.env.srv, "kms_key_deletions_total", "failed"); v != 0 {
			t.Errorf(`replica %s: kms_key_deletions_total{result="failed"} = %v, want 0`, r.name, v)
		}
	}
	if n := strings.Count(b.audit.String(), `"DeleteKey"`); n != 0 {
		t.Errorf("replica B wrote %d DeleteKey audit line(s) for a key replica A destroyed", n)
	}
	if n := strings.Count(aLater.audit.String(), `"DeleteKey"`); n != 1 {
		t.Errorf("replica A wrote %d DeleteKey audit line(s), want 1", n)
	}
	if _, ok := b.srv.materials.Load(id); ok {
		t.Error("replica B still holds the destroyed key's material")
	}
}
