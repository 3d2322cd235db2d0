// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
)

// TestCrashUpdateAlias kills the server with SIGKILL at random moments
// while clients move one alias between two keys with UpdateAlias; after
// every restart the alias exists and names one of the two keys (never
// none, never a third), and after the last one it names the key of the
// last acknowledged move when no move was in flight at the kill.
func TestCrashUpdateAlias(t *testing.T) {
	dur := 4 * time.Second
	if testing.Short() {
		dur = 2 * time.Second
	}
	st, err := kmsconfig.WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := startChild(t, st.ConfigPath)
	client := clientFor(st, c.addr)
	var keys [2]string
	for i := range keys {
		out, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = *out.KeyMetadata.KeyId
	}
	if _, err := client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/moving"), TargetKeyId: aws.String(keys[0])}); err != nil {
		t.Fatal(err)
	}
	c.kill()

	kills, moves := 0, 0
	deadline := time.Now().Add(dur)
	var mu sync.Mutex
	for time.Now().Before(deadline) || kills < 3 {
		crashRound(t, st, 3, 30*time.Millisecond, 300*time.Millisecond, func(client *awskms.Client) {
			dk, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/moving")})
			if err != nil {
				t.Fatalf("after %d kills the alias does not resolve: %v", kills, err)
			}
			if got := *dk.KeyMetadata.KeyId; got != keys[0] && got != keys[1] {
				t.Fatalf("after %d kills the alias names %s", kills, got)
			}
		}, func() int { mu.Lock(); defer mu.Unlock(); return moves }, func(cctx context.Context, client *awskms.Client, w int) {
			for i := 0; cctx.Err() == nil; i++ {
				if _, err := client.UpdateAlias(cctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/moving"),
					TargetKeyId: aws.String(keys[(i+w)%2])}); err == nil {
					mu.Lock()
					moves++
					mu.Unlock()
				}
			}
		})
		kills++
	}
	// Quiet: one acknowledged move, then a kill; the move holds.
	c = startChild(t, st.ConfigPath)
	client = clientFor(st, c.addr)
	if _, err := client.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/moving"), TargetKeyId: aws.String(keys[1])}); err != nil {
		t.Fatal(err)
	}
	c.kill()
	c = startChild(t, st.ConfigPath)
	defer c.kill()
	client = clientFor(st, c.addr)
	dk, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/moving")})
	if err != nil || *dk.KeyMetadata.KeyId != keys[1] {
		t.Fatalf("the acknowledged UpdateAlias before the kill was lost: %v", err)
	}
	if moves < kills {
		t.Fatalf("crash test exercised too little: %d kills, %d acknowledged moves", kills, moves)
	}
	t.Logf("%d kills, %d acknowledged moves", kills, moves)
}

// TestCrashRotation kills the server with SIGKILL at random moments while
// clients encrypt and rotate keys on demand; after a restart every
// acknowledged ciphertext decrypts (whichever material it names) and every
// acknowledged rotation is listed by ListKeyRotations.
func TestCrashRotation(t *testing.T) {
	dur := 4 * time.Second
	if testing.Short() {
		dur = 2 * time.Second
	}
	st, err := kmsconfig.WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type blob struct {
		key  string
		pt   []byte
		blob []byte
	}
	var mu sync.Mutex
	var blobs []blob
	rotations := map[string]int{} // acknowledged rotations per key
	kills := 0
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) || kills < 3 {
		// A round's progress grows when both ciphertexts and rotations
		// have been acknowledged in it.
		progress := func() int {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, r := range rotations {
				n += r
			}
			return min(len(blobs), n)
		}
		crashRound(t, st, 3, 30*time.Millisecond, 300*time.Millisecond, nil, progress, func(cctx context.Context, client *awskms.Client, w int) {
			ck, err := client.CreateKey(cctx, &awskms.CreateKeyInput{})
			if err != nil {
				return
			}
			id := *ck.KeyMetadata.KeyId
			for i := 0; cctx.Err() == nil && i < 24; i++ {
				pt := []byte{byte(w), byte(i)}
				enc, err := client.Encrypt(cctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: pt})
				if err == nil {
					mu.Lock()
					blobs = append(blobs, blob{id, pt, enc.CiphertextBlob})
					mu.Unlock()
				}
				if _, err := client.RotateKeyOnDemand(cctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err == nil {
					mu.Lock()
					rotations[id]++
					mu.Unlock()
				}
			}
		})
		kills++
	}
	c := startChild(t, st.ConfigPath)
	defer c.kill()
	client := clientFor(st, c.addr)
	for _, b := range blobs {
		out, err := client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: b.blob})
		if err != nil || string(out.Plaintext) != string(b.pt) {
			t.Fatalf("acknowledged ciphertext under %s does not decrypt: %v", b.key, err)
		}
	}
	total := 0
	for id, n := range rotations {
		listed := 0
		in := &awskms.ListKeyRotationsInput{KeyId: aws.String(id), Limit: aws.Int32(10)}
		for {
			lr, err := client.ListKeyRotations(ctx, in)
			if err != nil {
				t.Fatalf("key %s: %d acknowledged rotations, ListKeyRotations: %v", id, n, err)
			}
			listed += len(lr.Rotations)
			if !lr.Truncated {
				break
			}
			in.Marker = lr.NextMarker
		}
		if listed < n {
			t.Fatalf("key %s: %d acknowledged rotations, %d listed", id, n, listed)
		}
		total += n
	}
	if len(blobs) < kills || total < kills {
		t.Fatalf("crash test exercised too little: %d ciphertexts, %d rotations", len(blobs), total)
	}
	t.Logf("%d kills, %d acknowledged ciphertexts and %d rotations verified", kills, len(blobs), total)
}
