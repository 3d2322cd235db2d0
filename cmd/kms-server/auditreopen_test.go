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
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
)

// TestSIGHUPReopensAuditLog: logrotate renames audit.jsonl and sends
// SIGHUP; kms-server then writes its lines to a new audit.jsonl (mode
// 0600), none to the renamed file.
func TestSIGHUPReopensAuditLog(t *testing.T) {
	st, err := kmsconfig.WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(filepath.Dir(st.ConfigPath), "audit.jsonl")
	c := startChild(t, st.ConfigPath)
	defer c.kill()
	client := clientFor(st, c.addr)
	ctx := context.Background()
	request := func(desc string) {
		t.Helper()
		if _, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(desc)}); err == nil {
			t.Fatal("DescribeKey of a key that does not exist succeeded")
		}
	}
	request("alias/before-rotation")
	if err := os.Rename(audit, audit+".1"); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for {
		if _, err := os.Stat(audit); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no new audit.jsonl after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	request("alias/after-rotation")
	old, _ := os.ReadFile(audit + ".1")
	cur, _ := os.ReadFile(audit)
	if !strings.Contains(string(old), "before-rotation") || strings.Contains(string(old), "after-rotation") {
		t.Fatalf("rotated file: %q", old)
	}
	if !strings.Contains(string(cur), "after-rotation") || strings.Contains(string(cur), "before-rotation") {
		t.Fatalf("new audit.jsonl: %q", cur)
	}
	if fi, err := os.Stat(audit); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new audit.jsonl: %v %v, want mode 0600", fi.Mode(), err)
	}
}
