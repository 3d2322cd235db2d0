// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"net/http/httptrace"
	"sync/atomic"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestClientKeepsConnection: consecutive library calls share one
// connection to the key service. Without internal/sdkhttp between the SDK
// and the transport (aws/aws-sdk-go-v2#1825, #2737: see that package's
// documentation), a few calls in ten opened a new connection (over TLS
// through the host's proxy, a new handshake each).
func TestClientKeepsConnection(t *testing.T) {
	env := startKMSServer(t, "tcp")
	ck, err := env.admin(t).CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	c := env.agentFor(t, image("bench"))
	var fresh, reused atomic.Int32
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if i.Reused {
			reused.Add(1)
		} else {
			fresh.Add(1)
		}
	}})
	in := &awskms.GenerateDataKeyInput{KeyId: ck.KeyMetadata.Arn, KeySpec: "AES_256"}
	for range 60 {
		if _, err := c.GenerateDataKey(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GenerateRandom(ctx, 32); err != nil {
			t.Fatal(err)
		}
	}
	if fresh.Load() != 1 || reused.Load() != 119 {
		t.Fatalf("120 calls: %d new connections, %d reused; want 1 and 119", fresh.Load(), reused.Load())
	}
}
