// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
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
