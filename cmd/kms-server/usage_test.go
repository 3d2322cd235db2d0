// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
)

// TestKeyUsageSurvivesSIGTERM: the process writes the keys' last usage to
// the store when SIGTERM stops it (well before its first periodic flush),
// and the restarted process answers GetKeyLastUsage with it.
func TestKeyUsageSurvivesSIGTERM(t *testing.T) {
	st, err := kmsconfig.WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := startChild(t, st.ConfigPath)
	defer c.kill()
	client := clientFor(st, c.addr)
	ck, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	gdk, err := client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	reqID, _ := awsmiddleware.GetRequestIDMetadata(gdk.ResultMetadata)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatal("kms-server did not stop after SIGTERM")
	}
	c2 := startChild(t, st.ConfigPath)
	defer c2.kill()
	out, err := clientFor(st, c2.addr).GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	u := out.KeyLastUsage
	if u == nil || u.Operation != types.KeyLastUsageTrackingOperationGenerateDataKey || u.KmsRequestId == nil || *u.KmsRequestId != reqID {
		t.Fatalf("after a SIGTERM and a restart: KeyLastUsage %+v, want the GenerateDataKey of request %s", u, reqID)
	}
	if out.TrackingStartDate == nil || !out.TrackingStartDate.Equal(*ck.KeyMetadata.CreationDate) {
		t.Errorf("TrackingStartDate %v, want the key's creation %v", out.TrackingStartDate, ck.KeyMetadata.CreationDate)
	}
}

// TestKeyUsageFlushIntervalFromFile: key_usage_flush_interval in the file
// sets how often the process writes the keys' last usage: with 1s, a use
// is in the store (the key's file) well within the default 1-minute
// interval, and survives a crash (SIGKILL, no stop flush).
func TestKeyUsageFlushIntervalFromFile(t *testing.T) {
	st, err := kmsconfig.WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(st.ConfigPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("key_usage_flush_interval: 1s\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ctx := context.Background()
	c := startChild(t, st.ConfigPath)
	defer c.kill()
	client := clientFor(st, c.addr)
	ck, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	if _, err := client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256}); err != nil {
		t.Fatal(err)
	}
	// The use reaches the key's file at the next flush: within 1 s, or
	// within a minute with the default interval. 30 s is far beyond a
	// loaded machine's delay of a 1 s flush, and still short of the default.
	keyFile := filepath.Join(st.KeyStoreDir, "keys", id+".json")
	start := time.Now()
	for {
		b, err := os.ReadFile(keyFile)
		if err == nil && strings.Contains(string(b), `"last_usage"`) {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the use is not in %s %v after it, with key_usage_flush_interval 1s (read: %v)", keyFile, time.Since(start), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.kill()
	c2 := startChild(t, st.ConfigPath)
	defer c2.kill()
	out, err := clientFor(st, c2.addr).GetKeyLastUsage(ctx, &awskms.GetKeyLastUsageInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if u := out.KeyLastUsage; u == nil || u.Operation != types.KeyLastUsageTrackingOperationGenerateDataKey {
		t.Fatalf("after a crash once the use was flushed, with key_usage_flush_interval 1s: KeyLastUsage %+v, want the GenerateDataKey", u)
	}
}
